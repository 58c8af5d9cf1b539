"""Holdout evaluation: metrics that agree with numpy, a baseline that falls back as it should, bands that
hold every row once, a split that never lets the future into training, and plots that are real PNGs."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pytest
from dagster import MarkdownMetadataValue, MetadataValue
from pyspark.ml import Pipeline
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

from daystosell_assets.ml.evaluation import (
    UNKNOWN_BAND,
    Metrics,
    baseline_predictions,
    comparison_table,
    importance_by_input,
    mae_by_band,
    regression_metrics,
    time_split,
)
from daystosell_assets.ml.plots import feature_importances, predicted_vs_actual, residuals_by_band

pytestmark = pytest.mark.spark

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scored(spark: Any, n: int = 200, seed: int = 3) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 120, n).astype(float)
    p = y + rng.normal(0, 10, n)
    position = rng.uniform(0.85, 1.35, n)
    rows = [(float(a), float(b), float(10_000 * c), 10_000.0) for a, b, c in zip(y, p, position, strict=True)]
    df = spark.createDataFrame(rows, "days_to_sell double, prediction double, asking_price double, valuation double")
    return df, y, p, position


def test_metrics_equal_numpys(spark: Any) -> None:
    df, y, p, _ = _scored(spark)
    m = regression_metrics(df)
    assert m.rows == len(y)
    assert m.mae == pytest.approx(np.mean(np.abs(p - y)), rel=1e-12)
    assert m.rmse == pytest.approx(np.sqrt(np.mean((p - y) ** 2)), rel=1e-12)
    assert m.r2 == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2), rel=1e-12)


def test_baseline_uses_make_model_medians_then_make_then_overall(spark: Any) -> None:
    train = spark.createDataFrame(
        [("Ford", "Fiesta", 10.0), ("Ford", "Fiesta", 20.0), ("Ford", "Fiesta", 60.0), ("Ford", "Focus", 30.0),
         ("Ford", "Focus", 50.0), ("BMW", "X5", 5.0), ("BMW", "X5", 7.0)],
        "make string, model string, days_to_sell double")
    holdout = spark.createDataFrame(
        [("a", "Ford", "Fiesta", 1.0), ("b", "Ford", "Focus", 1.0), ("c", "Ford", "Puma", 1.0),
         ("d", "Kia", "Ceed", 1.0), ("e", None, "X5", 1.0), ("f", "BMW", None, 1.0)],
        "id string, make string, model string, prediction double")
    out = baseline_predictions(train, holdout)
    assert out.columns == ["id", "make", "model", "prediction"]
    got = {r["id"]: r["prediction"] for r in out.collect()}
    every = [10.0, 20.0, 60.0, 30.0, 50.0, 5.0, 7.0]
    assert got == {"a": 20.0, "b": 40.0,  # make/model medians, the even count interpolated as numpy does
                   "c": float(np.median([10, 20, 60, 30, 50])),  # unseen model: its make
                   "d": float(np.median(every)), "e": float(np.median(every)),  # unseen or null make: overall
                   "f": 6.0}


def test_bands_hold_every_row_once(spark: Any) -> None:
    df, y, p, position = _scored(spark)
    # Rows on the edges belong to the band above; a zero valuation has no price position.
    edges = spark.createDataFrame([(10.0, 12.0, 9_500.0, 10_000.0), (10.0, 13.0, 12_000.0, 10_000.0),
                                   (10.0, 20.0, 5_000.0, 0.0)], df.schema)
    bands = mae_by_band(df.unionByName(edges))
    assert [b.band for b in bands] == ["< 0.95", "0.95 to 1.00", "1.00 to 1.05", "1.05 to 1.10", "1.10 to 1.20",
                                       "≥ 1.20", UNKNOWN_BAND]
    assert sum(b.rows for b in bands) == len(y) + 3
    position = np.append(position, [0.95, 1.2])
    error = np.abs(np.append(p - y, [2.0, 3.0]))
    for band in bands[:-1]:
        inside = ((position >= band.low) if band.low is not None else True) & (
            (position < band.high) if band.high is not None else True)
        assert band.rows == int(np.sum(inside))
        assert band.mae == pytest.approx(float(np.mean(error[inside])), rel=1e-12)
    assert (bands[-1].rows, bands[-1].mae) == (1, 10.0)


def test_time_split_puts_every_holdout_listing_after_every_training_listing(spark: Any) -> None:
    start = dt.date(2024, 1, 1)
    df = spark.createDataFrame([(i, start + dt.timedelta(days=i // 3)) for i in range(600)],
                               "id int, listed_date date")
    train, holdout = time_split(df, 0.2)
    [t] = train.agg({"listed_date": "max", "*": "count"}).collect()
    [h] = holdout.agg({"listed_date": "min", "*": "count"}).collect()
    assert t["max(listed_date)"] < h["min(listed_date)"]
    assert t["count(1)"] + h["count(1)"] == 600
    assert 100 <= h["count(1)"] <= 140
    with pytest.raises(ValueError, match="holdout_fraction"):
        time_split(df, 1.0)


def test_importances_sum_one_hot_slots_per_input(spark: Any) -> None:
    df = spark.createDataFrame([("a", "x", 1.0, 2.0), ("b", "y", 3.0, 4.0), ("c", "x", 5.0, 6.0)],
                               "make string, fuel string, age double, age_floor double")
    inputs = ["make_onehot", "fuel_onehot", "age", "age_floor"]
    pipeline = Pipeline(stages=[
        StringIndexer(inputCols=["make", "fuel"], outputCols=["make_index", "fuel_index"]),
        OneHotEncoder(inputCols=["make_index", "fuel_index"], outputCols=["make_onehot", "fuel_onehot"]),
        VectorAssembler(inputCols=inputs, outputCol="features")])
    metadata = pipeline.fit(df).transform(df).schema["features"].metadata
    # Slots: make has 2 (drop last), fuel 1, then age and age_floor.
    grouped = importance_by_input(metadata, [0.1, 0.2, 0.05, 0.25, 0.4], inputs)
    assert grouped == pytest.approx({"age_floor": 0.4, "make": 0.3, "age": 0.25, "fuel": 0.05})
    assert list(grouped) == ["age_floor", "make", "age", "fuel"]


def test_comparison_table_gives_ratios_and_bands(spark: Any) -> None:
    df, *_ = _scored(spark, n=40)
    rows = {"model": Metrics(rows=40, mae=5.0, rmse=8.0, r2=0.5), "baseline": Metrics(40, 10.0, 16.0, 0.1)}
    band = mae_by_band(df)
    table = comparison_table(rows, {"model": band, "baseline": band})
    assert "| MAE (days) | 5.00 | 10.00 | 0.50x |" in table
    assert "model ÷ baseline" in table and "≥ 1.20" in table and "1.00x" in table
    assert not math.isnan(band[0].mae)


def _png(value: MetadataValue) -> bytes:
    assert isinstance(value, MarkdownMetadataValue) and value.md_str is not None
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", value.md_str)
    assert match, value.md_str[:200]
    return base64.b64decode(match.group(1), validate=True)


def test_plots_decode_as_png(spark: Any) -> None:
    df, *_ = _scored(spark)
    for plot in (predicted_vs_actual(df, sample=100), residuals_by_band(df),
                 feature_importances(["make", "age", "fuel"], [0.5, 0.3, 0.2], top=2)):
        assert _png(plot).startswith(PNG_SIGNATURE)
    assert "1 more" in str(feature_importances(["a", "b"], [0.6, 0.4], top=1).value)
