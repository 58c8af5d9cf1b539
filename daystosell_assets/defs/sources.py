"""The four source datasets, read from the lake's raw zone into typed, de-duplicated curated tables.

A feed re-sends rows: exact duplicates are collapsed here. Two different rows for one key are a fault, and
are left for the checks to report, as are columns of the wrong type (only lossless casts are made).
"""

from collections.abc import Callable
from typing import Any

import pandera.pyspark as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetIn,
    Output,
    asset,
    asset_check,
)
from dagster_pyspark import PySparkResource
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets import schemas
from daystosell_assets.defs.owners import DATA_PLATFORM
from daystosell_assets.profiling import bar_chart, column_summary, histogram, top_values
from daystosell_assets.quality.checks import findings_metadata, row_count_check, schema_check
from daystosell_assets.quality.diagnose import orphans
from daystosell_assets.quality.rules import conform_types
from daystosell_assets.resources import LakeResource

GROUP = "lake"
KEYS = {"adverts": ("advert_id",), "taxonomy": ("make", "model", "fuel"), "valuations": ("vehicle_id",),
        "geography": ("postcode_area",)}
Plots = Callable[[DataFrame], dict[str, Any]]


def curate(pyspark: PySparkResource, lake: LakeResource, name: str, model: type[pa.DataFrameModel],
           derive: Callable[[DataFrame], DataFrame] = lambda df: df, plots: Plots = lambda df: {}) -> Output[DataFrame]:
    """Reads ``raw/<name>``, casts what casts losslessly, drops exact re-deliveries, and describes the result."""
    location = lake.layout.raw(name)
    raw = lake.spark(pyspark).read.parquet(location)
    curated = derive(conform_types(raw, model).dropDuplicates())
    raw_rows = raw.count()
    rows, summary = column_summary(curated)
    return Output(curated, metadata={
        "raw_location": location,
        "raw_rows": raw_rows,
        "exact_duplicates_dropped": raw_rows - rows,
        "columns": summary,
        **(plots(curated) if rows else {}),
    })


def _has(df: DataFrame, *columns: str) -> bool:
    return set(columns) <= set(df.columns)


def _advert_plots(df: DataFrame) -> dict[str, Any]:
    plots: dict[str, Any] = {}
    if _has(df, "listed_date", "sold_date"):
        sold = df.where(F.col("sold_date").isNotNull())
        plots["days_to_sell"] = histogram(sold, F.datediff("sold_date", "listed_date"), bins=60, range_=(0, 180),
                                          title="Days to sell (sold adverts)", xlabel="days")
        plots["listings_by_month"] = bar_chart(
            [(r["month"], r["n"]) for r in df.groupBy(F.date_format("listed_date", "yyyy-MM").alias("month"))
             .agg(F.count(F.lit(1)).alias("n")).orderBy("month").collect()],
            title="Adverts listed per month")
    if _has(df, "fuel"):
        plots["fuel_share"] = bar_chart(top_values(df, "fuel"), title="Adverts by fuel")
    return plots


def _postcode_area(df: DataFrame) -> DataFrame:
    if not _has(df, "postcode_district"):
        return df
    return df.withColumn("postcode_area", F.regexp_extract("postcode_district", r"^([A-Z]{1,2})", 1))


@asset(group_name=GROUP, kinds={"spark", "parquet"}, owners=DATA_PLATFORM, code_version="1",
       description="Adverts as listed: vehicle, price, where the seller is, when it listed and (if it has) sold.")
def adverts(pyspark: PySparkResource, lake: LakeResource) -> Output[DataFrame]:
    return curate(pyspark, lake, "adverts", schemas.Adverts, derive=_postcode_area, plots=_advert_plots)


@asset(group_name=GROUP, kinds={"spark", "parquet"}, owners=DATA_PLATFORM, code_version="1",
       description="Make / model / fuel derivatives with body type, new price and demand score.")
def taxonomy(pyspark: PySparkResource, lake: LakeResource) -> Output[DataFrame]:
    return curate(pyspark, lake, "taxonomy", schemas.Taxonomy, plots=lambda df: {
        "derivatives_by_make": bar_chart(top_values(df, "make", n=20), title="Derivatives by make (top 20)")}
        if _has(df, "make") else {})


@asset(group_name=GROUP, kinds={"spark", "parquet"}, owners=DATA_PLATFORM, code_version="1",
       description="The trade valuation of each vehicle when it was listed.")
def valuations(pyspark: PySparkResource, lake: LakeResource) -> Output[DataFrame]:
    return curate(pyspark, lake, "valuations", schemas.Valuations, plots=lambda df: {
        "valuation": histogram(df, "valuation", title="Valuations", xlabel="GBP")}
        if _has(df, "valuation") else {})


@asset(group_name=GROUP, kinds={"spark", "parquet"}, owners=DATA_PLATFORM, code_version="1",
       description="UK postcode areas with their region and centroid.")
def geography(pyspark: PySparkResource, lake: LakeResource) -> Output[DataFrame]:
    return curate(pyspark, lake, "geography", schemas.Geography, plots=lambda df: {
        "areas_by_region": bar_chart(top_values(df, "region"), title="Postcode areas by region")}
        if _has(df, "region") else {})


# (reference asset, columns an advert shares with it)
ADVERT_REFERENCES = (("taxonomy", ("make", "model", "fuel")), ("geography", ("postcode_area",)),
                     ("valuations", ("vehicle_id",)))


@asset_check(asset="adverts", name="adverts_references", blocking=True,
             additional_ins={name: AssetIn(name) for name, _ in ADVERT_REFERENCES},
             description="Every advert's make/model/fuel is in `taxonomy`, its postcode area in `geography`, and "
                         "its vehicle has a valuation.")
def adverts_references(context: AssetCheckExecutionContext, adverts: DataFrame, taxonomy: DataFrame,
                       geography: DataFrame, valuations: DataFrame) -> AssetCheckResult:
    frames = {"taxonomy": taxonomy, "geography": geography, "valuations": valuations}
    findings = [
        finding for name, columns in ADVERT_REFERENCES
        # A missing column is the schema check's finding; here it would only fail to join.
        if _has(adverts, *columns) and _has(frames[name], *columns)
        and (finding := orphans(adverts, frames[name], columns, KEYS["adverts"], reference_name=name)) is not None
    ]
    for finding in findings:
        context.log.error(finding.problem)
    return AssetCheckResult(passed=not findings, severity=AssetCheckSeverity.ERROR,
                            metadata={"failing_rows": sum(f.rows or 0 for f in findings),
                                      **findings_metadata(findings)})


MODELS: dict[str, type[pa.DataFrameModel]] = {"adverts": schemas.Adverts, "taxonomy": schemas.Taxonomy,
                                              "valuations": schemas.Valuations, "geography": schemas.Geography}
source_checks = [
    *[schema_check(name, model, KEYS[name]) for name, model in MODELS.items()],
    *[row_count_check(name) for name in MODELS],
    adverts_references,
]
