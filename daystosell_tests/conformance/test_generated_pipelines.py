"""Pipelines drawn by Hypothesis: which feature stages, how many categorical and numeric columns, the
handle_invalid modes, and data with NaN, zeros, extremes and unseen categories; Spark's transform and
the Python runtime agree on every row of each.

CI time matters, so the module draws a fixed, small number of pipelines (7, and one written out;
under a minute in all), derandomised (the same pipelines on every run while the test's source is
unchanged) and without shrinking: a failure prints the drawn ``PipelineSpec``, which rebuilds the
failing pipeline (``@example(spec=...)``). MLeap's JVM runtime is left to the other
modules, which cover every op against it.

The fitting rows are well behaved (no NaN but in imputed columns, no extremes, seen categories) so
that every model and scaler fits finite statistics; the scoring rows carry the special values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import (
    Bucketizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.regression import DecisionTreeRegressor, GeneralizedLinearRegression, LinearRegression

from daystosell_assets.ml.imputer import Imputer
from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.ml.math_unary import MathUnary
from daystosell_assets.ml.string_map import StringMap
from daystosell_tests.conformance.harness import categories, check, numbers, rng

pytestmark = pytest.mark.spark

POOLS = (("audi", "bmw", "ford", "kia", "seat"), ("diesel", "petrol", "hybrid"))
UNSEEN = ("trabant", "")
# Unary and binary operations that keep well-behaved fitting rows finite (the scoring rows may still
# reach NaN and ±inf through them).
UNARY = ("abs", "exp", "sin", "cos", "floor", "ceil", "round")
BINARY = ("add", "sub", "mul", "min", "max")
SPLITS = [-math.inf, 0.0, 5.0, 10.0, 15.0, math.inf]
N_FIT, N_SCORE = 150, 60

# A numeric column's treatment: ("raw",), ("imputer", strategy, missing), ("unary", op),
# ("binary", op), ("bucketizer", handle_invalid). A categorical one's: "onehot", "index", "string_map".
Treatment = tuple[Any, ...]


@dataclass(frozen=True)
class PipelineSpec:
    seed: int
    numeric: tuple[Treatment, ...]
    categorical: tuple[str, ...]
    indexer_invalid: str  # StringIndexer handleInvalid
    onehot_invalid: str  # OneHotEncoder handleInvalid
    drop_last: bool
    scaler: str  # none, standard, standard_mean, min_max, max_abs
    model: str  # none, linear, glr_log, logistic, tree
    nan: bool  # NaN in the scoring rows
    extremes: bool  # extremes in the scoring rows
    unseen: bool  # unseen categories in the scoring rows


@st.composite
def _numeric(draw: st.DrawFn, nan: bool) -> Treatment:
    kind = draw(st.sampled_from(("raw", "imputer", "unary", "binary", "bucketizer")))
    if kind == "imputer":
        return (kind, draw(st.sampled_from(("mean", "median"))), draw(st.sampled_from((math.nan, -1.0))))
    if kind == "unary":
        return (kind, draw(st.sampled_from(UNARY)))
    if kind == "binary":
        return (kind, draw(st.sampled_from(BINARY)))
    if kind == "bucketizer":  # "error" would fail Spark and the runtime alike on NaN
        return (kind, draw(st.sampled_from(("keep", "skip") if nan else ("keep", "skip", "error"))))
    return (kind,)


@st.composite
def pipeline_specs(draw: st.DrawFn) -> PipelineSpec:
    nan, unseen = draw(st.booleans()), draw(st.booleans())
    numeric = tuple(draw(st.lists(_numeric(nan), min_size=2, max_size=4)))
    categorical = tuple(draw(st.lists(st.sampled_from(("onehot", "index", "string_map")), max_size=2)))
    indexer_invalid = draw(st.sampled_from(("keep", "skip") if unseen else ("keep", "skip", "error")))
    return PipelineSpec(
        seed=draw(st.integers(0, 2**16)), numeric=numeric, categorical=categorical,
        indexer_invalid=indexer_invalid, onehot_invalid=draw(st.sampled_from(("keep", "error"))),
        drop_last=draw(st.booleans()),
        scaler=draw(st.sampled_from(("none", "standard", "standard_mean", "min_max", "max_abs"))),
        model=draw(st.sampled_from(("none", "linear", "glr_log", "logistic", "tree"))),
        nan=nan, extremes=draw(st.booleans()), unseen=unseen)


def _rows(spec: PipelineSpec, n: int, *, scoring: bool) -> list[dict[str, Any]]:
    gen = rng(spec.seed + scoring)
    columns: dict[str, list[Any]] = {}
    for i, (pool, _) in enumerate(zip(POOLS, spec.categorical, strict=False)):
        columns[f"c{i}"] = categories(gen, n, pool + UNSEEN if scoring and spec.unseen else pool)
    for i, treatment in enumerate(spec.numeric):
        values = numbers(gen, n, extremes=scoring and spec.extremes, nan=scoring and spec.nan)
        if treatment[0] == "imputer":  # the fitting rows hold the missing value too
            missing = treatment[2]
            values = [missing if gen.random() < 0.15 else v for v in values]
        columns[f"n{i}"] = values
    signal = np.zeros(n)
    for values in (v for c, v in columns.items() if c.startswith("n") and not scoring):
        signal += np.nan_to_num(np.asarray(values, dtype=float), nan=10.0) / 10.0
    noisy = signal + gen.normal(0.0, 0.3, n)
    labels = (noisy > np.median(noisy)).astype(float) if spec.model == "logistic" else np.exp(0.2 * noisy)
    rows = [{c: v[r] for c, v in columns.items()} for r in range(n)]
    for row, label in zip(rows, labels, strict=True):
        row["label"] = float(label)
    return rows


def _stages(spec: PipelineSpec) -> tuple[list[Any], dict[str, str]]:
    """The pipeline's stages and the outputs to compare (with their kinds)."""
    stages: list[Any] = []
    assembled: list[str] = []
    kinds: dict[str, str] = {}
    n = len(spec.numeric)
    for i, treatment in enumerate(spec.numeric):
        col, out = f"n{i}", f"n{i}_feature"
        kind = treatment[0]
        if kind == "raw":
            assembled.append(col)
            continue
        if kind == "imputer":
            stages.append(Imputer(inputCol=col, outputCol=out, strategy=treatment[1], missingValue=treatment[2]))
        elif kind == "unary":
            stages.append(MathUnary(inputCol=col, outputCol=out, operation=treatment[1]))
        elif kind == "binary":
            # The other operand: the next column that is not imputed (an imputed column's raw values
            # hold NaN when fitting), else a constant.
            others = [(i + k) % n for k in range(1, n) if spec.numeric[(i + k) % n][0] != "imputer"]
            operands = {"inputB": f"n{others[0]}"} if others else {"db": 2.5}
            stages.append(MathBinary(inputA=col, outputCol=out, operation=treatment[1], **operands))
        else:
            stages.append(Bucketizer(splits=SPLITS, inputCol=col, outputCol=out, handleInvalid=treatment[1]))
        assembled.append(out)
        kinds[out] = "exact" if kind == "bucketizer" else "number"
    for i, encoding in enumerate(spec.categorical):
        col = f"c{i}"
        if encoding == "string_map":
            pool = POOLS[i]
            stages.append(StringMap(inputCol=col, outputCol=f"{col}_score", labels=list(pool),
                                    values=[float(j) - 1.5 for j in range(len(pool))], handleInvalid="keep",
                                    defaultValue=-7.0))
            assembled.append(f"{col}_score")
            kinds[f"{col}_score"] = "number"
            continue
        stages.append(StringIndexer(inputCol=col, outputCol=f"{col}_idx", handleInvalid=spec.indexer_invalid))
        kinds[f"{col}_idx"] = "exact"
        if encoding == "index":
            assembled.append(f"{col}_idx")
        else:
            stages.append(OneHotEncoder(inputCol=f"{col}_idx", outputCol=f"{col}_vec", dropLast=spec.drop_last,
                                        handleInvalid=spec.onehot_invalid))
            assembled.append(f"{col}_vec")
            kinds[f"{col}_vec"] = "vector"
    stages.append(VectorAssembler(inputCols=assembled, outputCol="features", handleInvalid="keep"))
    kinds["features"] = "vector"
    features = "features"
    if spec.scaler != "none":
        scaler: Any = {"standard": lambda: StandardScaler(withMean=False, withStd=True),
                  "standard_mean": lambda: StandardScaler(withMean=True, withStd=True),
                  "min_max": lambda: MinMaxScaler(min=-1.0, max=2.0),
                  "max_abs": lambda: MaxAbsScaler()}[spec.scaler]()
        stages.append(scaler.setInputCol("features").setOutputCol("scaled"))
        features = "scaled"
        kinds["scaled"] = "vector"
    if spec.model == "linear":
        stages.append(LinearRegression(featuresCol=features, regParam=0.01, maxIter=20))
    elif spec.model == "glr_log":
        stages.append(GeneralizedLinearRegression(featuresCol=features, family="gaussian", link="log",
                                                  regParam=0.05, maxIter=15, linkPredictionCol="eta"))
        kinds["eta"] = "number"
    elif spec.model == "logistic":
        stages.append(LogisticRegression(featuresCol=features, regParam=0.01, maxIter=20, probabilityCol="proba"))
        kinds["proba"] = "vector"
    elif spec.model == "tree":
        stages.append(DecisionTreeRegressor(featuresCol=features, maxDepth=4, seed=7))
    if spec.model != "none":
        kinds["prediction"] = "exact" if spec.model == "logistic" else "number"
    return stages, kinds


