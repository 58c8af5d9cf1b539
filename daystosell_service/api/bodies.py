"""Request bodies decoded strictly straight into msgspec Structs, for endpoints other than predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

from daystosell_service.api.errors import decode_json_body

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto._backend import DTOBackend
    from litestar.openapi.spec import Reference, Schema

T = TypeVar("T", bound=msgspec.Struct)


class StrictBodyDTO(MsgspecDTO[T]):
    """``StrictBodyDTO[SomeStruct]``: the body decoded by ``decode_json_body`` and documented from the Struct.

    The same as predictions' ``PredictionRequestDTO`` (see why there) for any Struct: numbers sent as strings
    are 400s, and OpenAPI describes the Struct's own constraints.
    """

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: type[DTOBackend] | None = None
    ) -> None:
        return None

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        body = FieldDefinition.from_annotation(cls.model_type, kwarg_definition=field_definition.kwarg_definition)
        return schema_creator.for_field_definition(body)

    def decode_bytes(self, value: bytes) -> T:
        result: T = decode_json_body(value, self.model_type)
        return result

