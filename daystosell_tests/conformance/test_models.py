"""Regression and classification models: Spark's transform, the Python runtime and MLeap's JVM runtime
agree on every row (predictions, link predictions, raw predictions and probabilities)."""

from __future__ import annotations

import json
import math
import zipfile
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


# Every family and link Spark's GeneralizedLinearRegression (and so MLeap) supports; None: the family's
# canonical link by default (Spark leaves ``link`` unset and the bundle has no link attribute).
GLR_FAMILY_LINKS = [
    ("gaussian", None), ("gaussian", "identity"), ("gaussian", "log"), ("gaussian", "inverse"),
    ("binomial", None), ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
    ("poisson", None), ("poisson", "log"), ("poisson", "identity"), ("poisson", "sqrt"),
    ("gamma", None), ("gamma", "inverse"), ("gamma", "identity"), ("gamma", "log"),
]


@pytest.mark.parametrize(("family", "link"), GLR_FAMILY_LINKS)
def test_generalized_linear_regression(spark: Any, tmp_path: Path, family: str, link: str | None) -> None:
    positive = family != "binomial" and not (family == "gaussian" and link in (None, "identity"))
    fit, score = _data(SEEDS[0], classes=2 if family == "binomial" else 0, positive=positive)
    glr = GeneralizedLinearRegression(family=family, linkPredictionCol="eta", maxIter=15, regParam=0.01)
    if link:
        glr.setLink(link)
    model = _fit(spark, fit, glr)
    check(spark, model, score, SCHEMA, {"prediction": "number", "eta": "number"}, tmp_path)


# (variance power, link power): None is Spark's default link power, 1 - variance power. Spark resolves
# variance powers 0, 1 and 2 to the gaussian, poisson and gamma families, and link powers 0, 1, -1
# and 0.5 to the log, identity, inverse and sqrt links; any other is a tweedie family or power link.
TWEEDIE_POWERS = [
    (0.0, None), (0.0, 0.0), (0.0, 0.5),
    (1.0, None), (1.0, 1.0), (1.0, 0.5),
    (1.5, None), (1.5, 0.0), (1.5, 0.3), (1.5, -1.0),
    (2.0, None), (2.0, 0.0), (2.0, 1.0),
    (3.0, None), (3.0, 0.0), (3.0, -0.5),
]


@pytest.mark.parametrize(("variance_power", "link_power"), TWEEDIE_POWERS)
def test_generalized_linear_regression_tweedie(spark: Any, tmp_path: Path, variance_power: float,
                                               link_power: float | None) -> None:
    """Tweedie models, against Spark and the Python runtime only: MLeap writes no powers and its JVM
    runtime has no tweedie family, so the writer adds ``variance_power`` and ``link_power``."""
    fit, score = _data(SEEDS[1], positive=True)
    # Labels whose mean is linear and positive on the link's scale, so every power converges.
    power = 1.0 - variance_power if link_power is None else link_power
    gen = rng(SEEDS[1])
    for row in fit:
        eta = 1.0 + 0.2 * row["y"] + 0.05 * row["x"]
        mean = math.exp(eta) if power == 0.0 else eta ** (1.0 / power)
        row["label"] = mean * math.exp(gen.normal(0.0, 0.1))
    glr = GeneralizedLinearRegression(family="tweedie", variancePower=variance_power, linkPredictionCol="eta",
                                      maxIter=25, regParam=0.01)
    if link_power is not None:
        glr.setLinkPower(link_power)
    model = _fit(spark, fit, glr)
    bundle = check(spark, model, score, SCHEMA, {"prediction": "number", "eta": "number"}, tmp_path, jvm=False)
    with zipfile.ZipFile(bundle) as zf:
        nodes = [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".node/model.json")]
    (attributes,) = [n["attributes"] for n in nodes if n["op"] == "generalized_linear_regression"]
    assert attributes["family"] == {"string": "tweedie"} and "link" not in attributes
    assert attributes["variance_power"] == ({"double": variance_power} if variance_power else {})
    expected = 1.0 - variance_power if link_power is None else link_power
    assert attributes["link_power"] == ({"double": expected} if expected else {})


def test_generalized_linear_regression_tweedie_ignores_link(spark: Any, tmp_path: Path) -> None:
    """Spark ignores ``link`` on a tweedie model (it warns), so the bundle leaves it out."""
    fit, score = _data(SEEDS[2], positive=True)
    glr = GeneralizedLinearRegression(family="tweedie", variancePower=1.5, link="identity", maxIter=25,
                                      regParam=0.01)
    model = _fit(spark, fit, glr)
    check(spark, model, score, SCHEMA, {"prediction": "number"}, tmp_path, jvm=False)


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
    estimator: Any = {"decision_tree": lambda: DecisionTreeClassifier(maxDepth=5),
                 "random_forest": lambda: RandomForestClassifier(numTrees=5, maxDepth=4, seed=7),
                 "gbt": lambda: GBTClassifier(maxIter=5, maxDepth=3, seed=7)}[kind]()
    estimator.setRawPredictionCol("raw").setProbabilityCol("proba")
    model = _fit(spark, fit, estimator, indexed_only=kind != "decision_tree")
    check(spark, model, score, SCHEMA, CLASSIFIED, tmp_path)
