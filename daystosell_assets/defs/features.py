"""The training set: sold adverts joined with what is known about the vehicle, its price and place."""


from dagster import Output, asset
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets import schemas
from daystosell_assets.defs.owners import DATA_PLATFORM
from daystosell_assets.ml.pipeline import LABEL
from daystosell_assets.profiling import column_summary, histogram
from daystosell_assets.quality.checks import row_count_check, schema_check


def advert_inputs(adverts: DataFrame, taxonomy: DataFrame, valuations: DataFrame,
                  geography: DataFrame) -> DataFrame:
    """Every advert with the model's raw inputs as a client sends them (years and mileage as numbers), its
    listing date and, if it sold, its sale date: one definition for training and for scoring live stock."""
    return (
        adverts.join(valuations.select("vehicle_id", "valuation"), "vehicle_id")
        .join(taxonomy.select("make", "model", "fuel"), ["make", "model", "fuel"])
        .join(geography.select("postcode_area", "region"), "postcode_area")
        .select(
            "advert_id", "make", "model", "fuel", "body_type", "postcode_area", "region",
            F.col("registration_year").cast("double").alias("registration_year"),
            F.year("listed_date").cast("double").alias("listing_year"),
            F.month("listed_date").cast("double").alias("listing_month"),
            F.col("mileage").cast("double").alias("mileage"),
            "asking_price", "valuation", "listed_date", "sold_date",
        )
    )


@asset(group_name="features", kinds={"spark", "parquet"}, owners=DATA_PLATFORM, code_version="2",
       description="One row per sold advert: the model's raw inputs and the label `days_to_sell`.")
def training_set(adverts: DataFrame, taxonomy: DataFrame, valuations: DataFrame,
                 geography: DataFrame) -> Output[DataFrame]:
    df = (advert_inputs(adverts, taxonomy, valuations, geography)
          .where(F.col("sold_date").isNotNull())
          .withColumn(LABEL, F.datediff("sold_date", "listed_date").cast("double"))
          .drop("sold_date"))
    rows, summary = column_summary(df)
    return Output(df, metadata={
        "columns": summary,
        **({"price_position": histogram(df, F.col("asking_price") / F.col("valuation"), bins=50,
                                        title="Price position (asking price / valuation)", xlabel="ratio"),
            "days_to_sell": histogram(df, LABEL, bins=60, range_=(0, 180), title="Days to sell", xlabel="days")}
           if rows else {}),
    })


training_set_checks = [schema_check("training_set", schemas.TrainingSet, ("advert_id",)),
                       row_count_check("training_set")]
