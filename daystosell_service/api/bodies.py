"""Request bodies decoded strictly straight into msgspec Structs: the one DTO every endpoint's body uses."""

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
    """``StrictBodyDTO[SomeStruct]``: the body decoded strictly, in one pass, straight into the Struct, and
    documented from it.

    Litestar's own decoding is lax: it would take ``"mileage": "12000"`` for a number and ``2015.0`` for a
    year. Its DTOs are lax too, and their generated transfer models cannot describe an optional string with
    a length limit in OpenAPI, so this DTO builds no transfer model at all. Subclasses may decode otherwise
    (a protocol's own error type) by overriding ``decode_bytes``.
    """

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: type[DTOBackend] | None = None
    ) -> None:
        # Nothing to build: decode_bytes and create_openapi_schema use the Struct itself.
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

