"""Every converted op combined in one pipeline: the Python runtime follows Spark on every row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import (
    Bucketizer,
    Interaction,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)

from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.ml.math_unary import MathUnary
from daystosell_assets.ml.string_map import StringMap
from daystosell_tests.conformance.harness import SEEDS, check
from daystosell_tests.conformance.test_models import POOL, SCHEMA, _data

pytestmark = pytest.mark.spark


def test_combined_pipeline(spark: Any, tmp_path: Path) -> None:
    fit, score = _data(SEEDS[2], classes=3)
    stages: list[Any] = [
        StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
        OneHotEncoder(inputCol="make_idx", outputCol="make_vec"),
        StringMap(inputCol="make", outputCol="make_score", labels=list(POOL), values=[1.0, 2.0, 0.5, -1.0, 3.0],
                  handleInvalid="keep", defaultValue=0.25),
        MathBinary(inputA="x", inputB="make_score", outputCol="x_by_make", operation="mul"),
        MathUnary(inputCol="y", outputCol="y_abs", operation="abs"),
        Bucketizer(splits=[float("-inf"), 0.0, 1.0, 2.0, float("inf")], inputCol="x", outputCol="x_bucket"),
        Interaction(inputCols=["make_idx", "y"], outputCol="make_y"),
        VectorAssembler(inputCols=["x", "y_abs", "x_by_make", "x_bucket", "make_vec"], outputCol="raw_features"),
        StandardScaler(inputCol="raw_features", outputCol="std_features", withMean=True),
        MinMaxScaler(inputCol="std_features", outputCol="mm_features"),
        MaxAbsScaler(inputCol="make_y", outputCol="make_y_scaled"),
        VectorAssembler(inputCols=["mm_features", "make_y_scaled"], outputCol="features"),
        LogisticRegression(maxIter=30, regParam=0.01, rawPredictionCol="raw", probabilityCol="proba"),
    ]
    model = Pipeline(stages=stages).fit(spark.createDataFrame(fit))
    kinds = {"features": "vector", "raw": "vector", "proba": "vector", "prediction": "exact"}
    check(spark, model, score, SCHEMA, kinds, tmp_path, jvm=False)
