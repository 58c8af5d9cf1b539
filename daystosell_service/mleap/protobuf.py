"""A small, strict reader of the protobuf wire format, so protobuf bundles load without the protobuf package.

Only what Bundle.ML's messages use: varints (wire type 0), 64-bit (1), length-delimited (2) and 32-bit (5)
fields. Groups (3, 4) are refused. Every read is bounds-checked against the enclosing message, and any
problem (truncation, an overlong varint, a length past the end, a known field with the wrong wire type, a
field given twice) is a ``BundleError`` naming the file and the field. Fields this reader does not know are
skipped, after their bounds are checked, as protobuf's own readers do.

Unlike protobuf's readers, a singular field given twice is refused rather than merged: MLeap's writer never
does it, and refusing keeps "what the file says" unambiguous.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import BundleError
from .limits import MAX_LIST_LENGTH

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {VARINT: "varint", FIXED64: "64-bit", LENGTH: "length-delimited", FIXED32: "32-bit",
               3: "start-group", 4: "end-group"}
_MAX_FIELD_NUMBER = (1 << 29) - 1
_MAX_VARINT_BYTES = 10  # 64 bits in 7-bit groups
# Messages nested in messages (a model inside an attribute inside a model ...): bounds the recursion.
MAX_MESSAGE_DEPTH = 32

_U64 = 1 << 64
_INT32 = (-(1 << 31), (1 << 31) - 1)

Wire = int | memoryview  # a varint or fixed field's raw unsigned value, or a length-delimited payload
_T = TypeVar("_T")


def read_varint(buf: memoryview, pos: int, end: int, where: str) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it; refuses truncated and overlong varints."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise BundleError(f"{where}: truncated varint")
        byte = buf[pos]
        pos += 1
        if i == _MAX_VARINT_BYTES - 1 and byte > 1:
            raise BundleError(f"{where}: varint longer than 64 bits")
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos
    raise BundleError(f"{where}: varint longer than {_MAX_VARINT_BYTES} bytes")


def iter_fields(buf: memoryview, where: str) -> Iterator[tuple[int, int, Wire]]:
    """Each field of a message as (field number, wire type, raw value), in wire order."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = read_varint(buf, pos, end, f"{where}: field tag")
        number, wire = tag >> 3, tag & 7
        if not 1 <= number <= _MAX_FIELD_NUMBER:
            raise BundleError(f"{where}: invalid field number {number}")
        at = f"{where}: field {number}"
        value: Wire
        if wire == VARINT:
            value, pos = read_varint(buf, pos, end, at)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if end - pos < size:
                raise BundleError(f"{at}: truncated {_WIRE_NAMES[wire]} value")
            value = int.from_bytes(buf[pos:pos + size], "little")
            pos += size
        elif wire == LENGTH:
            length, pos = read_varint(buf, pos, end, f"{at}: length")
            if length > end - pos:
                raise BundleError(f"{at}: length {length} runs past the end of the data ({end - pos} bytes left)")
            value = buf[pos:pos + length]
            pos += length
        else:
            raise BundleError(f"{at}: unsupported wire type {_WIRE_NAMES.get(wire, wire)}")
        yield number, wire, value


def _raw_int(value: Wire) -> int:
    """A varint or fixed field's value (the wire type was checked, so this only narrows the type)."""
    if not isinstance(value, int):
        raise TypeError("a length-delimited payload where a number was expected")
    return value


def _signed64(value: int) -> int:
    return value - _U64 if value >= 1 << 63 else value