@settings(max_examples=7, derandomize=True, database=None, deadline=None, print_blob=False,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=pipeline_specs())
# One pipeline written out, so that the rarer choices are always run: rows skipped by the indexer,
# a binary operation between columns, an imputer with a number as missing value, a tree on indices.
@example(spec=PipelineSpec(
    seed=11, numeric=(("binary", "sub"), ("imputer", "mean", -1.0), ("raw",), ("bucketizer", "keep")),
    categorical=("index", "onehot"), indexer_invalid="skip", onehot_invalid="keep", drop_last=False,
    scaler="standard_mean", model="tree", nan=True, extremes=True, unseen=True))
def test_generated_pipeline(spark: Any, tmp_path_factory: pytest.TempPathFactory, spec: PipelineSpec) -> None:
    # What was drawn, for ``--hypothesis-show-statistics``.
    for label in (f"model {spec.model}", f"scaler {spec.scaler}", f"indexer {spec.indexer_invalid}",
                  *(f"numeric {'/'.join(map(str, t))}" for t in spec.numeric),
                  *(f"categorical {t}" for t in spec.categorical),
                  *(name for name in ("nan", "extremes", "unseen") if getattr(spec, name))):
        event(label)
    schema = {f"c{i}": "string" for i in range(len(spec.categorical))}
    schema.update({f"n{i}": "double" for i in range(len(spec.numeric))})
    stages, kinds = _stages(spec)
    model = Pipeline(stages=stages).fit(spark.createDataFrame(_rows(spec, N_FIT, scoring=False)))
    score = [{c: row[c] for c in schema} for row in _rows(spec, N_SCORE, scoring=True)]
    check(spark, model, score, schema, kinds, tmp_path_factory.mktemp("generated"), jvm=False)
