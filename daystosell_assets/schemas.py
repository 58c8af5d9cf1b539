"""Pandera models: one per dataset asset, the contract each must meet before anything downstream runs.

Ranges are where a value stops being a used car on sale in the UK and becomes a fault in the feed: a
price of £0 or £50m, a mileage of a million, a registration year in the future.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import pandera.pyspark as pa
import pyspark.sql.types as T

from daystosell_assets.lake.geography import REGIONS
from daystosell_assets.lake.simulator import BODY_TYPES, FUELS

# Next year's registrations are on sale from the autumn before.
LATEST_REGISTRATION = date.today().year + 1
MAX_PRICE = 2_000_000.0
MAX_DAYS_TO_SELL = 730.0


class Adverts(pa.DataFrameModel):
    advert_id: T.StringType() = pa.Field(nullable=False, str_matches=r"^ADV\d+$")
    vehicle_id: T.StringType() = pa.Field(nullable=False)
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False, isin=list(FUELS))
    body_type: T.StringType() = pa.Field(nullable=False, isin=list(BODY_TYPES))
    registration_year: T.IntegerType() = pa.Field(nullable=False, ge=1950, le=LATEST_REGISTRATION)
    mileage: T.LongType() = pa.Field(nullable=False, ge=0, le=1_000_000)
    asking_price: T.DoubleType() = pa.Field(nullable=False, ge=100, le=MAX_PRICE)
    postcode_district: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}\d{1,2}[A-Z]?$")
    postcode_area: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}$")
    listed_date: T.DateType() = pa.Field(nullable=False)
    sold_date: T.DateType() = pa.Field(nullable=True)

    class Config:
        unique: ClassVar[list[str]] = ["advert_id"]


class Taxonomy(pa.DataFrameModel):
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False, isin=list(FUELS))
    body_type: T.StringType() = pa.Field(nullable=False, isin=list(BODY_TYPES))
    new_price: T.DoubleType() = pa.Field(nullable=False, ge=1_000, le=MAX_PRICE)
    demand_score: T.DoubleType() = pa.Field(nullable=False, ge=-10, le=10)

    class Config:
        unique: ClassVar[list[str]] = ["make", "model", "fuel"]


class Valuations(pa.DataFrameModel):
    vehicle_id: T.StringType() = pa.Field(nullable=False)
    valued_on: T.DateType() = pa.Field(nullable=False)
    valuation: T.DoubleType() = pa.Field(nullable=False, ge=100, le=MAX_PRICE)

    class Config:
        unique: ClassVar[list[str]] = ["vehicle_id"]


class Geography(pa.DataFrameModel):
    postcode_area: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}$")
    region: T.StringType() = pa.Field(nullable=False, isin=list(REGIONS))
    latitude: T.DoubleType() = pa.Field(nullable=False, ge=49.0, le=61.0)
    longitude: T.DoubleType() = pa.Field(nullable=False, ge=-9.0, le=2.0)

    class Config:
        unique: ClassVar[list[str]] = ["postcode_area"]


class TrainingSet(pa.DataFrameModel):
    advert_id: T.StringType() = pa.Field(nullable=False)
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False, isin=list(FUELS))
    body_type: T.StringType() = pa.Field(nullable=False, isin=list(BODY_TYPES))
    postcode_area: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}$")
    region: T.StringType() = pa.Field(nullable=False, isin=list(REGIONS))
    registration_year: T.DoubleType() = pa.Field(nullable=False, ge=1950, le=LATEST_REGISTRATION)
    listing_year: T.DoubleType() = pa.Field(nullable=False, ge=1990, le=LATEST_REGISTRATION)
    listing_month: T.DoubleType() = pa.Field(nullable=False, ge=1, le=12)
    mileage: T.DoubleType() = pa.Field(nullable=False, ge=0, le=1_000_000)
    asking_price: T.DoubleType() = pa.Field(nullable=False, ge=100, le=MAX_PRICE)
    valuation: T.DoubleType() = pa.Field(nullable=False, ge=100, le=MAX_PRICE)
    listed_date: T.DateType() = pa.Field(nullable=False)
    days_to_sell: T.DoubleType() = pa.Field(nullable=False, ge=0, le=MAX_DAYS_TO_SELL)

    class Config:
        unique: ClassVar[list[str]] = ["advert_id"]
