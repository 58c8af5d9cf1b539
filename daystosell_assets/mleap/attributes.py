"""MLeap's typed attribute values, as its JSON format writes them.

MLeap drops default values (0, 0.0, false, "") from scalars and empty lists from lists; writing the
same keeps our bundles byte-for-byte in MLeap's own style. NaN and ±Infinity have no JSON form: MLeap
writes them as null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]


def _number(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x


def string(value: str) -> Json:
    return {"string": value} if value else {}


def boolean(value: bool) -> Json:
    return {"boolean": True} if value else {}


def long(value: int) -> Json:
    return {"long": int(value)} if value else {}


def integer(value: int) -> Json:
    return {"int": int(value)} if value else {}


def double(value: float) -> Json:
    return {"double": _number(float(value))} if value else {}


def string_list(values: Sequence[str]) -> Json:
    return {"type": "list", "string": list(values)} if values else {"type": "list"}


def int_list(values: Sequence[int]) -> Json:
    return {"type": "list", "int": [int(v) for v in values]} if values else {"type": "list"}


def double_list(values: Sequence[float]) -> Json:
    if not values:
        return {"type": "list"}
    return {"type": "list", "double": [_number(float(v)) for v in values]}


def double_tensor(values: Sequence[float]) -> Json:
    return {
        "type": "tensor",
        "double": [_number(float(v)) for v in values],
        "shape": {"dimensions": [{"size": len(values), "name": ""}]},
    }


def double_matrix(values: Sequence[float], rows: int, cols: int) -> Json:
    return {
        "type": "tensor",
        "double": [_number(float(v)) for v in values],
        "shape": {"dimensions": [{"size": rows, "name": ""}, {"size": cols, "name": ""}]},
    }


def scalar_shape(nullable: bool) -> Json:
    return {"base": "scalar", "isNullable": nullable}


def tensor_shape(size: int, nullable: bool) -> Json:
    return {"base": "tensor", "isNullable": nullable, "tensorShape": {"dimensions": [{"size": size, "name": ""}]}}


def data_shape_list(shapes: Sequence[Json]) -> Json:
    return {"type": "list", "data_shape": list(shapes)} if shapes else {"type": "list"}
