"""The four source datasets, read from the lake's raw zone into typed, de-duplicated curated tables."""


from dagster import asset
from dagster_pyspark import PySparkResource
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets import schemas
from daystosell_assets.checks import schema_check
from daystosell_assets.resources import LakeResource

GROUP = "lake"


def _raw(pyspark: PySparkResource, lake: LakeResource, name: str) -> DataFrame:
    return pyspark.spark_session.read.parquet(str(lake.layout.raw(name)))


@asset(group_name=GROUP, kinds={"spark", "parquet"},
       description="Adverts as listed: vehicle, price, where the seller is, when it listed and sold.")
def adverts(pyspark: PySparkResource, lake: LakeResource) -> DataFrame:
    raw = _raw(pyspark, lake, "adverts")
    return (raw.dropDuplicates(["advert_id"])
            .withColumn("registration_year", F.col("registration_year").cast("int"))
            .withColumn("mileage", F.col("mileage").cast("long"))
            .withColumn("asking_price", F.col("asking_price").cast("double"))
            .withColumn("postcode_area", F.regexp_extract("postcode_district", r"^([A-Z]{1,2})", 1)))


@asset(group_name=GROUP, kinds={"spark", "parquet"},
       description="Make / model / fuel derivatives with body type, new price and demand score.")
def taxonomy(pyspark: PySparkResource, lake: LakeResource) -> DataFrame:
    return _raw(pyspark, lake, "taxonomy").dropDuplicates(["make", "model", "fuel"])


@asset(group_name=GROUP, kinds={"spark", "parquet"},
       description="The trade valuation of each vehicle when it was listed.")
def valuations(pyspark: PySparkResource, lake: LakeResource) -> DataFrame:
    return (_raw(pyspark, lake, "valuations").dropDuplicates(["vehicle_id"])
            .withColumn("valuation", F.col("valuation").cast("double")))


@asset(group_name=GROUP, kinds={"spark", "parquet"},
       description="UK postcode areas with their region and centroid.")
def geography(pyspark: PySparkResource, lake: LakeResource) -> DataFrame:
    return _raw(pyspark, lake, "geography").dropDuplicates(["postcode_area"])


source_checks = [
    schema_check("adverts", schemas.Adverts),
    schema_check("taxonomy", schemas.Taxonomy),
    schema_check("valuations", schemas.Valuations),
    schema_check("geography", schemas.Geography),
]
