"""POST /v1/predictions: days to sell for a batch of adverts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.dto import MsgspecDTO
from litestar.exceptions import ClientException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Reference, Schema
from litestar.params import Body
from litestar.typing import FieldDefinition

from daystosell_service.api.errors import decode_json_body
from daystosell_service.api.schemas import ErrorResponse, Prediction, PredictionRequest, PredictionResponse
from daystosell_service.api.scorer import Scorer, UnscorableAdvertError

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto._backend import DTOBackend


class PredictionRequestDTO(MsgspecDTO[PredictionRequest]):
    """Decodes the body strictly, in one pass, straight into the Structs, and documents it from them.

    Litestar's own decoding is lax: it would take ``"mileage": "12000"`` for a number and ``2015.0`` for a
    year. Its DTOs are lax too, and their generated transfer models cannot describe an optional string with
    a length limit in OpenAPI, so this DTO builds no transfer model at all.
    """

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: type[DTOBackend] | None = None
    ) -> None:
        # Nothing to build: decode_bytes and create_openapi_schema below use the Structs themselves.
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        body = FieldDefinition.from_annotation(
            PredictionRequest, kwarg_definition=field_definition.kwarg_definition
        )
        return schema_creator.for_field_definition(body)

    def decode_bytes(self, value: bytes) -> PredictionRequest:
        return decode_json_body(value, PredictionRequest)


async def reject_empty_body(request: Request[Any, Any, Any]) -> None:
    # Litestar skips the DTO for an empty body and would report a missing 'data' parameter instead.
    if not await request.body():
        raise ClientException(detail="Malformed JSON: the request body is empty")


class PredictionController(Controller):
    path = "/v1/predictions"
    tags = ("predictions",)

    @post(
        "/",
        dto=PredictionRequestDTO,
        return_dto=None,
        status_code=200,
        before_request=reject_empty_body,
        summary="Predict days to sell",
        description="One prediction per advert, in the order of the request.",
        responses={
            400: ResponseSpec(
                ErrorResponse, description="Malformed JSON, or an advert that fails validation"
            ),
            422: ResponseSpec(ErrorResponse, description="Valid adverts that the model refuses to score"),
            503: ResponseSpec(ErrorResponse, description="The model is not loaded yet"),
        },
    )
    async def predict(
        self, data: Annotated[PredictionRequest, Body()], scorer: NamedDependency[Scorer]
    ) -> PredictionResponse:
        # Scored on the event loop, not a worker thread: the work is CPU-bound, so a thread would not add
        # throughput under the GIL, and the runtime is then never called from two threads at once.
        try:
            days = scorer.predict(data.adverts)
        except UnscorableAdvertError as exc:
            raise ClientException(status_code=422, detail=f"Cannot score the adverts: {exc}") from exc
        return PredictionResponse(
            model_version=scorer.model_version,
            bundle_digest=scorer.bundle_digest,
            predictions=[
                Prediction(advert_id=advert.advert_id, days_to_sell=value)
                for advert, value in zip(data.adverts, days, strict=True)
            ],
        )
