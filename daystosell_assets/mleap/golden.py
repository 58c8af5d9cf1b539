"""Chooses golden rows for a bundle and records Spark's own prediction for each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from daystosell_assets.ml.pipeline import CATEGORICAL_INPUTS, INPUT_COLUMNS, NUMERIC_INPUTS, PREDICTION
from daystosell_service.golden import GoldenRow

# The advert API takes years as whole numbers; golden rows carry inputs as a client sends them.
WHOLE_NUMBER_INPUTS = ("registration_year", "listing_year", "listing_month")

INPUT_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType(), False) for c in CATEGORICAL_INPUTS]
    + [T.StructField(c, T.DoubleType(), False) for c in NUMERIC_INPUTS])


def sample_inputs(df: DataFrame, n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` rows of model inputs, chosen by a seeded hash so the same data gives the same rows."""
    picked = (df.select(*INPUT_COLUMNS)
              .orderBy(F.xxhash64(*INPUT_COLUMNS, F.lit(seed)))
              .limit(n).collect())
    return [{k: int(v) if k in WHOLE_NUMBER_INPUTS else v for k, v in row.asDict().items()} for row in picked]


def edge_cases(base: dict[str, Any]) -> list[dict[str, Any]]:
    """Inputs a live service will see that the training data may not hold: unseen categories,
    a car registered in its listing year, extreme mileage and prices."""
    return [
        {**base, "make": "Trabant", "model": "601"},
        {**base, "model": "Unheard Of"},
        {**base, "postcode_area": "ZZ"},
        {**base, "fuel": "hydrogen", "body_type": "pickup"},
        {**base, "registration_year": base["listing_year"]},
        {**base, "mileage": 0.0},
        {**base, "mileage": 350_000.0},
        {**base, "asking_price": base["valuation"] * 3.0},
        {**base, "asking_price": base["valuation"] * 0.4},
    ]


def spark_golden_rows(spark: SparkSession, model: PipelineModel,
                      inputs: Sequence[dict[str, Any]]) -> list[GoldenRow]:
    """Spark's prediction for each input row, in input order."""
    indexed = [(i, *[row[c] if c in CATEGORICAL_INPUTS else float(row[c]) for c in INPUT_COLUMNS])
               for i, row in enumerate(inputs)]
    schema = T.StructType([T.StructField("_golden_index", T.LongType(), False), *INPUT_SCHEMA.fields])
    frame = spark.createDataFrame([tuple(r) for r in indexed], schema)
    scored = model.transform(frame).select("_golden_index", PREDICTION).orderBy("_golden_index").collect()
    return [GoldenRow(inputs=dict(inputs[r["_golden_index"]]), prediction=float(r[PREDICTION])) for r in scored]
