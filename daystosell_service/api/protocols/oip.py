"""The Open Inference Protocol V2 (KServe, Seldon, Triton clients) over REST, under /v2.

Each model input is one tensor of its own name: BYTES for the text inputs, FP64 for the numbers, of shape
[N] or [N, 1] for N adverts. The prediction comes back as the FP64 tensor "prediction" of shape [N]. Tensor
data may be JSON or, with the binary tensor data extension (tritonclient's default), raw bytes after the
JSON header; outputs are always JSON, which every client reads. Errors are ``{"error": message}``.
"""

from __future__ import annotations

import math
import struct
from typing import Annotated, Any

import msgspec
import numpy as np
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

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
from daystosell_service.api.state import ServiceState

BYTES = "BYTES"
FP64 = "FP64"
PLATFORM = "mleap"
SERVER_NAME = "daystosell"
BINARY_EXTENSION = "binary_tensor_data"
# The binary tensor data extension: the JSON header's length, when raw tensor bytes follow it.
HEADER_LENGTH = "inference-header-content-length"
BINARY_SIZE = "binary_data_size"
# Model input -> its tensor's datatype. An advert_id tensor may be sent too; it is not a model input.
DATATYPES = {name: BYTES if kind == "string" else FP64 for name, kind in FEATURE_TYPES.items()}
ACCEPTED_DATATYPES = {**DATATYPES, ADVERT_ID: BYTES}

Parameter = str | int | float | bool
Dim = Annotated[int, msgspec.Meta(ge=0)]


