"""Spark-fitted pipelines, written by our bundle writer (JSON) and rewritten as protobuf by MLeap's own runtime:
the Python runtime loads both and scores every row identically, and so does MLeap's runtime."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import MinMaxScaler, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, RandomForestRegressor

from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.ml.math_unary import MathUnary
from daystosell_assets.mleap.reference import score_columns_with_mleap, to_protobuf
from daystosell_assets.mleap.writer import write_bundle
from daystosell_service.mleap import load_bundle
from daystosell_tests.conformance.harness import SEEDS, frame
from daystosell_tests.conformance.test_models import SCHEMA, _data

pytestmark = pytest.mark.spark


def _trees() -> list[Any]:
    return [StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
            VectorAssembler(inputCols=["x", "y", "make_idx"], outputCol="features"),
            GBTRegressor(maxIter=5, maxDepth=3, seed=7, predictionCol="gbt"),
            RandomForestRegressor(numTrees=4, maxDepth=4, seed=7, predictionCol="rf"),
            DecisionTreeRegressor(maxDepth=5, predictionCol="dt")]


def _linear() -> list[Any]:
    return [StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
            OneHotEncoder(inputCol="make_idx", outputCol="make_vec"),
            MathBinary(inputA="x", inputB="y", outputCol="xy", operation="mul"),
            MathUnary(inputCol="y", outputCol="y_log", operation="log"),
            VectorAssembler(inputCols=["x", "xy", "y_log", "make_vec"], outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="std_features", withMean=True),
            MinMaxScaler(inputCol="std_features", outputCol="features"),
            LogisticRegression(maxIter=30, regParam=0.01, rawPredictionCol="raw", probabilityCol="proba")]


def _same(a: Any, b: Any) -> bool:
    """Identical, NaN included."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@pytest.mark.parametrize(("stages", "classes", "outputs"), [
    (_trees, 0, ["gbt", "rf", "dt"]),
    (_linear, 2, ["features", "raw", "proba", "prediction"]),
])
def test_protobuf_bundle_scores_as_its_json(spark: Any, tmp_path: Path, stages: Any, classes: int,
                                           outputs: list[str]) -> None:
    fit, score = _data(SEEDS[0], classes=classes, positive=True)
    model = Pipeline(stages=stages()).fit(spark.createDataFrame(fit))
    json_zip = write_bundle(model, frame(spark, score[:5], SCHEMA), tmp_path / "b.zip", name="protobuf").path
    pb_zip = to_protobuf(json_zip, tmp_path / "b.pb.zip")
    pb_dir = to_protobuf(json_zip, tmp_path / "b.pb")
    rows = [{c: r[c] for c in SCHEMA} for r in score]
    want = load_bundle(json_zip)
    expected = want.transform(rows, select=outputs)
    for path in (pb_zip, pb_dir):
        got = load_bundle(path)
        assert replace(got.info, format="json") == want.info and got.info.format == "protobuf"
        assert got.ops == want.ops
        assert _same(got.transform(rows, select=outputs), expected)
    # MLeap's runtime reads its protobuf bundle back and scores it as it scores the JSON one.
    assert score_columns_with_mleap(pb_zip, rows, SCHEMA, outputs) == score_columns_with_mleap(json_zip, rows, SCHEMA,
                                                                                                 outputs)
