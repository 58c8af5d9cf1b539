"""Other serving protocols for the same model: Open Inference Protocol V2, MLflow scoring, MLeap's LeapFrame.

Each answers in its own wire format and error shape, and turns its body into adverts through ``columns``, so
that every protocol holds adverts to the same rules as the native API.
"""

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from daystosell_service.api.protocols.leapframe import LeapFrameController, leapframe_error_handler
from daystosell_service.api.protocols.mlflow import MlflowController, mlflow_error_handler
from daystosell_service.api.protocols.oip import OipController, oip_error_handler
from daystosell_service.api.schemas import ErrorResponse

__all__ = ["LeapFrameController", "MlflowController", "OipController", "method_not_allowed_handler"]

_MLFLOW_PATHS = frozenset({"/invocations", "/ping", "/health", "/version"})


def method_not_allowed_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """A 405 in the shape of the protocol the path belongs to (Litestar's router raises it before any
    controller, so the controllers' own handlers never see it), or the native API's shape."""
    path = request.url.path.rstrip("/") or "/"
    response: Response[Any]
    if path == "/v2" or path.startswith("/v2/"):
        response = oip_error_handler(request, exc)
    elif path in _MLFLOW_PATHS:
        response = mlflow_error_handler(request, exc)
    elif path.startswith("/models/"):
        response = leapframe_error_handler(request, exc)
    else:
        response = Response(ErrorResponse(status_code=exc.status_code, detail=exc.detail),
                            status_code=exc.status_code)
    response.headers.update(exc.headers or {})  # Allow: the methods the path does take
    return response
