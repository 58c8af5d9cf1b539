"""What every protocol shares: named columns or records in, validated adverts out; strict JSON bodies; errors.

The rules are the Advert's (schemas.py): each protocol only reshapes its body into one mapping per advert, so
an advert the native API rejects is rejected here too, with the column and row it failed at. The protocols
send every number as a double, so a whole-number double is taken for an integer field such as a year.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from daystosell_service.api import bodies
from daystosell_service.api.errors import ROOT, field_error
from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST, Advert, model_feature_types
from daystosell_service.api.scorer import UnscorableAdvertError

log = logging.getLogger("daystosell_service.api")

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

# A value as a body may hold it: any JSON scalar. Which is wrong where is the Advert's to say, so that the
# error names the column and row rather than a position in the body.
Cell = str | int | float | bool | None

# The name the OIP and LeapFrame paths know the model by; any other name is that protocol's 404.
MODEL_NAME = "daystosell"
# Not a model input, but an advert field: a column of it is accepted, and echoed where the protocol can.
ADVERT_ID = "advert_id"


class InputError(ValueError):
    """A body that does not describe valid adverts: which field or column (and row, if one) and what is wrong.

    Each protocol words the place in its own terms ("input 'mileage', element 3"), hence ``describe``.
    """

    def __init__(self, field: str | None, message: str, row: int | None = None) -> None:
        self.field = field
        self.row = row
        self.message = message
        super().__init__(self.describe())

    def describe(self, field_word: str = "column", row_word: str = "row") -> str:
        where = []
        if self.field is not None:
            where.append(f"{field_word} {self.field!r}")
        if self.row is not None:
            where.append(f"{row_word} {self.row}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _int_fields() -> frozenset[str]:
    info = msgspec.inspect.type_info(Advert)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(
        field.name
        for field in info.fields
        if isinstance(field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type,
                      msgspec.inspect.IntType)
    )


# Model input -> "string" or "double", and the inputs an Advert holds as integers.
FEATURE_TYPES: dict[str, str] = model_feature_types()
_INT_FIELDS = _int_fields()
ACCEPTED_COLUMNS = frozenset(FEATURE_TYPES) | {ADVERT_ID}


def check_batch_size(rows: int) -> None:
    if rows < 1:
        raise InputError(None, "the request holds no rows: send at least one advert")
    if rows > MAX_ADVERTS_PER_REQUEST:
        raise InputError(None, f"the request holds {rows} rows, more than the {MAX_ADVERTS_PER_REQUEST} allowed")


def check_columns(columns: Sequence[str], row: int | None = None) -> None:
    """Every model input present, each once, and nothing the model does not know."""
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InputError(column, "the column is given more than once", row)
        seen.add(column)
        if column not in ACCEPTED_COLUMNS:
            raise InputError(column, f"unknown column: the model's inputs are {sorted(FEATURE_TYPES)}", row)
    missing = [c for c in FEATURE_TYPES if c not in seen]
    if missing:
        raise InputError(missing[0], f"missing column: every one of {sorted(FEATURE_TYPES)} is required", row)


def advert_from_record(record: Mapping[str, Any], row: int) -> Advert:
    """One advert, held to the Advert's constraints; a whole-number double is taken for an integer."""
    values = {
        name: int(value) if name in _INT_FIELDS and isinstance(value, float) and value.is_integer() else value
        for name, value in record.items()
    }
    try:
        return msgspec.convert(values, Advert, strict=True)
    except msgspec.ValidationError as exc:
        error = field_error(str(exc))
        raise InputError(None if error.field == ROOT else error.field, error.message, row) from exc


def adverts_from_records(records: Sequence[Mapping[str, Any]]) -> list[Advert]:
    check_batch_size(len(records))
    for row, record in enumerate(records):
        check_columns(list(record), row)
    return [advert_from_record(record, row) for row, record in enumerate(records)]


def adverts_from_columns(columns: Mapping[str, Sequence[Any]]) -> list[Advert]:
    """Adverts from equally long named columns, such as a protocol's tensors or a frame's fields."""
    check_columns(list(columns))
    lengths = {name: len(values) for name, values in columns.items()}
    rows = next(iter(lengths.values()), 0)
    for name, length in lengths.items():
        if length != rows:
            raise InputError(name, f"the column has {length} values where the others have {rows}")
    check_batch_size(rows)
    names = list(columns)
    return [
        advert_from_record(dict(zip(names, values, strict=True)), row)
        for row, values in enumerate(zip(*columns.values(), strict=True))
    ]


def decode_json(body: bytes, body_type: type[T]) -> T:
    """``body`` decoded strictly into ``body_type``: a number sent as a string is an error, not converted."""
    if not body:
        raise InputError(None, "malformed JSON: the request body is empty")
    try:
        return msgspec.json.decode(body, type=body_type)
    except msgspec.ValidationError as exc:
        error = field_error(str(exc))
        raise InputError(None if error.field == ROOT else error.field, error.message) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec reports invalid UTF-8 as UnicodeDecodeError: the client's fault like any other bad JSON.
        raise InputError(None, f"malformed JSON: {exc}") from exc


def error_status(request: Request[Any, Any, Any], exc: Exception, field_word: str = "field",
                 row_word: str = "row") -> tuple[int, str]:
    """The status and message a protocol's error handler answers ``exc`` with, in that protocol's words.

    Bad input is a 400 and a valid advert the model refuses a 422, as in the native API; Litestar's own
    errors (404, 405, 413, 503 ...) keep their status; anything else is logged and told as no more than a 500.
    """
    if isinstance(exc, InputError):
        return HTTP_400_BAD_REQUEST, exc.describe(field_word, row_word)
    if isinstance(exc, UnscorableAdvertError):
        return HTTP_422_UNPROCESSABLE_ENTITY, f"cannot score the adverts: {exc}"
    if isinstance(exc, HTTPException) and exc.status_code != HTTP_500_INTERNAL_SERVER_ERROR:
        return exc.status_code, exc.detail
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error"


def protocol_exception_handlers(handler: ExceptionHandler) -> ExceptionHandlersMap:
    """For a protocol controller: ``handler`` for every key the app maps too, so that the app's handlers,
    which answer in the native API's shape, never see that protocol's requests."""
    keys: tuple[type[Exception] | int, ...] = (
        InputError, UnscorableAdvertError, ValidationException, HTTPException, HTTP_500_INTERNAL_SERVER_ERROR
    )
    return dict.fromkeys(keys, handler)


class StrictBodyDTO(bodies.StrictBodyDTO[S]):
    """The native API's strict body DTO, for a protocol: a body that does not decode is an InputError, in the
    protocol's shape, and a protocol that appends raw data after its JSON says where the JSON ends."""

    def decode_bytes(self, value: bytes) -> S:
        return decode_json(self.json_part(value), self.model_type)

    def json_part(self, body: bytes) -> bytes:
        """The part of the body that is JSON: all of it, unless a protocol appends raw data."""
        return body


async def reject_empty_body(request: Request[Any, Any, Any]) -> None:
    # Litestar skips the DTO for an empty body and would report a missing 'data' parameter instead.
    if not await request.body():
        raise InputError(None, "malformed JSON: the request body is empty")
