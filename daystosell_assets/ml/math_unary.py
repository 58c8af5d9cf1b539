"""A Spark ML transformer with the semantics of MLeap's MathUnary extension stage.

``output = op(input)`` in IEEE double arithmetic as MLeap's runtime computes it with
``java.lang.Math``: ``round`` is ``Math.round`` (half up to a long, NaN to 0, clamped to the long
range) widened back to a double; ``logit`` is commons-math's ``Logit`` (``log(x / (1 - x))``), which
refuses values outside [0, 1]. The maths runs vectorised in an Arrow UDF (``arrow_math``): NaN results
stay NaN, a null input gives null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml import arrow_math

_LONG_MIN, _LONG_MAX = -(2.0**63), 2.0**63  # Long.MIN_VALUE / Long.MAX_VALUE as doubles


def _round(a: np.ndarray) -> np.ndarray:
    floor = np.floor(a)
    # a - floor(a) is exact, so halves are found without the rounding error of floor(a + 0.5).
    rounded = floor + (a - floor >= 0.5)
    rounded = np.clip(rounded, _LONG_MIN, _LONG_MAX)
    return np.where(np.isnan(a), 0.0, rounded)


def _logit(a: np.ndarray) -> np.ndarray:
    outside = (a < 0.0) | (a > 1.0)
    if outside.any():
        raise ValueError(f"logit is defined on [0, 1], found {a[outside][0]!r}")
    return np.log(a / (1.0 - a))


_OPERATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": np.log,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "abs": np.abs,
    "logit": _logit,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": _round,
}
OPERATIONS = tuple(_OPERATIONS)


class MathUnary(Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable["MathUnary"],
                DefaultParamsWritable):
    """``outputCol = operation(inputCol)``."""

    operation: Param[str] = Param(Params._dummy(), "operation", f"one of {', '.join(OPERATIONS)}",
                                  typeConverter=TypeConverters.toString)

    @staticmethod
    def operations() -> tuple[str, ...]:
        return OPERATIONS

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None,
                 operation: str = "log") -> None:
        super().__init__()
        kwargs: dict[str, Any] = self._input_kwargs  # type: ignore[attr-defined]  # set by @keyword_only
        if kwargs.get("operation", operation) not in _OPERATIONS:
            raise ValueError(f"MathUnary operation must be one of {OPERATIONS}, got {operation!r}")
        self._set(**{k: v for k, v in kwargs.items() if v is not None})
        if not self.isSet(self.operation):
            self._set(operation=operation)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        op = _OPERATIONS[self.getOrDefault(self.operation)]

        return dataset.withColumn(self.getOutputCol(), arrow_math.unary(op, F.col(self.getInputCol())))
