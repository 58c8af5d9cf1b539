"""MLeap's typed attribute values (the ``attributes`` of a model.json), decoded into plain Python.

Bundle.ML writes every attribute as a typed value: a scalar ``{"double": 1.5}``, a list
``{"type": "list", "string": [...]}`` or a tensor ``{"type": "tensor", "double": [...], "shape": ...}``.
Its writer leaves out default values, so a scalar 0 / 0.0 / false / "" is ``{}`` and an empty list is
``{"type": "list"}``; which default was meant is only known by the op that reads the attribute, so the
accessors of ``Attributes`` take the type from the caller. NaN and ±Infinity have no JSON form and are
written as ``null``; MLeap (spray-json) reads a null double back as NaN, and so do we. Ops that need the
infinities back (Bucketizer's outer splits) restore them themselves, as MLeap's ops do.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import BundleError
from .limits import MAX_LIST_LENGTH

_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)

# The value MLeap's reader gives a scalar field the writer left out.
TYPE_DEFAULTS: dict[str, Any] = {
    "boolean": False,
    "byte": 0,
    "short": 0,
    "int": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "byte_string": b"",
}

# Integral types an accessor also accepts, because some writers pick the other width.
_INTEGRAL_ALIASES = {"int": ("int", "long", "short", "byte"), "long": ("long", "int", "short", "byte")}
_FLOATING_ALIASES = {"double": ("double", "float"), "float": ("float", "double")}


@dataclass(frozen=True)
class DataShape:
    """Bundle.ML's description of a column's shape (VectorAssembler's ``input_shapes``)."""

    base: str  # "scalar" | "list" | "tensor"
    nullable: bool
    dimensions: tuple[int, ...] | None  # tensor dimensions; -1 (or absent) when unknown


@dataclass(frozen=True)
class Scalar:
    """A scalar value: its typed fields; empty when the writer dropped a default value."""

    fields: Mapping[str, Any]


@dataclass(frozen=True)
class ListValue:
    """A list value: its typed element lists; empty when the writer dropped an empty list."""

    fields: Mapping[str, list[Any]]


@dataclass(frozen=True)
class Tensor:
    """A tensor value: element type, flat values (row-major) and dimensions."""

    base: str
    values: list[Any]
    dimensions: tuple[int, ...]


Value = Scalar | ListValue | Tensor


class _Bad(Exception):
    """A decoding problem, turned into a BundleError that names the file and attribute."""


def _double(x: Any) -> float:
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise _Bad(f"expected a number or null, found {_show(x)}")
    return float(x)


def _integral(bounds: tuple[int, int]) -> Callable[[Any], int]:
    def decode(x: Any) -> int:
        if isinstance(x, bool):
            raise _Bad(f"expected an integer, found {_show(x)}")
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        if not isinstance(x, int):
            raise _Bad(f"expected an integer, found {_show(x)}")
        if not bounds[0] <= x <= bounds[1]:
            raise _Bad(f"integer {x} out of range")
        return x

    return decode


def _string(x: Any) -> str:
    if not isinstance(x, str):
        raise _Bad(f"expected a string, found {_show(x)}")
    return x


def _boolean(x: Any) -> bool:
    if not isinstance(x, bool):
        raise _Bad(f"expected true or false, found {_show(x)}")
    return x


def _byte_string(x: Any) -> bytes:
    try:
        return base64.b64decode(_string(x), validate=True)
    except binascii.Error as e:
        raise _Bad(f"invalid base64 byte string: {e}") from None


def _dimensions(x: Any) -> tuple[int, ...]:
    if not isinstance(x, dict):
        raise _Bad(f"expected a tensor shape object, found {_show(x)}")
    dims = x.get("dimensions", [])
    if not isinstance(dims, list) or len(dims) > 32:
        raise _Bad("tensor shape 'dimensions' must be a list of at most 32 dimensions")
    sizes = []
    for d in dims:
        if not isinstance(d, dict):
            raise _Bad(f"expected a dimension object, found {_show(d)}")
        sizes.append(_integral(_INT64)(d.get("size", 0)))
    return tuple(sizes)


def _data_shape(x: Any) -> DataShape:
    if not isinstance(x, dict):
        raise _Bad(f"expected a data shape object, found {_show(x)}")
    base = x.get("base")
    if base not in ("scalar", "list", "tensor"):
        raise _Bad(f"data shape 'base' must be scalar, list or tensor, found {_show(base)}")
    nullable = _boolean(x.get("isNullable", False))
    dims = _dimensions(x["tensorShape"]) if "tensorShape" in x else None
    return DataShape(base=base, nullable=nullable, dimensions=dims)


_ELEMENT_DECODERS: dict[str, Callable[[Any], Any]] = {
    "boolean": _boolean,
    "byte": _integral((-128, 127)),
    "short": _integral((-(1 << 15), (1 << 15) - 1)),
    "int": _integral(_INT32),
    "long": _integral(_INT64),
    "float": _double,
    "double": _double,
    "string": _string,
    "byte_string": _byte_string,
    "data_shape": _data_shape,
    "basic_type": _string,
}


def _decode_scalar(raw: dict[str, Any]) -> Scalar:
    fields: dict[str, Any] = {}
    for key, x in raw.items():
        decode = _ELEMENT_DECODERS.get(key)
        if key == "tensor":
            fields[key] = _decode_tensor(x)
        elif decode is not None:
            fields[key] = decode(x)
        else:
            # Kinds no op here reads (e.g. nested models): kept as written, never interpreted.
            fields[key] = x
    return Scalar(fields)


def _decode_list(raw: dict[str, Any]) -> ListValue:
    fields: dict[str, list[Any]] = {}
    for key, xs in raw.items():
        if key == "type":
            continue
        if not isinstance(xs, list):
            raise _Bad(f"list field {key!r} must be a JSON array, found {_show(xs)}")
        if len(xs) > MAX_LIST_LENGTH:
            raise _Bad(f"list of {len(xs)} elements exceeds the limit of {MAX_LIST_LENGTH}")
        decode = _ELEMENT_DECODERS.get(key)
        fields[key] = [decode(x) for x in xs] if decode is not None else list(xs)
    return ListValue(fields)


def _decode_tensor(raw: Any) -> Tensor:
    if not isinstance(raw, dict):
        raise _Bad(f"expected a tensor object, found {_show(raw)}")
    kinds = [k for k in raw if k not in ("type", "shape")]
    if len(kinds) != 1:
        raise _Bad(f"a tensor needs exactly one element type, found {kinds}")
    base = kinds[0]
    decode = _ELEMENT_DECODERS.get(base)
    if decode is None or base in ("data_shape", "basic_type"):
        raise _Bad(f"unsupported tensor element type {base!r}")
    xs = raw[base]
    if not isinstance(xs, list):
        raise _Bad(f"tensor values must be a JSON array, found {_show(xs)}")
    if len(xs) > MAX_LIST_LENGTH:
        raise _Bad(f"tensor of {len(xs)} elements exceeds the limit of {MAX_LIST_LENGTH}")
    if "shape" not in raw:
        raise _Bad("tensor has no 'shape'")
    dims = _dimensions(raw["shape"])
    if dims and all(d >= 0 for d in dims) and math.prod(dims) != len(xs):
        raise _Bad(f"tensor shape {list(dims)} does not match its {len(xs)} values")
    return Tensor(base=base, values=[decode(x) for x in xs], dimensions=dims)


def decode_value(raw: Any) -> Value:
    """Decode one typed value; raises ``_Bad`` (wrapped by ``decode_attributes``)."""
    if not isinstance(raw, dict):
        raise _Bad(f"expected a typed value object, found {_show(raw)}")
    kind = raw.get("type")
    if kind is None:
        return _decode_scalar(raw)
    if kind == "list":
        return _decode_list(raw)
    if kind == "tensor":
        return _decode_tensor(raw)
    raise _Bad(f"unknown value type {_show(kind)}")


def decode_attributes(raw: Any, where: str) -> Attributes:
    """Decode a model.json ``attributes`` object; ``where`` (the file) is named in every error."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BundleError(f"{where}: 'attributes' must be a JSON object, found {_show(raw)}")
    values: dict[str, Value] = {}
    for name, value in raw.items():
        try:
            values[name] = decode_value(value)
        except _Bad as e:
            raise BundleError(f"{where}: attribute {name!r}: {e}") from None
    return Attributes(values, where)


_T = TypeVar("_T")
_MISSING: Any = object()


class Attributes(Mapping[str, Value]):
    """A model's attributes with typed accessors.

    Each accessor takes the type the op expects: an attribute written as ``{}`` (or an empty list)
    decodes to that type's default. ``default`` is what an *absent* attribute gives; without it an
    absent attribute is a BundleError naming the file and the attribute.
    """

    def __init__(self, values: dict[str, Value], where: str) -> None:
        self._values = values
        self.where = where

    def __getitem__(self, name: str) -> Value:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def error(self, name: str, problem: str) -> BundleError:
        return BundleError(f"{self.where}: attribute {name!r}: {problem}")

    # -- scalars --------------------------------------------------------------------------------------

    def _scalar(self, name: str, kinds: tuple[str, ...], default: Any) -> Any:
        value = self._values.get(name)
        if value is None:
            if default is _MISSING:
                raise self.error(name, f"required {kinds[0]} attribute is missing")
            return default
        if not isinstance(value, Scalar):
            raise self.error(name, f"expected a {kinds[0]} scalar, found a {type(value).__name__}")
        for kind in kinds:
            if kind in value.fields:
                return value.fields[kind]
        if not value.fields:
            return TYPE_DEFAULTS[kinds[0]]
        raise self.error(name, f"expected a {kinds[0]}, found {sorted(value.fields)}")

    def double(self, name: str, default: float = _MISSING) -> float:
        return float(self._scalar(name, _FLOATING_ALIASES["double"], default))

    def optional_double(self, name: str) -> float | None:
        """None when absent; MathBinary's ``da``/``db`` exist only when set, and 0.0 is written as ``{}``."""
        return None if name not in self._values else self.double(name)

    def long(self, name: str, default: int = _MISSING) -> int:
        return int(self._scalar(name, _INTEGRAL_ALIASES["long"], default))

    def integer(self, name: str, default: int = _MISSING) -> int:
        """Bundle.ML's 32-bit ``int`` (``long`` is accepted when it fits)."""
        value = int(self._scalar(name, _INTEGRAL_ALIASES["int"], default))
        if not _INT32[0] <= value <= _INT32[1]:
            raise self.error(name, f"{value} does not fit an int")
        return value

    def string(self, name: str, default: str = _MISSING) -> str:
        return str(self._scalar(name, ("string",), default))

    def boolean(self, name: str, default: bool = _MISSING) -> bool:
        return bool(self._scalar(name, ("boolean",), default))

    # -- lists ----------------------------------------------------------------------------------------

    def _list(self, name: str, kinds: tuple[str, ...], default: Any) -> list[Any]:
        value = self._values.get(name)
        if value is None:
            if default is _MISSING:
                raise self.error(name, f"required {kinds[0]} list attribute is missing")
            return list(default)
        if not isinstance(value, ListValue):
            raise self.error(name, f"expected a {kinds[0]} list, found a {type(value).__name__}")
        for kind in kinds:
            if kind in value.fields:
                return list(value.fields[kind])
        if not value.fields:
            return []
        raise self.error(name, f"expected a {kinds[0]} list, found {sorted(value.fields)}")

    def double_list(self, name: str, default: list[float] = _MISSING) -> list[float]:
        return self._list(name, _FLOATING_ALIASES["double"], default)

    def long_list(self, name: str, default: list[int] = _MISSING) -> list[int]:
        return self._list(name, _INTEGRAL_ALIASES["long"], default)

    def int_list(self, name: str, default: list[int] = _MISSING) -> list[int]:
        values = self._list(name, _INTEGRAL_ALIASES["int"], default)
        if any(not _INT32[0] <= v <= _INT32[1] for v in values):
            raise self.error(name, "a value does not fit an int")
        return values

    def string_list(self, name: str, default: list[str] = _MISSING) -> list[str]:
        return self._list(name, ("string",), default)

    def boolean_list(self, name: str, default: list[bool] = _MISSING) -> list[bool]:
        return self._list(name, ("boolean",), default)

    def data_shape_list(self, name: str, default: list[DataShape] = _MISSING) -> list[DataShape]:
        return self._list(name, ("data_shape",), default)

    def double_vector(self, name: str) -> list[float]:
        """A 1-D double tensor (how MLeap writes vectors); a double list is accepted too."""
        value = self._values.get(name)
        if isinstance(value, Tensor):
            if value.base not in _FLOATING_ALIASES["double"]:
                raise self.error(name, f"expected a double tensor, found a {value.base} tensor")
            if len(value.dimensions) != 1:
                raise self.error(name, f"expected a 1-D tensor, found dimensions {list(value.dimensions)}")
            return list(value.values)
        return self.double_list(name)

    def to_plain(self) -> dict[str, Any]:
        """Every attribute as a plain value (scalars unwrapped, defaults left as ``None``); for debugging."""
        plain: dict[str, Any] = {}
        for name, value in self._values.items():
            if isinstance(value, Scalar):
                plain[name] = next(iter(value.fields.values())) if len(value.fields) == 1 else (
                    dict(value.fields) or None)
            elif isinstance(value, ListValue):
                plain[name] = next(iter(value.fields.values())) if len(value.fields) == 1 else []
            else:
                plain[name] = list(value.values)
        return plain


def _show(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."
