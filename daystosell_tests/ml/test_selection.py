"""Choosing the estimator: the feature stages, the comparison on the holdout, time-blocked tuning, and what
fitted_model records of it."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegressionModel
from pyspark.sql import functions as F

from daystosell_assets.lake.geography import REGIONS
from daystosell_assets.ml.candidates import CANDIDATES, ForestSettings, GbtSettings, gbt, linear, pick
from daystosell_assets.ml.evaluation import regression_metrics
from daystosell_assets.ml.pipeline import (
    ENCODED,
    FEATURES,
    INPUT_COLUMNS,
    LABEL,
    UNKNOWN_REGION,
    feature_stages,
    region_map,
)
from daystosell_assets.ml.selection import FOLD, compare, tune, with_time_folds
from daystosell_tests.conftest import GraphRun

pytestmark = pytest.mark.spark

START = dt.date(2025, 1, 1)


def linear_frame(spark: Any, rows: int = 400) -> Any:
    """y = 3x + 2 exactly, one listing a day: a line fits it perfectly, trees only in steps."""
    data = [(START + dt.timedelta(days=i), float(i % 97), 3.0 * (i % 97) + 2.0) for i in range(rows)]
    df = spark.createDataFrame(data, "listed_date date, x double, days_to_sell double")
    return VectorAssembler(inputCols=["x"], outputCol=FEATURES).transform(df)


def test_time_folds_are_contiguous_blocks_of_listing_dates(spark: Any) -> None:
    folded = with_time_folds(linear_frame(spark, 300), 3)
    spans = {r[FOLD]: (r["first"], r["last"], r["n"]) for r in folded.groupBy(FOLD).agg(
        F.min("listed_date").alias("first"), F.max("listed_date").alias("last"), F.count("*").alias("n")).collect()}

    assert sorted(spans) == [0, 1, 2]
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]
    assert all(90 <= n <= 110 for _, _, n in spans.values())


def test_the_comparison_ranks_by_holdout_mae_and_scores_each_model_as_the_metrics_do(spark: Any) -> None:
    df = linear_frame(spark)
    train, holdout = df.where(F.col("listed_date") < START + dt.timedelta(days=300)), \
        df.where(F.col("listed_date") >= START + dt.timedelta(days=300))
    trials = compare([gbt(GbtSettings(max_iter=3, max_depth=2)), linear()], train, holdout, lambda _: None)

    assert [t.name for t in trials] == ["linear", "gbt"]
    assert trials[0].metrics.mae < 0.05 < trials[1].metrics.mae
    for trial in trials:
        assert trial.metrics == regression_metrics(trial.model.transform(holdout))
        assert trial.fit_seconds > 0
    assert trials[1].settings == {"maxDepth": 2, "lossType": "squared"}


def test_tuning_picks_the_setting_with_the_lowest_cross_validated_mae(spark: Any) -> None:
    candidate = linear()
    tuning = tune(candidate, linear_frame(spark), 3, lambda _: None)

    # Ridge on an exact line: the lightest penalty is best, the heaviest is worst.
    settings = [s["regParam"] for s, _ in tuning.results]
    assert settings[0] == min(settings) == 0.001
    maes = [mae for _, mae in tuning.results]
    assert maes[0] == min(maes) and maes[0] < 0.05
    assert max(maes) == dict((s["regParam"], m) for s, m in tuning.results)[1.0]
    assert candidate.settings(tuning.best_params) == {"regParam": 0.001}
    assert isinstance(tuning.best_model, LinearRegressionModel)
    assert tuning.best_model.coefficients[0] == pytest.approx(3.0, rel=1e-2)


def test_an_unknown_candidate_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'boosted_unicorns'.*gbt.*linear.*log_linear.*random_forest"):
        pick(["gbt", "boosted_unicorns"], GbtSettings(), ForestSettings())
    assert [c.name for c in pick(list(CANDIDATES), GbtSettings(), ForestSettings())] == list(CANDIDATES)


def test_region_is_derived_from_the_postcode_area_and_an_unknown_area_is_kept(spark: Any) -> None:
    stage = region_map({"LS": "Yorkshire and the Humber", "EC": "London"})
    df = spark.createDataFrame([("LS",), ("EC",), ("ZZ",)], "postcode_area string")
    got = {r["postcode_area"]: r["region_index"] for r in stage.transform(df).collect()}

    assert got == {"LS": float(REGIONS.index("Yorkshire and the Humber")), "EC": float(REGIONS.index("London")),
                   "ZZ": UNKNOWN_REGION}
    with pytest.raises(ValueError, match="Atlantis"):
        region_map({"AT": "Atlantis"})


def test_unseen_categories_and_months_score_without_error(spark: Any) -> None:
    known = [("Ford", "Fiesta", "Petrol", "Hatchback", "LS", 2017.0, 2023.0, float(m), 42_000.0, 8_995.0, 9_400.0,
              10.0 + m) for m in range(1, 13)]
    schema = ", ".join(f"{c} {'string' if i < 5 else 'double'}" for i, c in enumerate([*INPUT_COLUMNS, LABEL]))
    train = spark.createDataFrame(known, schema)
    model = Pipeline(stages=feature_stages({"LS": "Yorkshire and the Humber"})).fit(train)
    unseen = spark.createDataFrame(
        [("Trabant", "601", "Hydrogen", "Pickup", "ZZ", 2023.0, 2023.0, 6.0, 0.0, 30_000.0, 9_400.0, 0.0)], schema)

    [row] = model.transform(unseen).select(FEATURES, *(f"{c}_onehot" for c in ENCODED)).collect()
    vector = row[FEATURES]
    assert vector.size == model.transform(train).first()[FEATURES].size
    # Each unknown category lands in its encoder's extra slot, the last of its vector.
    for column in ("make", "model", "fuel", "body_type", "postcode_area", "region"):
        onehot = row[f"{column}_onehot"]
        assert list(onehot.indices) == [onehot.size - 1], column
    assert not any(math.isnan(v) for v in vector.toArray())


def test_fitted_model_records_the_comparison_and_the_tuning(graph_run: GraphRun) -> None:
    [event] = graph_run.result.asset_materializations_for_node("fitted_model")
    metadata = {k: v.value for k, v in event.metadata.items()}
    winner = metadata["estimator"]

    assert winner in CANDIDATES
    table = metadata["candidates"]
    names = [line.split("|")[1].strip() for line in table.splitlines()
             if line.startswith("| ") and not line.startswith(("| estimator", "| ---"))]
    # Best first.
    assert names[0] == winner
    assert sorted(names) == sorted(CANDIDATES)
    assert "folds of consecutive listing dates" in metadata["tuning"]
    assert metadata["hyperparameters"]["estimator"] == winner
    assert metadata["holdout_mae"] < metadata["baseline_mae"]
    for name in ("region", "listing_month", "age_band", "price_band", "price_position", "mileage_per_year"):
        assert name in metadata["features"]
    last = PipelineModel.load(str(graph_run.lake_root / "models" / "fitted_model")).stages[-1]
    assert type(last).__name__.lower().startswith(
        {"linear": "linear", "log_linear": "generalizedlinear", "random_forest": "randomforest", "gbt": "gbt"}[winner])
