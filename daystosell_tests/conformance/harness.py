"""Fits nothing itself: given a fitted Spark pipeline and rows to score, writes the bundle and checks
that the Python MLeap runtime (and, where asked, MLeap's JVM runtime) give Spark's outputs on every
row: numbers and vectors within a relative error of 1e-9, categorical outputs identical."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import Vector
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from daystosell_assets.mleap.reference import score_columns_with_mleap
from daystosell_assets.mleap.writer import write_bundle
from daystosell_service.mleap import MleapModel, load_bundle

REL_TOL = 1e-9
ROW = "_row"
SEEDS = (3, 17, 41)

# Output kinds: "number" (a double, relative error), "vector" (each element, relative error),
# "exact" (identical: indices, predicted classes, bucket numbers).
Kinds = Mapping[str, str]


def frame(spark: SparkSession, rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str]) -> Any:
    fields = [T.StructField(ROW, T.DoubleType(), False)]
    fields += [T.StructField(c, T.StringType() if k == "string" else T.DoubleType(), True)
               for c, k in schema.items()]
    data = [(float(i), *[row[c] for c in schema]) for i, row in enumerate(rows)]
    return spark.createDataFrame(data, T.StructType(fields))


def _plain(value: Any) -> Any:
    if isinstance(value, Vector):
        return value.toArray().tolist()
    if isinstance(value, dict):  # MLeap's LeapFrame tensor
        if "indices" in value:
            dense = [0.0] * int(value["dimensions"][0])
            for i, v in zip(value["indices"], value["values"], strict=True):
                dense[int(i[0]) if isinstance(i, list) else int(i)] = float(v)
            return dense
        return list(value["values"])
    return value


def _close(a: Any, b: Any) -> bool:
    if a is None:  # Spark's null: no runtime gives one for a number
        return False
    if b is None:  # MLeap's JVM LeapFrame JSON writes NaN and ±inf as null
        return not math.isfinite(float(a))
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def assert_same(expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]], kinds: Kinds,
                who: str) -> None:
    exp = {int(r[ROW]): r for r in expected}
    act = {int(float(r[ROW])): r for r in actual}
    assert sorted(act) == sorted(exp), f"{who} kept rows {sorted(set(act) ^ set(exp))[:10]} differently from Spark"
    for i, row in exp.items():
        for column, kind in kinds.items():
            want, got = _plain(row[column]), _plain(act[i][column])
            where = f"{who}: row {i} column {column!r}: Spark {want!r}, got {got!r}"
            if kind == "exact":
                assert got is not None and float(got) == float(want), where
            elif kind == "vector":
                assert len(got) == len(want) and all(_close(x, y) for x, y in zip(want, got, strict=True)), where
            else:
                assert _close(want, got), where


def check(spark: SparkSession, model: PipelineModel, rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str],
          kinds: Kinds, tmp_path: Path, *, jvm: bool = True, jvm_kinds: Kinds | None = None,
          name: str = "conformance") -> Path:
    """Spark vs the Python runtime on every row (and vs MLeap's JVM runtime when ``jvm``, on
    ``jvm_kinds`` if given, else every output)."""
    df = frame(spark, rows, schema)
    spark_rows = [r.asDict() for r in model.transform(df).select(ROW, *kinds).collect()]
    bundle = tmp_path / f"{name}.zip"
    written = write_bundle(model, df, bundle, name=name)
    runtime = load_bundle(written.path)
    indexed = [{ROW: float(i), **row} for i, row in enumerate(rows)]
    assert_same(spark_rows, runtime.transform(indexed, select=list(kinds)), kinds, "python runtime")
    assert_same(spark_rows, columnar_rows(runtime, indexed, kinds), kinds, "python runtime (columnar path)")
    if jvm:
        kinds = jvm_kinds or kinds
        jvm_rows = [r for r in indexed if all(not _bad_json(r[c]) for c in schema)]
        keep = {int(r[ROW]) for r in jvm_rows}
        scored = score_columns_with_mleap(bundle, jvm_rows, {ROW: "double", **schema}, [ROW, *kinds])
        columns = list(scored)
        got = [dict(zip(columns, values, strict=True)) for values in zip(*scored.values(), strict=True)]
        assert_same([r for r in spark_rows if int(r[ROW]) in keep], got, kinds, "MLeap JVM runtime")
    return bundle


def columnar_rows(runtime: MleapModel, rows: Sequence[Mapping[str, Any]], kinds: Kinds) -> list[dict[str, Any]]:
    """The rows scored by ``transform_columns``, back as row dicts keyed like ``transform``'s."""
    scored = runtime.transform_columns({c: [r[c] for r in rows] for c in rows[0]}, select=list(kinds))
    values = {c: scored.columns[c].tolist() for c in kinds}
    return [{ROW: float(i), **{c: values[c][k] for c in kinds}} for k, i in enumerate(scored.index.tolist())]


def _bad_json(value: Any) -> bool:
    """Values a LeapFrame's JSON cannot carry to MLeap's JVM runtime: NaN and ±inf have no JSON form,
    and the JVM's JSON reader turns -0.0 into 0.0."""
    return isinstance(value, float) and (not math.isfinite(value) or (value == 0.0 and math.copysign(1.0, value) < 0))


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def categories(gen: np.random.Generator, n: int, pool: Sequence[str]) -> list[str]:
    """Skewed categories (so the indexer's frequency order is well defined)."""
    weights = np.arange(len(pool), 0, -1, dtype=float) ** 2
    return [str(x) for x in gen.choice(list(pool), size=n, p=weights / weights.sum())]


def numbers(gen: np.random.Generator, n: int, *, zeros: bool = True, extremes: bool = True,
            nan: bool = False) -> list[float]:
    values = gen.normal(10.0, 5.0, size=n)
    special: list[float] = []
    if zeros:
        special += [0.0, -0.0]
    if extremes:
        special += [1e12, -1e12, 1e-12, 3.5e7]
    if nan:
        special += [float("nan")]
    if special:
        picks = gen.random(n) < 0.1
        values[picks] = gen.choice(special, size=int(picks.sum()))
    return [float(v) for v in values]
