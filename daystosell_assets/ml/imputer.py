"""A Spark ML estimator and model with the semantics of MLeap's Imputer extension stage.

Spark's own ``ImputerModel`` has no MLeap op; MLeap's spark-extension has its own single-column
Imputer (op ``imputer``), reimplemented here:

* fitting: the surrogate is computed on the values that are neither null, NaN nor ``missingValue``
  (default NaN): their mean (``avg``) for ``strategy="mean"`` (the default), or their approximate
  median (``approxQuantile(0.5)`` with a relative error of 0.001) for ``"median"``; a column with no
  such value cannot be fitted;
* transforming: ``when(x is null, surrogate).when(x == missingValue, surrogate).otherwise(x)``,
  cast back to the input type (double or float). Spark SQL's ``==`` holds for NaN == NaN (and
  -0.0 == 0.0), so NaN is replaced when ``missingValue`` is NaN, and passes through otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

STRATEGIES = ("mean", "median")
MEDIAN_RELATIVE_ERROR = 0.001  # MLeap's Imputer.fit: approxQuantile(col, [0.5], 0.001)


class _ImputerParams(HasInputCol, HasOutputCol):
    strategy: Param[str] = Param(Params._dummy(), "strategy", f"how the surrogate is fitted: one of {STRATEGIES}",
                                 typeConverter=TypeConverters.toString)
    missingValue: Param[float] = Param(Params._dummy(), "missingValue",
                                       "the value that is imputed (as null always is); NaN by default",
                                       typeConverter=TypeConverters.toFloat)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(strategy="mean", missingValue=math.nan)

    def setInputCol(self, value: str) -> Any:
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> Any:
        return self._set(outputCol=value)

    def setStrategy(self, value: str) -> Any:
        self._check({"strategy": value})
        return self

    def setMissingValue(self, value: float) -> Any:
        return self._set(missingValue=value)

    def getStrategy(self) -> str:
        return str(self.getOrDefault(self.strategy))

    def getMissingValue(self) -> float:
        return float(self.getOrDefault(self.missingValue))

    def _check(self, kwargs: dict[str, Any]) -> None:
        strategy = kwargs.get("strategy")
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"Imputer strategy must be one of {STRATEGIES}, got {strategy!r}")
        self._set(**{k: v for k, v in kwargs.items() if v is not None})

    def _input_type(self, dataset: DataFrame) -> T.DataType:
        data_type = dataset.schema[self.getInputCol()].dataType
        if not isinstance(data_type, T.DoubleType | T.FloatType):
            raise ValueError(f"Imputer: column {self.getInputCol()!r} must be a double or a float, "
                             f"found {data_type.simpleString()}")
        return data_type


class Imputer(Estimator["ImputerModel"], _ImputerParams, DefaultParamsReadable["Imputer"],
              DefaultParamsWritable):
    """Fits the surrogate of one column (see the module docstring)."""

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None,
                 strategy: str | None = None, missingValue: float | None = None) -> None:
        super().__init__()
        self._check(self._input_kwargs)  # type: ignore[attr-defined]  # set by @keyword_only

    def _fit(self, dataset: DataFrame) -> ImputerModel:
        self._input_type(dataset)
        column = self.getInputCol()
        value = F.col(column).cast("double")
        present = (dataset.select(value.alias(column))
                   .where(F.col(column).isNotNull() & (F.col(column) != F.lit(self.getMissingValue())))
                   .where(~F.isnan(column)))
        surrogate: float | None
        if self.getStrategy() == "mean":
            row = present.agg(F.avg(column)).first()  # avg of no value is null
            surrogate = None if row is None else row[0]
        else:
            quantiles = present.approxQuantile(column, [0.5], MEDIAN_RELATIVE_ERROR)
            surrogate = quantiles[0] if quantiles else None
        if surrogate is None:
            raise ValueError(f"Imputer {self.uid}: surrogate cannot be computed: every value of {column!r} is "
                             f"null, NaN or the missing value ({self.getMissingValue()})")
        model = ImputerModel(surrogateValue=float(surrogate))
        model._resetUid(self.uid)
        return self._copyValues(model)


class ImputerModel(Model, _ImputerParams, DefaultParamsReadable["ImputerModel"], DefaultParamsWritable):
    """``outputCol = surrogateValue`` where ``inputCol`` is null or ``missingValue``, else ``inputCol``."""

    surrogateValue: Param[float] = Param(Params._dummy(), "surrogateValue", "the fitted replacement value",
                                         typeConverter=TypeConverters.toFloat)

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None,
                 strategy: str | None = None, missingValue: float | None = None,
                 surrogateValue: float | None = None) -> None:
        super().__init__()
        self._check(self._input_kwargs)  # type: ignore[attr-defined]  # set by @keyword_only

    def getSurrogateValue(self) -> float:
        return float(self.getOrDefault(self.surrogateValue))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        data_type = self._input_type(dataset)
        x = F.col(self.getInputCol())
        surrogate = F.lit(self.getSurrogateValue())
        imputed = (F.when(x.isNull(), surrogate)
                   .when(x == F.lit(self.getMissingValue()), surrogate)
                   .otherwise(x)
                   .cast(data_type))
        return dataset.withColumn(self.getOutputCol(), imputed)
