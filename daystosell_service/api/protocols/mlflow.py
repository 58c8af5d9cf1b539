"""MLflow's model scoring protocol: POST /invocations, and GET /ping, /health and /version.

A JSON body holds exactly one of ``dataframe_split`` ({columns, data[, index]}), ``dataframe_records`` (a
list of records), ``instances`` or ``inputs`` (each a list of records or a mapping of columns); the answer
is ``{"predictions": [days, ...]}`` in the order of the rows. Errors are MLflow's
``{"error_code": ..., "message": ...}``, and a model that refuses valid adverts is a 400 as in MLflow.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi import ResponseSpec
from litestar.params import Body
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from daystosell_service.api.protocols.columns import (
    Cell,
    InputError,
    StrictBodyDTO,
    adverts_from_columns,
    adverts_from_records,
    error_status,
    protocol_exception_handlers,
    reject_empty_body,
)
from daystosell_service.api.schemas import Advert
from daystosell_service.api.scorer import Scorer
from daystosell_service.api.state import ServiceState

JSON = "application/json"
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# MLflow's error codes for the statuses this service answers with; anything else is its INTERNAL_ERROR.
ERROR_CODES = {
    HTTP_400_BAD_REQUEST: "BAD_REQUEST",
    HTTP_404_NOT_FOUND: "ENDPOINT_NOT_FOUND",
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: "RESOURCE_EXHAUSTED",
    HTTP_415_UNSUPPORTED_MEDIA_TYPE: "BAD_REQUEST",
    HTTP_503_SERVICE_UNAVAILABLE: "TEMPORARILY_UNAVAILABLE",
}

Records = list[dict[str, Cell]]
Columns = dict[str, list[Cell]]


class DataframeSplit(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """pandas' ``orient="split"``: what MLflow's client sends for a DataFrame."""

    columns: list[str]
    data: list[list[Cell]]
    index: list[int | str] | None = None


class InvocationRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    dataframe_split: DataframeSplit | None = None
    dataframe_records: Records | None = None
    instances: Records | Columns | None = None
    inputs: Records | Columns | None = None
    # The model takes no parameters: only an empty mapping is accepted, for clients that always send one.
    params: dict[str, str | int | float | bool] | None = None


class Predictions(msgspec.Struct, frozen=True):
    predictions: list[float]


class MlflowError(msgspec.Struct, frozen=True):
    error_code: str
    message: str


def mlflow_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[MlflowError]:
    status, message = error_status(request, exc)
    # MLflow answers a model's refusal of its input with a 400 BAD_REQUEST; it has no 422.
    if status == HTTP_422_UNPROCESSABLE_ENTITY:
        status = HTTP_400_BAD_REQUEST
    return Response(MlflowError(error_code=ERROR_CODES.get(status, "INTERNAL_ERROR"), message=message),
                    status_code=status)


def check_content_type(request: Request[Any, Any, Any]) -> None:
    # MLflow also takes CSV and Parquet; this service takes JSON only, and says so rather than guess.
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    charset = parameters.strip().lower().removeprefix("charset=") if parameters.strip() else "utf-8"
    if media_type.strip().lower() != JSON or charset not in ("utf-8", "utf8"):
        raise ClientException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type must be {JSON} (UTF-8), got {request.headers.get('content-type')!r}",
        )


def adverts_from_request(body: InvocationRequest) -> list[Advert]:
    given = [name for name in FORMATS if getattr(body, name) is not None]
    if len(given) != 1:
        raise InputError(None, f"the body must hold exactly one of {list(FORMATS)}, it holds {given}")
    if body.params:
        raise InputError(f"params.{next(iter(body.params))}", "the model takes no params")
    if body.dataframe_split is not None:
        split = body.dataframe_split
        for row, values in enumerate(split.data):
            if len(values) != len(split.columns):
                raise InputError("dataframe_split.data", f"{len(values)} values for {len(split.columns)} columns",
                                 row)
        if split.index is not None and len(split.index) != len(split.data):
            raise InputError("dataframe_split.index", f"{len(split.index)} labels for {len(split.data)} rows")
        return adverts_from_records([dict(zip(split.columns, values, strict=True)) for values in split.data])
    data = body.dataframe_records if body.dataframe_records is not None else body.instances or body.inputs or []
    return adverts_from_columns(data) if isinstance(data, dict) else adverts_from_records(data)


class InvocationRequestDTO(StrictBodyDTO[InvocationRequest]):
    pass


async def check_body(request: Request[Any, Any, Any]) -> None:
    check_content_type(request)
    await reject_empty_body(request)


ERROR = ResponseSpec(MlflowError, description="MLflow's error: its error code and a message")
NOT_READY = ResponseSpec(MlflowError, description="The model is not loaded yet (TEMPORARILY_UNAVAILABLE)")


class MlflowController(Controller):
    path = "/"
    tags = ("mlflow scoring protocol",)
    exception_handlers = protocol_exception_handlers(mlflow_error_handler)

    @get(
        ["/ping", "/health"],
        summary="MLflow health check",
        media_type=MediaType.TEXT,
        responses={503: ResponseSpec(str, media_type=MediaType.TEXT, description="The model is not loaded yet")},
    )
    async def ping(self, service: NamedDependency[ServiceState]) -> Response[str]:
        # MLflow's body is a bare newline; its status alone tells whether the model is loaded.
        return Response("\n", status_code=HTTP_200_OK if service.ready else HTTP_503_SERVICE_UNAVAILABLE,
                        media_type=MediaType.TEXT)

    @get("/version", summary="MLflow server version", media_type=MediaType.TEXT, responses={503: NOT_READY})
    async def version(self, scorer: NamedDependency[Scorer]) -> str:
        # MLflow answers with its own version; this service's meaningful version is the model's.
        return scorer.model_version

    @post(
        "/invocations",
        dto=InvocationRequestDTO,
        return_dto=None,
        status_code=HTTP_200_OK,
        before_request=check_body,
        summary="MLflow scoring",
        description="Exactly one of dataframe_split, dataframe_records, instances or inputs; one prediction per row.",
        responses={400: ERROR, 413: ERROR, 415: ERROR, 503: NOT_READY},
    )
    async def invocations(
        self, data: Annotated[InvocationRequest, Body()], scorer: NamedDependency[Scorer]
    ) -> Predictions:
        return Predictions(predictions=scorer.predict(adverts_from_request(data)))
