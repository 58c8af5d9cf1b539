"""Regression and classification models: Spark's transform, the Python runtime and MLeap's JVM runtime
agree on every row (predictions, link predictions, raw predictions and probabilities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import (
    DecisionTreeClassifier,
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.regression import (
    DecisionTreeRegressor,
    GBTRegressor,
    GeneralizedLinearRegression,
    LinearRegression,
    RandomForestRegressor,
)

from daystosell_tests.conformance.harness import SEEDS, categories, check, rng

pytestmark = pytest.mark.spark

POOL = ("audi", "bmw", "ford", "kia", "seat")
SCHEMA = {"make": "string", "x": "double", "y": "double"}
CLASSIFIED = {"raw": "vector", "proba": "vector", "prediction": "exact"}


def _data(seed: int, classes: int = 0, positive: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training rows with a label (``classes`` > 0: a class index) and scoring rows with unseen makes,
    zeros and extreme values."""
    gen = rng(seed)

    def make(n: int, pool: tuple[str, ...]) -> list[dict[str, Any]]:
        makes = categories(gen, n, pool)
        x, y = gen.normal(2.0, 1.0, n), gen.uniform(0.0, 3.0, n)
        signal = 0.8 * x - 0.5 * y + np.array([POOL.index(m) * 0.3 if m in POOL else 0.0 for m in makes])
        noisy = signal + gen.normal(0.0, 0.3, n)
        if classes:
            label = np.digitize(noisy, np.quantile(noisy, np.linspace(0, 1, classes + 1)[1:-1]))
        elif positive:
            label = np.exp(0.3 * noisy)
        else:
            label = noisy
        return [{"make": m, "x": float(a), "y": float(b), "label": float(lab)}
                for m, a, b, lab in zip(makes, x, y, label, strict=True)]

    fit = make(300, POOL)
    score = make(120, (*POOL, "trabant"))
    for row, (x, y) in zip(score, [(0.0, 0.0), (1e6, -1e6), (-0.0, 2.0), (1e-300, 5e5)], strict=False):
        row["x"], row["y"] = x, y
    return fit, score


def _features() -> list[Any]:
    return [StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
            OneHotEncoder(inputCol="make_idx", outputCol="make_vec"),
            VectorAssembler(inputCols=["x", "y", "make_vec"], outputCol="features")]


def _fit(spark: Any, rows: list[dict[str, Any]], estimator: Any, *, indexed_only: bool = False) -> Any:
    stages = _features()
    if indexed_only:  # trees split on the make index as a categorical feature
        stages = [stages[0], VectorAssembler(inputCols=["x", "y", "make_idx"], outputCol="features")]
    return Pipeline(stages=[*stages, estimator]).fit(spark.createDataFrame(rows))


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_linear_regression(spark: Any, tmp_path: Path, seed: int) -> None:
    fit, score = _data(seed)
    model = _fit(spark, fit, LinearRegression(regParam=0.01))
    check(spark, model, score, SCHEMA, {"prediction": "number"}, tmp_path, jvm=seed == SEEDS[0])


@pytest.mark.parametrize(("family", "link"), [("gaussian", None), ("gaussian", "log"), ("poisson", None),
                                              ("gamma", "log"), ("binomial", "probit")])
def test_generalized_linear_regression(spark: Any, tmp_path: Path, family: str, link: str | None) -> None:
    fit, score = _data(SEEDS[0], classes=2 if family == "binomial" else 0, positive=family in ("poisson", "gamma")
                       or link == "log")
    glr = GeneralizedLinearRegression(family=family, linkPredictionCol="eta", maxIter=15, regParam=0.01)
    if link:
        glr.setLink(link)
    model = _fit(spark, fit, glr)
    check(spark, model, score, SCHEMA, {"prediction": "number", "eta": "number"}, tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("seed", SEEDS[:2])
def test_logistic_regression(spark: Any, tmp_path: Path, classes: int, seed: int) -> None:
    fit, score = _data(seed, classes=classes)
    lr = LogisticRegression(maxIter=30, regParam=0.01, rawPredictionCol="raw", probabilityCol="proba")
    if classes == 2 and seed == SEEDS[1]:
        lr.setThreshold(0.3)
    if classes == 3 and seed == SEEDS[1]:
        lr.setThresholds([0.5, 0.2, 0.3])
    model = _fit(spark, fit, lr)
    check(spark, model, score, SCHEMA, CLASSIFIED, tmp_path, jvm=seed == SEEDS[0])


@pytest.mark.parametrize("kind", ["decision_tree", "random_forest", "gbt"])
def test_tree_regressors(spark: Any, tmp_path: Path, kind: str) -> None:
    fit, score = _data(SEEDS[1])
    estimator = {"decision_tree": DecisionTreeRegressor(maxDepth=5),
                 "random_forest": RandomForestRegressor(numTrees=5, maxDepth=4, seed=7),
                 "gbt": GBTRegressor(maxIter=5, maxDepth=3, seed=7)}[kind]
    model = _fit(spark, fit, estimator, indexed_only=kind != "decision_tree")
    check(spark, model, score, SCHEMA, {"prediction": "number"}, tmp_path)


@pytest.mark.parametrize(("kind", "classes"), [("decision_tree", 3), ("random_forest", 3), ("gbt", 2)])
def test_tree_classifiers(spark: Any, tmp_path: Path, kind: str, classes: int) -> None:
    fit, score = _data(SEEDS[2], classes=classes)
    estimator = {"decision_tree": lambda: DecisionTreeClassifier(maxDepth=5),
                 "random_forest": lambda: RandomForestClassifier(numTrees=5, maxDepth=4, seed=7),
                 "gbt": lambda: GBTClassifier(maxIter=5, maxDepth=3, seed=7)}[kind]()
    estimator.setRawPredictionCol("raw").setProbabilityCol("proba")
    model = _fit(spark, fit, estimator, indexed_only=kind != "decision_tree")
    check(spark, model, score, SCHEMA, CLASSIFIED, tmp_path)
