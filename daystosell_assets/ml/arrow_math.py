"""Vectorised double maths for the MathUnary / MathBinary transformers, run in an Arrow UDF.

An Arrow UDF, not a pandas one: pandas -> Arrow turns a NaN result into null, and MLeap gives NaN.
A null input gives a null output, as MLeap's Spark transformers do (Scala UDFs over primitive
doubles return null for a null argument); every other input is computed, NaN and ±inf included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F


def _compute(op: Callable[..., np.ndarray], arrays: tuple[pa.Array, ...]) -> pa.Array:
    values = [a.to_numpy(zero_copy_only=False).astype(float) for a in arrays]  # null -> NaN
    with np.errstate(all="ignore"):
        result = np.asarray(op(*values), dtype=float)
    nulls = np.zeros(len(result), dtype=bool)
    for a in arrays:
        if a.null_count:
            nulls |= a.is_null().to_numpy(zero_copy_only=False)
    return pa.array(result, type=pa.float64(), mask=nulls if nulls.any() else None)


def unary(op: Callable[[np.ndarray], np.ndarray], a: Column) -> Column:
    """``op(a)`` as a double column."""

    @F.arrow_udf("double")  # type: ignore[call-overload]
    def apply(x: pa.Array) -> pa.Array:
        return _compute(op, (x,))

    result: Any = apply(a.cast("double"))
    return result


def binary(op: Callable[[np.ndarray, np.ndarray], np.ndarray], a: Column, b: Column) -> Column:
    """``op(a, b)`` as a double column."""

    @F.arrow_udf("double")  # type: ignore[call-overload]
    def apply(x: pa.Array, y: pa.Array) -> pa.Array:
        return _compute(op, (x, y))

    result: Any = apply(a.cast("double"), b.cast("double"))
    return result
