"""The days-to-sell pipeline: every feature is computed by a stage MLeap can serialise, so the scoring
service receives raw advert fields and holds no feature logic of its own."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml import Pipeline
from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.regression import GBTRegressor

from daystosell_assets.ml.math_binary import MathBinary

CATEGORICAL_INPUTS = ("make", "model", "fuel", "body_type", "postcode_area")
NUMERIC_INPUTS = ("registration_year", "listing_year", "mileage", "asking_price", "valuation")
INPUT_COLUMNS = CATEGORICAL_INPUTS + NUMERIC_INPUTS
LABEL = "days_to_sell"
PREDICTION = "prediction"


@dataclass(frozen=True)
class GbtParams:
    max_iter: int = 50
    max_depth: int = 5
    step_size: float = 0.1
    subsampling_rate: float = 1.0
    seed: int = 7


def build_pipeline(params: GbtParams) -> Pipeline:
    # One StringIndexer per column: MLeap runtimes before 0.21 read single-column indexers only.
    indexers = [StringIndexer(inputCol=c, outputCol=f"{c}_index", handleInvalid="keep", stringOrderType="frequencyDesc")
                for c in CATEGORICAL_INPUTS]
    encoder = OneHotEncoder(inputCols=[f"{c}_index" for c in CATEGORICAL_INPUTS],
                            outputCols=[f"{c}_onehot" for c in CATEGORICAL_INPUTS])
    features = [
        MathBinary(inputA="asking_price", inputB="valuation", outputCol="price_position", operation="div"),
        MathBinary(inputA="listing_year", inputB="registration_year", outputCol="vehicle_age", operation="sub"),
        # A car registered this year has age 0: a one-year floor keeps mileage per year finite.
        MathBinary(inputA="vehicle_age", db=1.0, outputCol="vehicle_age_floor", operation="max"),
        MathBinary(inputA="mileage", inputB="vehicle_age_floor", outputCol="mileage_per_year", operation="div"),
    ]
    assembler = VectorAssembler(
        inputCols=[f"{c}_onehot" for c in CATEGORICAL_INPUTS]
        + ["price_position", "vehicle_age", "mileage", "mileage_per_year", "valuation"],
        outputCol="features")
    regressor = GBTRegressor(featuresCol="features", labelCol=LABEL, predictionCol=PREDICTION,
                             maxIter=params.max_iter, maxDepth=params.max_depth, stepSize=params.step_size,
                             subsamplingRate=params.subsampling_rate, seed=params.seed)
    return Pipeline(stages=[*indexers, encoder, *features, assembler, regressor])
