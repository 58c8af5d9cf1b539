"""The market simulator: deterministic whatever the partitioning, internally consistent, shaped like
a real market, and carrying the ground truth it documents."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from daystosell_assets.lake.geography import POSTCODE_AREAS
from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.lake.market import derivatives, expected_make_shares
from daystosell_assets.lake.randomness import alias_slots
from daystosell_assets.lake.simulator import (
    ADVERT_SCHEMA,
    MarketSpec,
    simulate_market,
    with_ground_truth,
    write_raw_lake,
)

pytestmark = pytest.mark.spark

# The HotSpot JIT compiles no method over 8,000 bytes of bytecode: a larger generated method runs
# interpreted, several times slower.
JIT_METHOD_LIMIT = 8_000


@pytest.fixture(scope="module")
def market(spark: Any) -> tuple[MarketSpec, pd.DataFrame]:
    """20k adverts with their ground truth, one row per advert."""
    spec = MarketSpec(adverts=20_000, seed=6)
    frame = _pandas(with_ground_truth(simulate_market(spark, spec), spec))
    frame["age"] = frame["listed_date"].map(lambda d: d.year) - frame["registration_year"]
    return spec, frame


def _pandas(frame: Any) -> pd.DataFrame:
    return cast(pd.DataFrame, frame.toPandas())


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in frame.collect())


def test_alias_slots_reproduce_the_weights_exactly() -> None:
    weights = [5.0, 0.0, 1.0, 3.0, 1.0]
    slots = alias_slots(weights)
    probability = [0.0] * len(weights)
    for slot, (keep, alias) in enumerate(slots):
        probability[slot] += keep / len(slots)
        probability[alias] += (1 - keep) / len(slots)
    assert probability == pytest.approx([w / sum(weights) for w in weights], abs=1e-12)


def test_same_seed_same_market_whatever_the_partitioning_other_seed_other_market(spark: Any) -> None:
    spec = MarketSpec(adverts=5_000, seed=1)
    one = simulate_market(spark, spec, partitions=1)
    shuffle_partitions = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    try:
        three = simulate_market(spark, spec, partitions=3)
        # Taxonomy and geography are built on the driver: only these two are computed in partitions.
        for name in ("adverts", "valuations"):
            assert _rows(one[name]) == _rows(three[name]), name
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", shuffle_partitions)
    other = simulate_market(spark, MarketSpec(adverts=5_000, seed=2), partitions=1)
    assert _rows(one["adverts"]) != _rows(other["adverts"])


def test_raw_datasets_keep_their_schema_and_refer_to_each_other(spark: Any) -> None:
    market = simulate_market(spark, MarketSpec(adverts=5_000, seed=3))
    assert [(f.name, f.dataType) for f in market["adverts"].schema] == \
        [(f.name, f.dataType) for f in ADVERT_SCHEMA]
    assert [f.simpleString() for f in market["valuations"].schema] == \
        ["vehicle_id:string", "valued_on:date", "valuation:double"]
    assert [f.simpleString() for f in market["taxonomy"].schema] == \
        ["make:string", "model:string", "fuel:string", "body_type:string", "new_price:double", "demand_score:double"]
    assert [f.simpleString() for f in market["geography"].schema] == \
        ["postcode_area:string", "region:string", "latitude:double", "longitude:double"]

    adverts = _pandas(market["adverts"].dropDuplicates())
    valuations = _pandas(market["valuations"])
    taxonomy = _pandas(market["taxonomy"])
    assert adverts["advert_id"].str.fullmatch(r"ADV\d{9}").all()
    assert adverts["vehicle_id"].is_unique and valuations["vehicle_id"].is_unique
    assert set(adverts["vehicle_id"]) == set(valuations["vehicle_id"])
    assert not taxonomy.duplicated(["make", "model", "fuel"]).any()
    known = set(zip(taxonomy["make"], taxonomy["model"], taxonomy["fuel"], strict=True))
    assert set(zip(adverts["make"], adverts["model"], adverts["fuel"], strict=True)) <= known
    assert adverts["postcode_district"].str.fullmatch(r"[A-Z]{1,2}\d{1,2}[A-Z]?").all()
    areas = {a for a, *_ in POSTCODE_AREAS}
    assert set(adverts["postcode_district"].str.extract(r"^([A-Z]+)")[0]) <= areas


def test_the_lake_gets_every_dataset_and_a_resent_advert_twice_identical(spark: Any, tmp_path: Path) -> None:
    layout = LakeLayout(str(tmp_path))
    counts = write_raw_lake(spark, layout, MarketSpec(adverts=20_000, seed=4))
    adverts = spark.read.parquet(layout.raw("adverts"))
    # One file per core at this size, so every core writes.
    assert len(list(Path(layout.raw("adverts")).glob("*.parquet"))) == spark.sparkContext.defaultParallelism
    assert len(list(Path(layout.raw("taxonomy")).glob("*.parquet"))) == 1
    assert counts == {"adverts": adverts.count(), "taxonomy": 715, "valuations": 20_000, "geography": 119}

    distinct = adverts.distinct()
    resent = counts["adverts"] - distinct.count()
    assert 10 <= resent <= 100  # 0.2 % of 20,000
    assert distinct.groupBy("advert_id").count().where("count > 1").count() == 0


def test_live_adverts_have_no_sale_and_sold_ones_sell_by_the_snapshot(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    spec, frame = market
    sold, live = frame[frame["sold_date"].notna()], frame[frame["sold_date"].isna()]
    assert 0.02 < len(live) / len(frame) < 0.15
    assert (sold["sold_date"] >= sold["listed_date"]).all() and (sold["sold_date"] <= spec.snapshot).all()
    assert (frame["listed_date"] >= spec.first_day).all() and (frame["listed_date"] < spec.snapshot).all()
    # Nothing takes more than a year, so every advert listed over a year ago has sold.
    assert live["listed_date"].min() > spec.snapshot - timedelta(days=366)


def test_days_to_sell_have_a_plausible_level_and_a_long_tail(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    days = market[1]["days_to_sell"].dropna()
    assert 20 <= days.median() <= 40
    assert days.quantile(0.99) > 3 * days.median()
    assert days.min() >= 1 and days.max() <= 365


def test_the_biggest_makes_have_their_market_shares(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    spec, frame = market
    expected = pd.Series(expected_make_shares(derivatives(spec.seed))).sort_values(ascending=False)
    observed = frame["make"].value_counts(normalize=True)
    assert list(observed.index[:3]) == list(expected.index[:3])
    for make in expected.index[:5]:
        assert observed[make] == pytest.approx(expected[make], rel=0.15), make
    assert frame["make"].nunique() == 40


def test_mileage_grows_with_age(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    medians = market[1].groupby("age")["mileage"].median().loc[0:14]
    assert medians.is_monotonic_increasing
    assert medians.loc[10] > 60_000


def test_electric_share_rises_and_diesel_falls(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    spec, frame = market
    middle = spec.first_day + timedelta(days=spec.history_days // 2)
    first = frame[frame["listed_date"] < middle]["fuel"].value_counts(normalize=True)
    second = frame[frame["listed_date"] >= middle]["fuel"].value_counts(normalize=True)
    assert second["electric"] > first["electric"] + 0.02
    assert second["diesel"] < first["diesel"] - 0.04


def test_more_listings_in_spring_than_around_christmas(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    listed = market[1]["listed_date"]
    spring = listed.map(lambda d: d.month in (3, 4, 5)).sum() / 92
    christmas = listed.map(lambda d: (d.month, d.day) >= (12, 22) or (d.month, d.day) == (1, 1)).sum() / 11
    assert spring > 1.8 * christmas


def test_overpriced_cars_take_longer_to_sell(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    sold = market[1].dropna(subset=["days_to_sell"])
    position = sold["asking_price"] / sold["valuation"]
    cheap, dear = position.quantile([0.2, 0.8])
    assert sold[position >= dear]["days_to_sell"].median() > 1.5 * sold[position <= cheap]["days_to_sell"].median()


def test_the_ground_truth_is_the_median_of_what_happens(market: tuple[MarketSpec, pd.DataFrame]) -> None:
    spec, frame = market
    # Listed over a year before the snapshot: all sold, so no censoring bends the comparison.
    settled = frame[frame["listed_date"] < spec.snapshot - timedelta(days=366)]
    assert settled["days_to_sell"].notna().all()
    log_days, log_truth = np.log(settled["days_to_sell"]), np.log(settled["expected_days"])
    assert np.corrcoef(log_days, log_truth)[0, 1] > 0.65
    assert (settled["days_to_sell"] / settled["expected_days"]).median() == pytest.approx(1.0, abs=0.05)


def test_generated_code_stays_small_enough_to_be_jit_compiled(spark: Any) -> None:
    adaptive = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # the final plan, not an adaptive placeholder
    try:
        plan = simulate_market(spark, MarketSpec(adverts=100))["adverts"]._jdf.queryExecution().executedPlan()
        code = spark._jvm.org.apache.spark.sql.execution.debug.package.codegenString(plan)
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", adaptive)
    sizes = [int(s) for s in re.findall(r"maxMethodCodeSize:(\d+)", code)]
    assert sizes and max(sizes) < JIT_METHOD_LIMIT


def test_snapshot_and_history_move_the_window(spark: Any) -> None:
    spec = MarketSpec(adverts=2_000, seed=8, snapshot=date(2025, 6, 1), history_days=400)
    adverts = simulate_market(spark, spec)["adverts"]
    window = adverts.agg(F.min("listed_date"), F.max("listed_date")).first()
    assert window is not None
    first, last = window
    assert first >= spec.first_day and last < spec.snapshot