class RequestInput(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    shape: list[Dim]
    datatype: str
    # Row-major, flat or nested as the shape; absent when the tensor's bytes follow the JSON header.
    data: list[Cell | list[Cell]] | None = None
    parameters: dict[str, Parameter] | None = None


class RequestOutput(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    parameters: dict[str, Parameter] | None = None


class InferenceRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    inputs: Annotated[list[RequestInput], msgspec.Meta(min_length=1)]
    id: str | None = None
    parameters: dict[str, Parameter] | None = None
    outputs: list[RequestOutput] | None = None


class ResponseOutput(msgspec.Struct, frozen=True):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]


class InferenceResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    model_name: str
    model_version: str
    outputs: list[ResponseOutput]
    # The request's id, echoed so that a client can match the answer to its request.
    id: str | None = None


class MetadataTensor(msgspec.Struct, frozen=True):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(msgspec.Struct, frozen=True):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class ServerMetadata(msgspec.Struct, frozen=True):
    name: str
    version: str
    extensions: list[str]


class Live(msgspec.Struct, frozen=True):
    live: bool


class Ready(msgspec.Struct, frozen=True):
    ready: bool


class ModelReady(msgspec.Struct, frozen=True):
    name: str
    ready: bool


class ErrorResponse(msgspec.Struct, frozen=True):
    error: str


def oip_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    status, message = error_status(request, exc, field_word="input", row_word="element")
    return Response(ErrorResponse(error=message), status_code=status)


class InferenceRequestDTO(StrictBodyDTO[InferenceRequest]):
    def json_part(self, body: bytes) -> bytes:
        # With the binary extension only the header is JSON; the handler reads the raw tensors after it.
        header, _ = split_binary_body(body, self.asgi_connection.headers.get(HEADER_LENGTH))
        return header


UNKNOWN_MODEL = ResponseSpec(ErrorResponse, description=f"No model of that name: this server serves {MODEL_NAME!r}")


def not_ready(body: type[msgspec.Struct] = ErrorResponse) -> ResponseSpec:
    return ResponseSpec(body, description="The model is not loaded yet")


def require_model(name: str) -> None:
    if name != MODEL_NAME:
        raise NotFoundException(detail=f"unknown model {name!r}: this server serves {MODEL_NAME!r}")


class OipController(Controller):
    path = "/v2"
    tags = ("open inference protocol v2",)
    exception_handlers = protocol_exception_handlers(oip_error_handler)

    @get("/", summary="OIP server metadata")
    async def server_metadata(self, service: NamedDependency[ServiceState]) -> ServerMetadata:
        version = service.scorer.model_version if service.scorer is not None else ""
        return ServerMetadata(name=SERVER_NAME, version=version, extensions=[BINARY_EXTENSION])

    @get("/health/live", summary="OIP server live")
    async def live(self) -> Live:
        return Live(live=True)

    @get("/health/ready", summary="OIP server ready", responses={503: not_ready(Ready)})
    async def ready(self, service: NamedDependency[ServiceState]) -> Response[Ready]:
        # 503 rather than the spec's "any 4xx": not being ready yet is no fault of the caller's.
        return Response(Ready(ready=service.ready),
                        status_code=HTTP_200_OK if service.ready else HTTP_503_SERVICE_UNAVAILABLE)

    @get("/models/{name:str}/ready", summary="OIP model ready",
         responses={404: UNKNOWN_MODEL, 503: not_ready(ModelReady)})
    async def model_ready(self, name: FromPath[str], service: NamedDependency[ServiceState]) -> Response[ModelReady]:
        require_model(name)
        return Response(ModelReady(name=name, ready=service.ready),
                        status_code=HTTP_200_OK if service.ready else HTTP_503_SERVICE_UNAVAILABLE)

    @get("/models/{name:str}", summary="OIP model metadata", responses={404: UNKNOWN_MODEL, 503: not_ready()})
    async def model_metadata(self, name: FromPath[str], scorer: NamedDependency[Scorer]) -> ModelMetadata:
        require_model(name)
        return ModelMetadata(
            name=MODEL_NAME,
            versions=[scorer.model_version],
            platform=PLATFORM,
            inputs=[MetadataTensor(name=c, datatype=DATATYPES[c], shape=[-1]) for c in scorer.input_schema],
            outputs=[MetadataTensor(name=PREDICTION_COLUMN, datatype=FP64, shape=[-1])],
        )

    @post(
        "/models/{name:str}/infer",
        dto=InferenceRequestDTO,
        return_dto=None,
        status_code=HTTP_200_OK,
        before_request=reject_empty_body,
        summary="OIP inference",
        description="One FP64 prediction per advert. Tensor data may also follow the JSON header as raw bytes "
        "(the binary tensor data extension, with the Inference-Header-Content-Length header).",
        responses={
            400: ResponseSpec(ErrorResponse, description="Malformed JSON, or tensors that are not valid adverts"),
            404: UNKNOWN_MODEL,
            413: ResponseSpec(ErrorResponse, description="The body is too large"),
            422: ResponseSpec(ErrorResponse, description="Valid adverts that the model refuses to score"),
            503: not_ready(),
        },
    )
    async def infer(
        self,
        name: FromPath[str],
        data: Annotated[InferenceRequest, Body()],
        request: Request[Any, Any, Any],
        scorer: NamedDependency[Scorer],
    ) -> InferenceResponse:
        require_model(name)
        for output in data.outputs or []:
            if output.name != PREDICTION_COLUMN:
                raise InputError(f"outputs.{output.name}", f"unknown output: the model outputs {PREDICTION_COLUMN!r}")
        _, binary = split_binary_body(await request.body(), request.headers.get(HEADER_LENGTH))
        adverts = adverts_from_columns(tensor_columns(data.inputs, binary))
        # Scored on the event loop, like the native API: the work is CPU-bound and the runtime single-threaded.
        days = scorer.predict(adverts)
        return InferenceResponse(
            model_name=MODEL_NAME,
            model_version=scorer.model_version,
            id=data.id,
            outputs=[ResponseOutput(name=PREDICTION_COLUMN, shape=[len(days)], datatype=FP64, data=days)],
        )


def split_binary_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the raw tensor bytes after it (none without the binary extension's header)."""
    if header_length is None:
        return body, b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise InputError(
            HEADER_LENGTH, f"must be the length of the JSON header, at most the body's {len(body)} bytes"
        )
    return body[: int(header_length)], body[int(header_length) :]


def tensor_columns(inputs: list[RequestInput], binary: bytes) -> dict[str, list[Any]]:
    """Each input tensor as a column of values, checked against its shape and the model's datatype."""
    columns: dict[str, list[Any]] = {}
    offset = 0
    for tensor in inputs:
        expected = ACCEPTED_DATATYPES.get(tensor.name)
        if expected is not None and tensor.datatype != expected:
            raise InputError(tensor.name, f"datatype {tensor.datatype!r} where the model takes {expected}")
        if tensor.name in columns:
            raise InputError(tensor.name, "the input is given more than once")
        if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise InputError(tensor.name, f"shape {tensor.shape}: an input is one value per advert, [N] or [N, 1]")
        size = (tensor.parameters or {}).get(BINARY_SIZE)
        if size is not None:
            if tensor.data is not None:
                raise InputError(tensor.name, f"has both data and parameters.{BINARY_SIZE}")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise InputError(tensor.name, f"parameters.{BINARY_SIZE} {size!r} overruns the binary data")
            values = decode_binary(tensor, binary[offset : offset + size])
            offset += size
        elif tensor.data is None:
            raise InputError(tensor.name, "has no data")
        else:
            values = flatten(tensor)
        if len(values) != math.prod(tensor.shape):
            raise InputError(tensor.name, f"has {len(values)} values where its shape {tensor.shape} holds "
                                          f"{math.prod(tensor.shape)}")
        columns[tensor.name] = values
    if offset != len(binary):
        raise InputError(None, f"{len(binary) - offset} bytes of binary data after the last binary input")
    return columns


def flatten(tensor: RequestInput) -> list[Any]:
    values: list[Any] = []
    for item in tensor.data or []:
        if isinstance(item, list):
            values.extend(item)
        else:
            values.append(item)
    return values


def decode_binary(tensor: RequestInput, raw: bytes) -> list[Any]:
    """A tensor sent with the binary extension: little-endian FP64s, or 4-byte-length-prefixed BYTES."""
    if tensor.datatype == FP64:
        if len(raw) % 8:
            raise InputError(tensor.name, f"{len(raw)} bytes of FP64 data, not a whole number of 8-byte values")
        return [float(v) for v in np.frombuffer(raw, dtype="<f8")]
    if tensor.datatype != BYTES:
        raise InputError(tensor.name, f"datatype {tensor.datatype!r} is not an input of this model")
    values: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InputError(tensor.name, "BYTES data ends inside an element's 4-byte length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InputError(tensor.name, f"BYTES element {len(values)} overruns the data")
        try:
            values.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(tensor.name, f"BYTES element {len(values)} is not UTF-8 text: {exc}", len(values)) from exc
        offset += length
    return values