class Message:
    """One decoded message: its fields by number, each occurrence in wire order, with typed accessors.

    ``schema`` maps each field number the caller knows to (name, wire type); a known field with another
    wire type is refused, except repeated scalars, which protobuf may write packed (length-delimited).
    """

    def __init__(self, data: bytes | memoryview, where: str, name: str, schema: dict[int, tuple[str, int]],
                 depth: int = 0) -> None:
        if depth > MAX_MESSAGE_DEPTH:
            raise BundleError(f"{where}: messages nested deeper than {MAX_MESSAGE_DEPTH} levels")
        self.where = where
        self.name = name
        self.depth = depth
        self._schema = schema
        self._fields: dict[int, list[tuple[int, Wire]]] = {}
        kept = 0
        for number, wire, value in iter_fields(memoryview(data), f"{where}: {name}"):
            if number in schema:
                # Each kept field costs far more memory than its bytes: cap them as list elements are capped.
                kept += 1
                if kept > MAX_LIST_LENGTH:
                    raise BundleError(f"{where}: {name}: more than {MAX_LIST_LENGTH} fields")
                self._fields.setdefault(number, []).append((wire, value))

    def at(self, number: int) -> str:
        return f"{self.where}: {self.name}.{self._schema[number][0]}"

    def has(self, number: int) -> bool:
        return number in self._fields

    def _single(self, number: int) -> Wire | None:
        occurrences = self._fields.get(number)
        if not occurrences:
            return None
        if len(occurrences) > 1:
            raise BundleError(f"{self.at(number)}: given {len(occurrences)} times")
        wire, value = occurrences[0]
        expected = self._schema[number][1]
        if wire != expected:
            raise BundleError(f"{self.at(number)}: expected a {_WIRE_NAMES[expected]} field, "
                              f"found {_WIRE_NAMES[wire]}")
        return value

    def _int(self, number: int) -> int:
        value = self._single(number)
        return value if isinstance(value, int) else 0

    def _payload(self, number: int) -> memoryview | None:
        value = self._single(number)
        return value if isinstance(value, memoryview) else None

    # -- singular scalars: absent means proto3's default ----------------------------------------------

    def int32(self, number: int) -> int:
        value = _signed64(self._int(number))
        if not _INT32[0] <= value <= _INT32[1]:
            raise BundleError(f"{self.at(number)}: {value} does not fit an int32")
        return value

    def int64(self, number: int) -> int:
        return _signed64(self._int(number))

    def uint32(self, number: int) -> int:
        value = self._int(number)
        if value >= 1 << 32:
            raise BundleError(f"{self.at(number)}: {value} does not fit a uint32")
        return value

    def boolean(self, number: int) -> bool:
        value = self._int(number)
        if value > 1:
            raise BundleError(f"{self.at(number)}: boolean must be 0 or 1, found {value}")
        return value == 1

    def enum(self, number: int, names: dict[int, str]) -> str:
        value = self.int32(number)
        if value not in names:
            raise BundleError(f"{self.at(number)}: unknown enum value {value}")
        return names[value]

    def double(self, number: int) -> float:
        return float(struct.unpack("<d", self._int(number).to_bytes(8, "little"))[0])

    def float32(self, number: int) -> float:
        return float(struct.unpack("<f", self._int(number).to_bytes(4, "little"))[0])

    def string(self, number: int) -> str:
        return utf8(self._payload(number) or b"", self.at(number))

    def bytes_(self, number: int) -> bytes:
        return bytes(self._payload(number) or b"")

    def message(self, number: int, schema: dict[int, tuple[str, int]], name: str | None = None) -> Message | None:
        """The embedded message in field ``number``, None when absent; errors name it ``name`` if given."""
        payload = self._payload(number)
        if payload is None:
            return None
        return Message(payload, self.where, name or f"{self.name}.{self._schema[number][0]}", schema, self.depth + 1)

    # -- repeated fields ------------------------------------------------------------------------------

    def _occurrences(self, number: int) -> list[tuple[int, Wire]]:
        occurrences = self._fields.get(number, [])
        if len(occurrences) > MAX_LIST_LENGTH:
            raise BundleError(f"{self.at(number)}: more than {MAX_LIST_LENGTH} elements")
        return occurrences

    def messages(self, number: int, schema: dict[int, tuple[str, int]]) -> list[Message]:
        out = []
        for i, (wire, value) in enumerate(self._occurrences(number)):
            if not isinstance(value, memoryview):
                raise BundleError(f"{self.at(number)}[{i}]: expected a length-delimited field, "
                                  f"found {_WIRE_NAMES[wire]}")
            out.append(Message(value, self.where, f"{self.name}.{self._schema[number][0]}[{i}]", schema,
                               self.depth + 1))
        return out

    def payloads(self, number: int, what: Callable[[memoryview, str], _T]) -> list[_T]:
        """A repeated string or bytes field, each element converted by ``what``."""
        out = []
        for i, (wire, value) in enumerate(self._occurrences(number)):
            if not isinstance(value, memoryview):
                raise BundleError(f"{self.at(number)}[{i}]: expected a length-delimited field, "
                                  f"found {_WIRE_NAMES[wire]}")
            out.append(what(value, f"{self.at(number)}[{i}]"))
        return out

    def _packed_varints(self, number: int) -> list[int]:
        values: list[int] = []
        for wire, value in self._occurrences(number):
            if wire == VARINT:
                values.append(_raw_int(value))
            elif isinstance(value, memoryview):
                pos, end = 0, len(value)
                while pos < end:
                    element, pos = read_varint(value, pos, end, f"{self.at(number)}: packed element")
                    values.append(element)
                    if len(values) > MAX_LIST_LENGTH:
                        raise BundleError(f"{self.at(number)}: more than {MAX_LIST_LENGTH} elements")
            else:
                raise BundleError(f"{self.at(number)}: expected varints, found a {_WIRE_NAMES[wire]} field")
        return values

    def _packed_fixed(self, number: int, size: int, code: str) -> list[float]:
        wire_type = FIXED64 if size == 8 else FIXED32
        values: list[float] = []
        for wire, value in self._occurrences(number):
            if wire == wire_type:
                values.append(struct.unpack("<" + code, _raw_int(value).to_bytes(size, "little"))[0])
            elif isinstance(value, memoryview):
                if len(value) % size:
                    raise BundleError(f"{self.at(number)}: packed length {len(value)} is not a multiple of {size}")
                if len(values) + len(value) // size > MAX_LIST_LENGTH:
                    raise BundleError(f"{self.at(number)}: more than {MAX_LIST_LENGTH} elements")
                values.extend(struct.unpack(f"<{len(value) // size}{code}", value))
            else:
                raise BundleError(f"{self.at(number)}: expected {_WIRE_NAMES[wire_type]} values, "
                                  f"found a {_WIRE_NAMES[wire]} field")
        return [float(v) for v in values]

    def doubles(self, number: int) -> list[float]:
        return self._packed_fixed(number, 8, "d")

    def floats(self, number: int) -> list[float]:
        return self._packed_fixed(number, 4, "f")

    def int32s(self, number: int) -> list[int]:
        values = [_signed64(v) for v in self._packed_varints(number)]
        if any(not _INT32[0] <= v <= _INT32[1] for v in values):
            raise BundleError(f"{self.at(number)}: a value does not fit an int32")
        return values

    def int64s(self, number: int) -> list[int]:
        return [_signed64(v) for v in self._packed_varints(number)]

    def booleans(self, number: int) -> list[bool]:
        values = self._packed_varints(number)
        if any(v > 1 for v in values):
            raise BundleError(f"{self.at(number)}: a boolean is neither 0 nor 1")
        return [v == 1 for v in values]

    def enums(self, number: int, names: dict[int, str]) -> list[str]:
        values = self.int32s(number)
        unknown = [v for v in values if v not in names]
        if unknown:
            raise BundleError(f"{self.at(number)}: unknown enum value {unknown[0]}")
        return [names[v] for v in values]


def utf8(data: bytes | memoryview, where: str) -> str:
    """A protobuf ``string``: UTF-8, refused otherwise."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{where}: string is not UTF-8: {e}") from None
