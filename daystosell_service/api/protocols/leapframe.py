"""MLeap serving's LeapFrame endpoint, POST /models/{name}/transform, for callers moving off its Spring Boot server.

The body is a JSON LeapFrame: ``{"schema": {"fields": [{"name", "type"}]}, "rows": [[...], ...]}``, where a
type is MLeap's ``"string"``/``"double"`` or its long form ``{"type": "basic", "base": ..., "isNullable": ...}``.
The answer is the same frame with the prediction column appended to its schema and to every row. Errors are
MLeap's ``{"status": "STATUS_ERROR", "error": message}``, with a 4xx status where Spring Boot sent 200.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath
from litestar.status_codes import HTTP_200_OK

from daystosell_service.api.protocols.columns import (
    ADVERT_ID,
    FEATURE_TYPES,
    MODEL_NAME,
    Cell,
    InputError,
    StrictBodyDTO,
    adverts_from_columns,
    error_status,
    protocol_exception_handlers,
    reject_empty_body,
)
from daystosell_service.api.scorer import PREDICTION_COLUMN, Scorer

STATUS_ERROR = "STATUS_ERROR"
# MLeap's frame types for the columns this model reads; an advert_id column is text too.
COLUMN_TYPES = {**FEATURE_TYPES, ADVERT_ID: "string"}
# Spark's regression writes its prediction as a non-nullable double.
PREDICTION_TYPE: dict[str, str | bool] = {"type": "basic", "base": "double", "isNullable": False}


class BasicType(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """MLeap's long form of a scalar type, which it writes for a non-nullable column."""

    type: Literal["basic"]
    base: str
    isNullable: bool = True  # MLeap's JSON name


class Field(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    type: str | BasicType


class Schema(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    fields: list[Field]


class LeapFrame(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    schema: Schema
    # One list per row, in the order of the schema's fields.
    rows: list[list[Cell]]


class OutputField(msgspec.Struct, frozen=True):
    name: str
    type: str | dict[str, str | bool]


class OutputSchema(msgspec.Struct, frozen=True):
    fields: list[OutputField]


class OutputFrame(msgspec.Struct, frozen=True):
    schema: OutputSchema
    rows: list[list[Cell]]


class TransformError(msgspec.Struct, frozen=True):
    status: str
    error: str


def leapframe_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[TransformError]:
    status, message = error_status(request, exc)
    return Response(TransformError(status=STATUS_ERROR, error=message), status_code=status)


def frame_columns(frame: LeapFrame) -> dict[str, list[Any]]:
    """The frame's rows as named columns, each field's declared type checked against the model's."""
    names = [field.name for field in frame.schema.fields]
    for field in frame.schema.fields:
        declared = field.type if isinstance(field.type, str) else field.type.base
        expected = COLUMN_TYPES.get(field.name)
        if expected is not None and declared != expected:
            raise InputError(field.name, f"type {declared!r} where the model takes {expected!r}")
    for row, values in enumerate(frame.rows):
        if len(values) != len(names):
            raise InputError("rows", f"{len(values)} values for the schema's {len(names)} fields", row)
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise InputError(duplicate, "the field is in the schema more than once")
    return {name: [values[i] for values in frame.rows] for i, name in enumerate(names)}


class LeapFrameDTO(StrictBodyDTO[LeapFrame]):
    pass


def error(description: str) -> ResponseSpec:
    return ResponseSpec(TransformError, description=description)


class LeapFrameController(Controller):
    path = "/models"
    tags = ("mleap leapframe",)
    exception_handlers = protocol_exception_handlers(leapframe_error_handler)

    @post(
        "/{name:str}/transform",
        dto=LeapFrameDTO,
        return_dto=None,
        status_code=HTTP_200_OK,
        before_request=reject_empty_body,
        summary="Transform a LeapFrame",
        description="The frame with the prediction column appended to its schema and to every row.",
        responses={
            400: error("Malformed JSON, or a frame whose rows are not valid adverts"),
            404: error(f"No model of that name: this server serves {MODEL_NAME!r}"),
            413: error("The body is too large"),
            422: error("Valid adverts that the model refuses to score"),
            503: error("The model is not loaded yet"),
        },
    )
    async def transform(
        self, name: FromPath[str], data: Annotated[LeapFrame, Body()], scorer: NamedDependency[Scorer]
    ) -> OutputFrame:
        if name != MODEL_NAME:
            raise NotFoundException(detail=f"unknown model {name!r}: this server serves {MODEL_NAME!r}")
        days = scorer.predict(adverts_from_columns(frame_columns(data)))
        fields = [
            OutputField(name=f.name, type=f.type if isinstance(f.type, str) else msgspec.to_builtins(f.type))
            for f in data.schema.fields
        ]
        return OutputFrame(
            schema=OutputSchema(fields=[*fields, OutputField(name=PREDICTION_COLUMN, type=PREDICTION_TYPE)]),
            rows=[[*values, day] for values, day in zip(data.rows, days, strict=True)],
        )
