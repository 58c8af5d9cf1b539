"""A Spark ML transformer with the semantics of MLeap's MathBinary extension stage.

MLeap has no SQLTransformer, so arithmetic features (price position = asking price / valuation,
vehicle age = listing year - registration year) need a stage that MLeap knows. MathBinary is
that stage: ``output = op(a, b)`` in IEEE double arithmetic, exactly as MLeap's runtime computes
it (division by zero gives ±inf or NaN, ``rem`` is C's fmod), which Spark SQL's own operators do
not (ANSI mode raises on division by zero). The maths runs vectorised in an Arrow UDF
(``arrow_math``): a NaN result (0/0, inf - inf) stays NaN, a null input gives null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml import arrow_math


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Math.pow``, whose special cases differ from C's: a NaN exponent gives NaN (even for a base
    of 1), and so does a base of ±1 with an infinite exponent."""
    result = np.power(a, b)
    return np.where(np.isnan(b) | (np.isinf(b) & (np.abs(a) == 1.0)), np.nan, result)


def _min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Math.min``: NaN if either is NaN, and -0.0 is smaller than 0.0."""
    return np.where(a == b, np.where(np.signbit(a), a, b), np.minimum(a, b))


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Math.max``: NaN if either is NaN, and 0.0 is larger than -0.0."""
    return np.where(a == b, np.where(np.signbit(a), b, a), np.maximum(a, b))


_OPERATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "rem": np.fmod,
    "log_n": lambda a, b: np.log(a) / np.log(b),
    "pow": _pow,
    "min": _min,
    "max": _max,
}
OPERATIONS = tuple(_OPERATIONS)


class MathBinary(Transformer, HasOutputCol, DefaultParamsReadable["MathBinary"], DefaultParamsWritable):
    """``outputCol = operation(inputA, inputB)``; a missing input is replaced by its default (da/db)."""

    inputA: Param[str] = Param(Params._dummy(), "inputA", "left operand column",
                               typeConverter=TypeConverters.toString)
    inputB: Param[str] = Param(Params._dummy(), "inputB", "right operand column",
                               typeConverter=TypeConverters.toString)
    operation: Param[str] = Param(Params._dummy(), "operation", f"one of {', '.join(OPERATIONS)}",
                                  typeConverter=TypeConverters.toString)
    da: Param[float] = Param(Params._dummy(), "da", "left operand when inputA is not set",
                             typeConverter=TypeConverters.toFloat)
    db: Param[float] = Param(Params._dummy(), "db", "right operand when inputB is not set",
                             typeConverter=TypeConverters.toFloat)

    @keyword_only
    def __init__(self, *, inputA: str | None = None, inputB: str | None = None, outputCol: str | None = None,
                 operation: str = "add", da: float | None = None, db: float | None = None) -> None:
        super().__init__()
        kwargs: dict[str, Any] = self._input_kwargs  # type: ignore[attr-defined]  # set by @keyword_only
        if kwargs.get("operation", operation) not in _OPERATIONS:
            raise ValueError(f"MathBinary operation must be one of {OPERATIONS}, got {operation!r}")
        self._set(**{k: v for k, v in kwargs.items() if v is not None})
        if not self.isSet(self.operation):
            self._set(operation=operation)

    def _operand(self, column: Param[str], default: Param[float]) -> Any:
        if self.isSet(column):
            return F.col(self.getOrDefault(column)).cast("double")
        if self.isSet(default):
            return F.lit(float(self.getOrDefault(default)))
        raise ValueError(f"MathBinary {self.uid}: set {column.name} or {default.name}")

    def _transform(self, dataset: DataFrame) -> DataFrame:
        op = _OPERATIONS[self.getOrDefault(self.operation)]
        a = self._operand(self.inputA, self.da)
        b = self._operand(self.inputB, self.db)
        return dataset.withColumn(self.getOutputCol(), arrow_math.binary(op, a, b))
