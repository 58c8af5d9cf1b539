"""Pandera models read as row rules: the diagnosis finds what Pandera finds, and names the rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyspark.sql.types as T
import pytest
from pyspark.sql import functions as F

from daystosell_assets import schemas
from daystosell_assets.quality.checks import pandera_errors
from daystosell_assets.quality.diagnose import diagnose, orphans
from daystosell_assets.quality.rules import conform_types, contract

pytestmark = pytest.mark.spark

MODELS = (schemas.Adverts, schemas.Taxonomy, schemas.Valuations, schemas.Geography, schemas.TrainingSet)


def _valuations(spark: Any, rows: list[tuple[Any, ...]]) -> Any:
    schema = T.StructType([T.StructField("vehicle_id", T.StringType()), T.StructField("valued_on", T.DateType()),
                           T.StructField("valuation", T.DoubleType())])
    return spark.createDataFrame(rows, schema)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_pandera_check_of_every_model_has_a_row_rule(spark: Any, model: Any) -> None:
    rules = contract(model)
    pandera_checks = sum(len(c.checks) for c in model.to_schema().columns.values())
    not_nullable = sum(not c.nullable for c in model.to_schema().columns.values())
    assert len(rules.rules) == pandera_checks + not_nullable
    assert rules.unique, f"{model.__name__} names its key"


def test_a_sound_frame_passes_both_readings(spark: Any) -> None:
    df = _valuations(spark, [("VEH1", date(2026, 1, 2), 9_000.0), ("VEH2", date(2026, 1, 3), 12_500.0)])
    assert pandera_errors(schemas.Valuations, df) == []
    assert diagnose(df, contract(schemas.Valuations), ["vehicle_id"]).passed


def test_each_broken_rule_is_counted_and_shown_with_its_rows(spark: Any) -> None:
    df = _valuations(spark, [
        ("VEH1", date(2026, 1, 2), 9_000.0),
        ("VEH2", date(2026, 1, 2), 50.0),          # below the floor
        ("VEH3", date(2026, 1, 2), 3_000_000.0),   # above the ceiling
        ("VEH4", None, 7_000.0),                   # no date
        ("VEH1", date(2026, 2, 2), 9_100.0),       # a second, different row for VEH1
        (None, date(2026, 1, 2), 8_000.0),         # no key: not a duplicate, a null
    ])
    errors = pandera_errors(schemas.Valuations, df)
    diagnosis = diagnose(df, contract(schemas.Valuations), ["vehicle_id"])
    found = {(f.check, f.column): f for f in diagnosis.findings}
    assert set(found) == {("greater_than_or_equal_to", "valuation"), ("less_than_or_equal_to", "valuation"),
                          ("not_nullable", "valued_on"), ("not_nullable", "vehicle_id"), ("unique", "vehicle_id")}
    assert found["greater_than_or_equal_to", "valuation"].sample == [{"vehicle_id": "VEH2", "valuation": 50.0}]
    assert found["unique", "vehicle_id"].rows == 2
    assert found["unique", "vehicle_id"].sample == [{"vehicle_id": "VEH1", "rows": 2}]
    assert diagnosis.rows == 6
    # Pandera flags the same columns; it just cannot say which rows.
    assert {e["column"] for e in errors} >= {"valuation", "valued_on", "vehicle_id"}


def test_a_missing_or_retyped_column_is_a_finding_and_its_value_rules_are_skipped(spark: Any) -> None:
    df = _valuations(spark, [("VEH1", date(2026, 1, 2), 9_000.0)])
    df = df.withColumn("valuation", F.col("valuation").cast("string")).drop("valued_on")
    findings = diagnose(df, contract(schemas.Valuations), ["vehicle_id"]).findings
    assert [(f.check, f.column) for f in findings] == [("column_present", "valued_on"), ("dtype", "valuation")]
    assert "is string, expected double" in findings[1].problem


def test_only_lossless_casts_are_made(spark: Any) -> None:
    df = _valuations(spark, [("VEH1", date(2026, 1, 2), 9_000.0)])
    narrow = df.withColumn("valuation", F.col("valuation").cast("int"))
    text = df.withColumn("valuation", F.col("valuation").cast("string"))
    assert conform_types(narrow, schemas.Valuations).schema["valuation"].dataType == T.DoubleType()
    assert conform_types(text, schemas.Valuations).schema["valuation"].dataType == T.StringType()


def test_orphans_are_the_rows_with_no_match(spark: Any) -> None:
    adverts = spark.createDataFrame([("ADV1", "LS"), ("ADV2", "QQ"), ("ADV3", "QQ"), ("ADV4", None)],
                                    "advert_id string, postcode_area string")
    areas = spark.createDataFrame([("LS",)], "postcode_area string")
    finding = orphans(adverts, areas, ("postcode_area",), ("advert_id",), reference_name="geography")
    assert finding is not None
    assert finding.rows == 2
    assert "1 unknown values on 2 rows" in finding.problem
    assert finding.sample == [{"advert_id": "ADV2", "postcode_area": "QQ"},
                              {"advert_id": "ADV3", "postcode_area": "QQ"}]
    assert orphans(adverts.where("postcode_area = 'LS'"), areas, ("postcode_area",), ("advert_id",),
                   reference_name="geography") is None
