"""Pandera models: one per dataset asset, the contract each must meet before anything downstream runs."""

from __future__ import annotations

import pandera.pyspark as pa
import pyspark.sql.types as T

from daystosell_assets.lake.geography import REGIONS
from daystosell_assets.lake.simulator import BODY_TYPES, FUELS


class Adverts(pa.DataFrameModel):
    advert_id: T.StringType() = pa.Field(nullable=False, str_matches=r"^ADV\d+$")
    vehicle_id: T.StringType() = pa.Field(nullable=False)
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False, isin=list(FUELS))
    body_type: T.StringType() = pa.Field(nullable=False, isin=list(BODY_TYPES))
    registration_year: T.IntegerType() = pa.Field(nullable=False, ge=1950, le=2100)
    mileage: T.LongType() = pa.Field(nullable=False, ge=0, le=1_000_000)
    asking_price: T.DoubleType() = pa.Field(nullable=False, gt=0, le=10_000_000)
    postcode_district: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}\d{1,2}[A-Z]?$")
    postcode_area: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}$")
    listed_date: T.DateType() = pa.Field(nullable=False)
    sold_date: T.DateType() = pa.Field(nullable=True)


class Taxonomy(pa.DataFrameModel):
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False, isin=list(FUELS))
    body_type: T.StringType() = pa.Field(nullable=False, isin=list(BODY_TYPES))
    new_price: T.DoubleType() = pa.Field(nullable=False, gt=0)
    demand_score: T.DoubleType() = pa.Field(nullable=False, ge=-10, le=10)


class Valuations(pa.DataFrameModel):
    vehicle_id: T.StringType() = pa.Field(nullable=False)
    valued_on: T.DateType() = pa.Field(nullable=False)
    valuation: T.DoubleType() = pa.Field(nullable=False, gt=0, le=10_000_000)


class Geography(pa.DataFrameModel):
    postcode_area: T.StringType() = pa.Field(nullable=False, str_matches=r"^[A-Z]{1,2}$")
    region: T.StringType() = pa.Field(nullable=False, isin=list(REGIONS))
    latitude: T.DoubleType() = pa.Field(nullable=False, ge=49.0, le=61.0)
    longitude: T.DoubleType() = pa.Field(nullable=False, ge=-9.0, le=2.0)


class TrainingSet(pa.DataFrameModel):
    advert_id: T.StringType() = pa.Field(nullable=False)
    make: T.StringType() = pa.Field(nullable=False)
    model: T.StringType() = pa.Field(nullable=False)
    fuel: T.StringType() = pa.Field(nullable=False)
    body_type: T.StringType() = pa.Field(nullable=False)
    postcode_area: T.StringType() = pa.Field(nullable=False)
    region: T.StringType() = pa.Field(nullable=False)
    registration_year: T.DoubleType() = pa.Field(nullable=False)
    listing_year: T.DoubleType() = pa.Field(nullable=False)
    mileage: T.DoubleType() = pa.Field(nullable=False, ge=0)
    asking_price: T.DoubleType() = pa.Field(nullable=False, gt=0)
    valuation: T.DoubleType() = pa.Field(nullable=False, gt=0)
    listed_date: T.DateType() = pa.Field(nullable=False)
    days_to_sell: T.DoubleType() = pa.Field(nullable=False, ge=0, le=3650)
