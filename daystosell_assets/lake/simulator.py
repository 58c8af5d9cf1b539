"""A seeded simulation of the UK used-car market, computed by Spark and written to the lake's raw zone.

Every advert is a row of ``spark.range(adverts)`` and every random quantity a hash of (seed, stream,
row id) (see :mod:`daystosell_assets.lake.randomness`), so a seed gives the same market on one core or
a hundred. What is sold, at what price and where comes from :mod:`daystosell_assets.lake.market`.

How an advert is made
    listed_date      a day of the history (``history_days`` up to the snapshot): more listings in spring,
                     fewer from 22 December to 1 January and on Sundays, a slowly growing market.
    fuel             from the fuel mix of that day (electric and hybrid rising, diesel falling).
    derivative       a make / model of that fuel, by popularity.
    registration     an age mix peaking at 3 to 4 years (electric and plug-in cars younger); the exact
                     age at listing sets the registration year.
    mileage          age * a yearly mileage (log-normal around 7,800 miles; diesels 35 % more).
    valuation        new_price * exp(-0.12 - depreciation * age - 0.045 * excess mileage in 10k miles
                     + 0.06 z): depreciation is the make's yearly rate plus a fuel term, excess mileage
                     is what the car has done beyond 7,800 miles a year.
    asking_price     valuation * exp(0.03 + 0.07 z), 5 % of sellers asking a further 22 % more;
                     charm-priced (ending in 95 above 1,000 GBP).
    postcode         an area by population, and a district in it.

Ground truth: days to sell. With ``pp`` = asking_price / valuation, ``age`` = year(listed_date) -
registration_year, ``miles`` = mileage / 10,000, ``demand`` the derivative's taxonomy demand_score,
``t`` = (listed_date - first day of the history) / history_days in [0, 1), ``doy`` the listing's day of
the year, ``region`` the region of the postcode area, and ``eps`` standard Student-t with 4 degrees of
freedom::

    mu = 2.95 + 3.5 * log(pp) + 0.05 * age + 0.03 * miles - 0.15 * demand
         + FUEL_EFFECT_START[fuel] + (FUEL_EFFECT_END[fuel] - FUEL_EFFECT_START[fuel]) * t
         + REGION_EFFECT[region]
         + 0.12 * cos(2 * pi * (doy - 350) / 365.25)
    days_to_sell = clip(round(exp(mu + 0.25 * eps)), 1, 365)

The season term makes listings in mid-December slowest and mid-June fastest. :func:`expected_days`
gives ``clip(exp(mu), 1, 365)``: the noiseless value, which is also the median of days_to_sell for
those inputs (the noise is symmetric, and rounding and clipping keep order). Every input is in the
lake, so :func:`with_ground_truth` can put it next to any advert. ``MARKET.md`` has the same as a table.

An advert whose sale would fall after the snapshot is still live: it stays in the lake with no sold
date (and so no label). About 0.2 % of advert rows are delivered twice, identical (a feed that
re-sends); no advert_id ever has two different rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from daystosell_assets.lake.geography import POSTCODE_AREAS, REGIONS
from daystosell_assets.lake.layout import RAW_DATASETS, LakeLayout
from daystosell_assets.lake.market import (
    AGE_MIX,
    BODY_TYPES,
    FUEL_MILEAGE,
    FUELS,
    YOUNG_FLEET_DECAY,
    Derivative,
    area_weights,
    derivative_weights,
    derivatives,
    fuel_share,
)
from daystosell_assets.lake.randomness import AliasTable, categorical, normal, student_t, uniform

__all__ = [
    "BODY_TYPES", "FUELS", "REGIONS", "MarketSpec", "expected_days", "expected_log_days", "simulate_market",
    "with_ground_truth", "write_raw_lake",
]

INTERCEPT = 2.95
PRICE_POSITION = 3.5  # per unit of log(asking / valuation)
AGE = 0.05  # per year
MILES = 0.03  # per 10,000 miles
DEMAND = -0.15  # per standard deviation of demand_score
SEASON_AMPLITUDE = 0.12
SEASON_PEAK_DAY = 350  # day of the year when listings sell slowest
NOISE_SCALE = 0.25
NOISE_DOF = 4
MIN_DAYS, MAX_DAYS = 1, 365
# Falling demand for diesel makes it slower to sell over the history; rising demand for electric faster.
FUEL_EFFECT_START = {"petrol": 0.0, "diesel": 0.05, "hybrid": -0.05, "electric": 0.25, "plug_in_hybrid": 0.05}
FUEL_EFFECT_END = {"petrol": 0.0, "diesel": 0.22, "hybrid": -0.12, "electric": -0.05, "plug_in_hybrid": -0.03}
REGION_EFFECT = {
    "London": -0.15, "South East": -0.08, "East of England": -0.03, "South West": 0.02,
    "West Midlands": 0.0, "East Midlands": 0.02, "Yorkshire and the Humber": 0.03, "North West": 0.0,
    "North East": 0.08, "Wales": 0.10, "Scotland": 0.07, "Northern Ireland": 0.12,
}

DUPLICATE_RATE = 0.002
ROWS_PER_FILE = 1_000_000
TYPICAL_MILES_A_YEAR = 7_800.0

# One stream per random quantity: adding a quantity never changes the others.
_DAY, _FUEL, _DERIVATIVE, _AGE, _AGE_FRACTION, _MILEAGE, _VALUATION, _ASKING, _AMBITIOUS, _AREA, \
    _DISTRICT, _DISTRICT_LETTER, _NOISE, _DUPLICATE = range(1, 15)

ADVERT_SCHEMA = T.StructType([
    T.StructField("advert_id", T.StringType()), T.StructField("vehicle_id", T.StringType()),
    T.StructField("make", T.StringType()), T.StructField("model", T.StringType()),
    T.StructField("fuel", T.StringType()), T.StructField("body_type", T.StringType()),
    T.StructField("registration_year", T.IntegerType()), T.StructField("mileage", T.LongType()),
    T.StructField("asking_price", T.DoubleType()), T.StructField("postcode_district", T.StringType()),
    T.StructField("listed_date", T.DateType()), T.StructField("sold_date", T.DateType()),
])


@dataclass(frozen=True)
class MarketSpec:
    """How big a market to simulate, from which seed, and the history it covers (``history_days``
    up to the day before ``snapshot``)."""

    adverts: int = 20_000
    seed: int = 2026
    snapshot: date = date(2026, 11, 1)
    history_days: int = 730

    @property
    def first_day(self) -> date:
        return self.snapshot - timedelta(days=self.history_days)


def expected_log_days(spec: MarketSpec) -> Column:
    """``mu`` of the module docstring, from the columns asking_price, valuation, registration_year,
    listed_date, mileage, demand_score, fuel and region."""
    t = F.datediff(F.col("listed_date"), F.lit(spec.first_day)) / spec.history_days
    fuel_effect = (_lookup(FUEL_EFFECT_START, F.col("fuel"))
                   + (_lookup(FUEL_EFFECT_END, F.col("fuel")) - _lookup(FUEL_EFFECT_START, F.col("fuel"))) * t)
    season = SEASON_AMPLITUDE * F.cos(2 * math.pi * (F.dayofyear("listed_date") - SEASON_PEAK_DAY) / 365.25)
    return (F.lit(INTERCEPT)
            + PRICE_POSITION * F.log(F.col("asking_price") / F.col("valuation"))
            + AGE * (F.year("listed_date") - F.col("registration_year"))
            + MILES * F.col("mileage") / 10_000
            + DEMAND * F.col("demand_score")
            + fuel_effect + _lookup(REGION_EFFECT, F.col("region")) + season)


def expected_days(spec: MarketSpec) -> Column:
    """The noiseless days to sell, ``clip(exp(mu), 1, 365)``: the median for those inputs."""
    return _clip_days(F.exp(expected_log_days(spec)))


def with_ground_truth(market: dict[str, DataFrame], spec: MarketSpec) -> DataFrame:
    """One row per advert (duplicates collapsed) with its valuation, demand score, region, the
    ``expected_days`` of the ground truth and ``days_to_sell`` (null while live)."""
    adverts = market["adverts"].dropDuplicates(["advert_id"]) \
        .withColumn("postcode_area", F.regexp_extract("postcode_district", r"^([A-Z]{1,2})", 1))
    return (adverts
            .join(market["valuations"].select("vehicle_id", "valuation"), "vehicle_id")
            .join(F.broadcast(market["taxonomy"].select("make", "model", "fuel", "demand_score")),
                  ["make", "model", "fuel"])
            .join(F.broadcast(market["geography"].select("postcode_area", "region")), "postcode_area")
            .withColumn("expected_days", expected_days(spec))
            .withColumn("days_to_sell", F.datediff("sold_date", "listed_date")))


def simulate_market(spark: SparkSession, spec: MarketSpec, *, partitions: int | None = None) -> dict[str, DataFrame]:
    """The four raw datasets as (lazy) DataFrames. The same spec gives the same rows whatever
    ``partitions`` (how many tasks compute the adverts; Spark's default parallelism if None)."""
    catalogue = derivatives(spec.seed)
    rows = _advert_rows(spark, spec, catalogue, partitions or spark.sparkContext.defaultParallelism)
    adverts = rows.select(*(F.col(f.name).cast(f.dataType) for f in ADVERT_SCHEMA.fields))
    valuations = (rows.where(F.col("_copy") == 1)
                  .select("vehicle_id", F.col("listed_date").alias("valued_on"), "valuation"))
    return {"adverts": adverts, "taxonomy": _taxonomy(spark, catalogue), "valuations": valuations,
            "geography": _geography(spark)}


def write_raw_lake(spark: SparkSession, layout: LakeLayout, spec: MarketSpec) -> dict[str, int]:
    """Simulates the market and overwrites each raw dataset's folder with Parquet, about one file per
    million rows and at least one per core. Returns the rows written per dataset."""
    # Fewer files than cores would leave cores idle while the files are written.
    files = max(1, round(spec.adverts / ROWS_PER_FILE), spark.sparkContext.defaultParallelism)
    market = simulate_market(spark, spec, partitions=files)
    counts: dict[str, int] = {}
    for name in RAW_DATASETS:
        frame = market[name]
        if name not in ("adverts", "valuations"):
            frame = frame.coalesce(1)
        location = layout.raw(name)
        frame.write.mode("overwrite").parquet(location)
        # Parquet footers hold row counts: no second pass over the data.
        counts[name] = spark.read.parquet(location).count()
    return counts


def _advert_rows(spark: SparkSession, spec: MarketSpec, catalogue: tuple[Derivative, ...],
                 partitions: int) -> DataFrame:
    """Every delivered advert row (a re-sent advert twice, ``_copy`` 1 and 2) with every column of
    adverts and valuations."""
    frame = _draws(spark.range(0, spec.adverts, 1, partitions), spec.seed)
    frame = _vehicle(spark, frame, spec, catalogue)
    # A re-sent row repeats everything, so the copies can be made at any step. Made here, they also
    # split Spark's generated code in two: one method for all of it is too large for the JVM's JIT
    # compiler, and runs interpreted, several times slower.
    copies = F.when(uniform(spec.seed, _DUPLICATE) < DUPLICATE_RATE, 2).otherwise(1)
    frame = frame.withColumn("_copy", F.explode(F.sequence(F.lit(1), copies)))
    frame = _prices(frame)
    areas = AliasTable.of(spark, [area_weights()])
    frame = areas.draw(frame, spec.seed, _AREA, "_area").join(F.broadcast(_area_frame(spark)), "_area")
    return _sale(frame.withColumn("postcode_district", _district()), spec)


def _draws(frame: DataFrame, seed: int) -> DataFrame:
    """The row's continuous random draws, each a column: an expression used in several places
    would otherwise be evaluated (hashed) in each of them."""
    return frame.select(
        "id",
        uniform(seed, _FUEL).alias("_u_fuel"),
        uniform(seed, _AGE_FRACTION).alias("_u_age_fraction"),
        normal(seed, _MILEAGE).alias("_z_mileage"),
        normal(seed, _VALUATION).alias("_z_valuation"),
        normal(seed, _ASKING).alias("_z_asking"),
        uniform(seed, _AMBITIOUS).alias("_u_ambitious"),
        uniform(seed, _DISTRICT).alias("_u_district"),
        uniform(seed, _DISTRICT_LETTER).alias("_u_letter"),
        student_t(seed, _NOISE, NOISE_DOF).alias("_noise"),
    )


def _vehicle(spark: SparkSession, frame: DataFrame, spec: MarketSpec,
             catalogue: tuple[Derivative, ...]) -> DataFrame:
    """Listing day, derivative (by the fuel mix of that day), age, registration year and mileage."""
    days = AliasTable.of(spark, [_listing_day_weights(spec)])
    by_fuel = AliasTable.of(spark, [derivative_weights(catalogue, fuel) for fuel in FUELS])
    young_mix = [w * math.exp(-YOUNG_FLEET_DECAY * age) for age, w in enumerate(AGE_MIX)]
    ages = AliasTable.of(spark, [list(AGE_MIX), young_mix])

    frame = days.draw(frame, spec.seed, _DAY, "_day")
    fuel_index = categorical(F.col("_u_fuel"), _fuel_cumulative(F.col("_day") / spec.history_days))
    frame = by_fuel.draw(frame, spec.seed, _DERIVATIVE, "_derivative", group=fuel_index)
    frame = frame.join(F.broadcast(_catalogue_frame(spark, catalogue)), "_derivative")
    young = F.col("fuel").isin("electric", "plug_in_hybrid")
    frame = ages.draw(frame, spec.seed, _AGE, "_age_years", group=young.cast("int"))

    age = F.col("_age")
    yearly_miles = TYPICAL_MILES_A_YEAR * _lookup(FUEL_MILEAGE, F.col("fuel")) * F.exp(0.35 * F.col("_z_mileage"))
    registered = F.date_sub(F.col("listed_date"), F.round(age * 365.25).cast("int"))
    return (frame
            .withColumn("listed_date", F.date_add(F.lit(spec.first_day), F.col("_day")))
            .withColumn("_age", F.col("_age_years") + F.col("_u_age_fraction"))
            .withColumn("registration_year", F.year(registered))
            .withColumn("mileage", F.least(F.greatest(F.round(yearly_miles * age), F.lit(10.0)),
                                           F.lit(350_000.0)).cast("long")))


def _prices(frame: DataFrame) -> DataFrame:
    """Valuation from the depreciation curve, and the seller's asking price around it."""
    age = F.col("_age")
    excess_miles = (F.col("mileage") - TYPICAL_MILES_A_YEAR * age) / 10_000
    log_value = (F.log("new_price") - 0.12 - F.col("_depreciation") * age - 0.045 * excess_miles
                 + 0.06 * F.col("_z_valuation"))
    ambitious = F.when(F.col("_u_ambitious") < 0.05, 0.22).otherwise(0.0)
    asking = F.col("_raw_asking")
    charm_priced = F.when(asking >= 1_000, F.round(asking / 50) * 50 - 5) \
        .otherwise(F.greatest(F.round(asking / 10) * 10, F.lit(100.0)))
    return (frame
            .withColumn("valuation", F.greatest(F.round(F.exp(log_value)), F.lit(250.0)))
            .withColumn("_raw_asking", F.col("valuation") * F.exp(0.03 + 0.07 * F.col("_z_asking") + ambitious))
            .withColumn("asking_price", charm_priced))


def _sale(frame: DataFrame, spec: MarketSpec) -> DataFrame:
    """The sale date from the ground truth and its noise (null if after the snapshot), and the ids."""
    noisy = F.exp(expected_log_days(spec) + NOISE_SCALE * F.col("_noise"))
    sold = F.col("_sold")
    # 3^18 is coprime with 10^9, so this map is one-to-one: every advert gets its own vehicle id.
    vehicle_number = (F.col("id") * 387_420_489 + _offset(spec.seed)) % 1_000_000_000
    return (frame
            .withColumn("_sold", F.date_add(F.col("listed_date"), _clip_days(F.round(noisy)).cast("int")))
            .withColumn("sold_date", F.when(sold <= F.lit(spec.snapshot), sold))
            .withColumn("advert_id", F.concat(F.lit("ADV"), F.lpad((F.col("id") + 1).cast("string"), 9, "0")))
            .withColumn("vehicle_id", F.concat(F.lit("VEH"), F.lpad(vehicle_number.cast("string"), 9, "0"))))


def _fuel_cumulative(t: Column) -> list[Column]:
    """Cumulative fuel shares at ``t``: each share is linear in t, and so is each running total."""
    totals, start, end = [], 0.0, 0.0
    for fuel in FUELS:
        start, end = start + fuel_share(fuel, 0.0), end + fuel_share(fuel, 1.0)
        totals.append(F.lit(start) + (end - start) * t)
    return totals


def _district() -> Column:
    """Area plus district number; the City and West Central areas use lettered districts (EC1A)."""
    u = F.col("_u_district")
    number = (1 + F.floor(u * 20)).cast("string")
    central_number = (1 + F.floor(u * 4)).cast("string")
    letter = F.substring(F.lit("ABCDEFGHJMNPRVWY"), (1 + F.floor(F.col("_u_letter") * 16)).cast("int"), 1)
    central = F.col("postcode_area").isin("EC", "WC")
    return F.concat(F.col("postcode_area"), F.when(central, F.concat(central_number, letter)).otherwise(number))


def _listing_day_weights(spec: MarketSpec) -> list[float]:
    weights = []
    for offset in range(spec.history_days):
        day = spec.first_day + timedelta(days=offset)
        spring = 1.0 + 0.20 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 95) / 365.25)
        christmas = 0.5 if (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day == 1) else 1.0
        sunday = 0.8 if day.weekday() == 6 else 1.0
        growth = 1.0 + 0.10 * offset / spec.history_days
        weights.append(spring * christmas * sunday * growth)
    return weights


