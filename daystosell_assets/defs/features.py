"""The training set: sold adverts joined with what is known about the vehicle, its price and place."""


from dagster import asset
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets import schemas
from daystosell_assets.checks import schema_check
from daystosell_assets.ml.pipeline import LABEL


@asset(group_name="features", kinds={"spark", "parquet"},
       description="One row per sold advert: the model's raw inputs and the label `days_to_sell`.")
def training_set(adverts: DataFrame, taxonomy: DataFrame, valuations: DataFrame,
                 geography: DataFrame) -> DataFrame:
    sold = adverts.where(F.col("sold_date").isNotNull())
    return (
        sold.join(valuations.select("vehicle_id", "valuation"), "vehicle_id")
        .join(taxonomy.select("make", "model", "fuel"), ["make", "model", "fuel"])
        .join(geography.select("postcode_area", "region"), "postcode_area")
        .select(
            "advert_id", "make", "model", "fuel", "body_type", "postcode_area", "region",
            F.col("registration_year").cast("double").alias("registration_year"),
            F.year("listed_date").cast("double").alias("listing_year"),
            F.col("mileage").cast("double").alias("mileage"),
            "asking_price", "valuation", "listed_date",
            F.datediff("sold_date", "listed_date").cast("double").alias(LABEL),
        )
    )


training_set_check = schema_check("training_set", schemas.TrainingSet)
