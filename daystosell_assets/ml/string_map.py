"""A Spark ML transformer with the semantics of MLeap's StringMap extension stage.

A string is mapped to a double through a fixed table (``labels`` -> ``values``). An unmapped label
(or null) gives ``defaultValue`` under ``handleInvalid="keep"`` and fails the job under ``"error"``
(the default), as MLeap's runtime does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

HANDLE_INVALID = ("error", "keep")


class StringMap(Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable["StringMap"],
                DefaultParamsWritable):
    """``outputCol = values[labels.index(inputCol)]``; a label listed twice keeps its last value."""

    labels: Param[list[str]] = Param(Params._dummy(), "labels", "the mapped strings",
                                     typeConverter=TypeConverters.toListString)
    values: Param[list[float]] = Param(Params._dummy(), "values", "the double of each label",
                                       typeConverter=TypeConverters.toListFloat)
    handleInvalid: Param[str] = Param(Params._dummy(), "handleInvalid",
                                      "unmapped labels: 'error' (fail) or 'keep' (defaultValue)",
                                      typeConverter=TypeConverters.toString)
    defaultValue: Param[float] = Param(Params._dummy(), "defaultValue", "value of an unmapped label (keep)",
                                       typeConverter=TypeConverters.toFloat)

    @keyword_only
    def __init__(self, *, inputCol: str | None = None, outputCol: str | None = None,
                 labels: list[str] | None = None, values: list[float] | None = None,
                 handleInvalid: str = "error", defaultValue: float = 0.0) -> None:
        super().__init__()
        self._setDefault(handleInvalid="error", defaultValue=0.0, labels=[], values=[])
        kwargs: dict[str, Any] = self._input_kwargs  # type: ignore[attr-defined]  # set by @keyword_only
        if kwargs.get("handleInvalid", handleInvalid) not in HANDLE_INVALID:
            raise ValueError(f"StringMap handleInvalid must be one of {HANDLE_INVALID}, got {handleInvalid!r}")
        if len(kwargs.get("labels") or []) != len(kwargs.get("values") or []):
            raise ValueError("StringMap needs one value per label")
        self._set(**{k: v for k, v in kwargs.items() if v is not None})

    def mapping(self) -> dict[str, float]:
        labels: list[str] = self.getOrDefault("labels")
        values: list[float] = self.getOrDefault("values")
        return dict(zip(labels, values, strict=True))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        mapping = self.mapping()
        keep = self.getOrDefault(self.handleInvalid) == "keep"
        default = float(self.getOrDefault(self.defaultValue))
        column = self.getInputCol()

        @F.pandas_udf("double")  # type: ignore[call-overload]
        def apply(labels: pd.Series) -> pd.Series:
            mapped = labels.map(mapping)
            missing = mapped.isna()
            if missing.any():
                if not keep:
                    raise ValueError(f"StringMap: unmapped label {labels[missing].iloc[0]!r} in column "
                                     f"{column!r} (handleInvalid is 'error')")
                mapped = mapped.where(~missing, default)
            return mapped.astype(float)

        return dataset.withColumn(self.getOutputCol(), apply(F.col(column).cast("string")))