def _catalogue_frame(spark: SparkSession, catalogue: tuple[Derivative, ...]) -> DataFrame:
    rows = [(i, d.make, d.model, d.fuel, d.body_type, d.new_price, d.demand_score, d.depreciation)
            for i, d in enumerate(catalogue)]
    schema = "_derivative int, make string, model string, fuel string, body_type string, new_price double, " \
             "demand_score double, _depreciation double"
    return spark.createDataFrame(rows, schema)


def _area_frame(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([(i, area, region) for i, (area, region, _, _) in enumerate(POSTCODE_AREAS)],
                                 "_area int, postcode_area string, region string")


def _taxonomy(spark: SparkSession, catalogue: tuple[Derivative, ...]) -> DataFrame:
    return _catalogue_frame(spark, catalogue).select("make", "model", "fuel", "body_type", "new_price",
                                                     "demand_score")


def _geography(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(list(POSTCODE_AREAS),
                                 "postcode_area string, region string, latitude double, longitude double")


def _lookup(table: dict[str, float], key: Column) -> Column:
    return F.create_map(*(F.lit(x) for item in table.items() for x in item))[key]


def _clip_days(days: Column) -> Column:
    return F.least(F.greatest(days, F.lit(float(MIN_DAYS))), F.lit(float(MAX_DAYS)))


def _offset(seed: int) -> int:
    """Where a seed's vehicle numbers start: a multiplicative hash of the seed."""
    return (seed * 2_654_435_761) % 1_000_000_000
