"""Imputer (MLeap's extension op ``imputer``): Spark's transform, the Python runtime and MLeap's JVM
runtime agree on every row, alone and feeding a model, before and after the PipelineModel is saved."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.regression import GeneralizedLinearRegression, LinearRegression

from daystosell_assets.ml.imputer import Imputer, ImputerModel
from daystosell_tests.conformance.harness import ROW, SEEDS, categories, check, frame, numbers, rng

pytestmark = pytest.mark.spark

POOL = ("audi", "bmw", "ford", "kia", "seat")
SCHEMA = {"make": "string", "x": "double", "y": "double"}
NAN = math.nan


def _rows(seed: int, missing: float, n: int) -> list[dict[str, Any]]:
    """Rows whose x holds NaN, zeros (both signs), extremes and, in about one row in eight, the
    missing value; y is a well-behaved second feature; makes include an unseen one."""
    gen = rng(seed)
    xs = numbers(gen, n, nan=True)
    for i in range(n):
        if gen.random() < 0.125:
            xs[i] = missing
    ys = gen.uniform(0.0, 3.0, n)
    makes = categories(gen, n, (*POOL, "trabant"))
    rows = [{"make": m, "x": x, "y": float(y)} for m, x, y in zip(makes, xs, ys, strict=True)]
    for row, x in zip(rows, (missing, NAN, 0.0, -0.0, 1e12, -1e12, missing), strict=False):
        row["x"] = x
    return rows


@pytest.mark.parametrize("missing", [NAN, -1.0, 0.0, 1e12])
@pytest.mark.parametrize("strategy", ["mean", "median"])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_imputer(spark: Any, tmp_path: Path, strategy: str, missing: float, seed: int) -> None:
    """Both strategies; NaN (the default) and numbers as the missing value, 0.0 among them (written
    as ``{}``, which reads back as 0.0). With a number as the missing value, NaN passes through."""
    fit, score = _rows(seed, missing, 300), _rows(seed + 1, missing, 150)
    imputer = Imputer(inputCol="x", outputCol="x_imputed", strategy=strategy)
    if not math.isnan(missing):
        imputer.setMissingValue(missing)
    model = Pipeline(stages=[imputer]).fit(spark.createDataFrame(fit))
    fitted = model.stages[0]
    assert isinstance(fitted, ImputerModel) and math.isfinite(fitted.getSurrogateValue())
    check(spark, model, score, SCHEMA, {"x_imputed": "number"}, tmp_path, jvm=seed == SEEDS[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_imputer_feeding_a_model(spark: Any, tmp_path: Path, seed: int) -> None:
    """Two imputers (x: NaN by median; y: -1 by mean) feed a regression through the assembler; the
    pipeline is saved and loaded first, so the imputers persist with it."""
    gen = rng(seed)
    fit = [{**row, "label": 0.5 * row["y"] + float(gen.normal(0.0, 0.1))} for row in _rows(seed, NAN, 300)]
    score = _rows(seed + 7, NAN, 150)
    for row in [*fit, *score]:
        row["y"] = -1.0 if gen.random() < 0.1 else row["y"]
    stages: list[Any] = [Imputer(inputCol="x", outputCol="x_filled", strategy="median"),
              Imputer(inputCol="y", outputCol="y_filled", missingValue=-1.0),
              StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
              OneHotEncoder(inputCol="make_idx", outputCol="make_vec"),
              VectorAssembler(inputCols=["x_filled", "y_filled", "make_vec"], outputCol="features",
                              handleInvalid="keep"),
              LinearRegression(regParam=0.01) if seed != SEEDS[2]
              else GeneralizedLinearRegression(family="gaussian", link="identity", regParam=0.01)]
    Pipeline(stages=stages).fit(spark.createDataFrame(fit)).write().overwrite().save(str(tmp_path / "spark"))
    model = PipelineModel.load(str(tmp_path / "spark"))
    assert [type(s).__name__ for s in model.stages[:2]] == ["ImputerModel", "ImputerModel"]
    check(spark, model, score, SCHEMA, {"x_filled": "number", "y_filled": "number", "prediction": "number"},
          tmp_path, jvm=seed == SEEDS[0])


def test_imputer_refuses_a_column_with_nothing_to_fit(spark: Any) -> None:
    rows = [{"make": "kia", "x": x, "y": 1.0} for x in (NAN, -1.0, -1.0)]
    with pytest.raises(ValueError, match="surrogate cannot be computed"):
        Imputer(inputCol="x", outputCol="x_imputed", missingValue=-1.0).fit(spark.createDataFrame(rows))


def test_imputer_null_input(spark: Any, tmp_path: Path) -> None:
    """A null x is missing for Spark's transform (and MLeap's JVM Imputer): it gets the surrogate."""
    fit = _rows(SEEDS[0], NAN, 100)
    model = Pipeline(stages=[Imputer(inputCol="x", outputCol="x_imputed")]).fit(spark.createDataFrame(fit))
    score: list[dict[str, Any]] = [{"make": "kia", "x": None, "y": 1.0}, {"make": "kia", "x": 2.0, "y": 1.0}]
    expected = model.transform(frame(spark, score, SCHEMA)).select(ROW, "x_imputed").collect()
    fitted = model.stages[0]
    assert isinstance(fitted, ImputerModel) and expected[0]["x_imputed"] == fitted.getSurrogateValue()
    check(spark, model, score, SCHEMA, {"x_imputed": "number"}, tmp_path, jvm=False)


def test_imputer_bundle_attributes(spark: Any, tmp_path: Path) -> None:
    """The node is MLeap's: op ``imputer``, ports input/output, the four attributes."""
    fit = _rows(SEEDS[2], -1.0, 100)
    model = Pipeline(stages=[Imputer(inputCol="x", outputCol="x_imputed", missingValue=-1.0,
                                     strategy="median")]).fit(spark.createDataFrame(fit))
    bundle = check(spark, model, fit, SCHEMA, {"x_imputed": "number"}, tmp_path, jvm=False)
    with zipfile.ZipFile(bundle) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".node/model.json"))
        node = json.loads(zf.read(name))
        shape = json.loads(zf.read(name.replace("model.json", "node.json")))["shape"]
    fitted = model.stages[0]
    assert isinstance(fitted, ImputerModel)
    assert node == {"op": "imputer", "attributes": {
        "nullable_input": {"boolean": True},
        "surrogate_value": {"double": fitted.getSurrogateValue()},
        "missing_value": {"double": -1.0},
        "strategy": {"string": "median"}}}
    assert shape == {"inputs": [{"name": "x", "port": "input"}], "outputs": [{"name": "x_imputed", "port": "output"}]}
