"""The days-to-sell pipeline: every feature is computed by a stage MLeap can serialise, so the scoring
service receives raw advert fields and holds no feature logic of its own.

The feature stages are fitted once; the regressor at the end is whichever estimator the evidence picks
(``ml/candidates.py``). Unknown categories at serving time (a new make, an unheard-of postcode area) fall into
an "unknown" slot of their encoding and never raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.feature import Bucketizer, OneHotEncoder, StringIndexer, VectorAssembler

from daystosell_assets.lake.geography import REGIONS
from daystosell_assets.ml.math_binary import MathBinary
from daystosell_assets.ml.math_unary import MathUnary
from daystosell_assets.ml.string_map import StringMap

CATEGORICAL_INPUTS = ("make", "model", "fuel", "body_type", "postcode_area")
NUMERIC_INPUTS = ("registration_year", "listing_year", "listing_month", "mileage", "asking_price", "valuation")
INPUT_COLUMNS = CATEGORICAL_INPUTS + NUMERIC_INPUTS
LABEL = "days_to_sell"
PREDICTION = "prediction"
FEATURES = "features"

# Bands give the linear models the non-linear shape of age and price position (trees find their own splits);
# the outer edges are infinite so every number has a band.
AGE_SPLITS = (-math.inf, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, math.inf)
PRICE_POSITION_SPLITS = (-math.inf, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, math.inf)
# A postcode area missing from the geography table: one past the last region.
UNKNOWN_REGION = float(len(REGIONS))

# One-hot encoded columns, named <input>_onehot in the assembled vector.
DERIVED_CATEGORIES = ("region", "listing_month", "age_band", "price_band")
ENCODED = (*CATEGORICAL_INPUTS, *DERIVED_CATEGORIES)
NUMERIC_FEATURES = ("price_position", "log_price_position", "vehicle_age", "mileage", "mileage_per_year",
                    "valuation", "listing_month")


def region_map(area_regions: Mapping[str, str]) -> StringMap:
    """postcode_area -> region index (the order of ``REGIONS``), so the region is a feature without being an
    input a client has to send."""
    areas = sorted(area_regions)
    unknown = sorted({r for r in area_regions.values()} - set(REGIONS))
    if unknown:
        raise ValueError(f"regions not in the geography's list: {unknown}")
    return StringMap(inputCol="postcode_area", outputCol="region_index", labels=areas,
                     values=[float(REGIONS.index(area_regions[a])) for a in areas],
                     handleInvalid="keep", defaultValue=UNKNOWN_REGION)


def feature_stages(area_regions: Mapping[str, str]) -> list[Any]:
    """The stages from raw advert fields to the ``features`` vector."""
    # One StringIndexer per column: MLeap runtimes before 0.21 read single-column indexers only.
    indexers = [StringIndexer(inputCol=c, outputCol=f"{c}_index", handleInvalid="keep", stringOrderType="frequencyDesc")
                for c in CATEGORICAL_INPUTS]
    arithmetic = [
        region_map(area_regions),
        MathBinary(inputA="asking_price", inputB="valuation", outputCol="price_position", operation="div"),
        MathUnary(inputCol="price_position", outputCol="log_price_position", operation="log"),
        MathBinary(inputA="listing_year", inputB="registration_year", outputCol="vehicle_age", operation="sub"),
        # A car registered this year has age 0: a one-year floor keeps mileage per year finite.
        MathBinary(inputA="vehicle_age", db=1.0, outputCol="vehicle_age_floor", operation="max"),
        MathBinary(inputA="mileage", inputB="vehicle_age_floor", outputCol="mileage_per_year", operation="div"),
        # Months 1..12 as category indices 0..11.
        MathBinary(inputA="listing_month", db=1.0, outputCol="listing_month_index", operation="sub"),
        Bucketizer(inputCol="vehicle_age", outputCol="age_band_index", splits=list(AGE_SPLITS), handleInvalid="keep"),
        Bucketizer(inputCol="price_position", outputCol="price_band_index", splits=list(PRICE_POSITION_SPLITS),
                   handleInvalid="keep"),
    ]
    # The indexers' outputs carry their labels (an "unknown" one included), so their encoder knows every
    # category. The derived indices do not: their encoder sizes them from the training rows and keeps a slot
    # for an index it never saw (an area missing from the geography), so none is dropped: a dropped last
    # category would read the same as an unknown one.
    encoders = [
        OneHotEncoder(inputCols=[f"{c}_index" for c in CATEGORICAL_INPUTS],
                      outputCols=[f"{c}_onehot" for c in CATEGORICAL_INPUTS], handleInvalid="keep"),
        OneHotEncoder(inputCols=[f"{c}_index" for c in DERIVED_CATEGORIES],
                      outputCols=[f"{c}_onehot" for c in DERIVED_CATEGORIES], handleInvalid="keep", dropLast=False),
    ]
    assembler = VectorAssembler(inputCols=[f"{c}_onehot" for c in ENCODED] + list(NUMERIC_FEATURES),
                                outputCol=FEATURES)
    return [*indexers, *arithmetic, *encoders, assembler]


def with_regressor(features: PipelineModel, regressor: Any) -> PipelineModel:
    """The fitted feature stages followed by a fitted regressor: the model the bundle is made from."""
    return PipelineModel(stages=[*features.stages, regressor])
