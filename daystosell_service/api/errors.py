"""Turning bad requests into 400s that name the offending field, and unexpected failures into logged 500s."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import ClientException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from daystosell_service.api.schemas import ErrorResponse, FieldError

log = logging.getLogger("daystosell_service.api")

T = TypeVar("T")

VALIDATION_FAILED = "Validation failed"
ROOT = "$"

# msgspec appends the location of a failure to its message as " - at `$.adverts[0].mileage`".
_AT = " - at `$"
_MISSING = "Object missing required field `"
_UNKNOWN = "Object contains unknown field `"


def field_error(msgspec_message: str) -> FieldError:
    """Split a msgspec error message into the field path it is about and what is wrong there."""
    message, at, path = msgspec_message.rpartition(_AT)
    if at:
        path = path.removesuffix("`")
    else:
        message, path = msgspec_message, ""
    # For a missing or unknown field msgspec points at the enclosing object; name the field itself.
    for prefix in (_MISSING, _UNKNOWN):
        if message.startswith(prefix) and message.endswith("`"):
            path = f"{path}.{message[len(prefix) : -1]}"
    return FieldError(field=path.removeprefix(".") or ROOT, message=message)


def decode_json_body(body: bytes, body_type: type[T]) -> T:
    """Decode a request body strictly: a number sent as a string is an error, not silently converted."""
    try:
        return msgspec.json.decode(body, type=body_type)
    except msgspec.ValidationError as exc:
        error = field_error(str(exc))
        raise ValidationException(detail=VALIDATION_FAILED, extra=[msgspec.structs.asdict(error)]) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec reports invalid UTF-8 as UnicodeDecodeError, which must be a 400 like any other bad JSON.
        raise ClientException(detail=f"Malformed JSON: {exc}") from exc


def validation_error_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorResponse]:
    """Answer every validation failure, ours or Litestar's own, with ``errors``: [{field, message}]."""
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                FieldError(
                    field=str(item.get("field") or item.get("key") or ROOT),
                    message=str(item.get("message", "")),
                )
            )
    body = ErrorResponse(status_code=exc.status_code, detail=VALIDATION_FAILED, errors=errors)
    return Response(body, status_code=exc.status_code)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    """Log what went wrong, with the traceback, and tell the caller no more than that it was our fault."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = ErrorResponse(status_code=HTTP_500_INTERNAL_SERVER_ERROR, detail="Internal Server Error")
    return Response(body, status_code=HTTP_500_INTERNAL_SERVER_ERROR)
