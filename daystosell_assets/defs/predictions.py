"""Live stock scored in the lake: every unsold advert with the days to sell the new bundle predicts, for the
search index. Scored by the service's own Python runtime inside Spark's workers, so lake and HTTP answers are
the same numbers."""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, Failure, Output, asset
from dagster_pyspark import PySparkResource
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.defs.features import advert_inputs
from daystosell_assets.defs.owners import ML_PLATFORM
from daystosell_assets.ml.pipeline import PREDICTION
from daystosell_assets.profiling import histogram
from daystosell_assets.resources import LakeResource
from daystosell_service.mleap import load_bundle

SCHEMA = "advert_id string, predicted_days_to_sell double"


def _scorer(bundle: Any) -> Any:
    """A mapInPandas function scoring each batch with the bundle (zip bytes, broadcast to the workers)."""

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        with tempfile.NamedTemporaryFile(suffix=".zip") as file:
            file.write(bundle.value)
            file.flush()
            model = load_bundle(Path(file.name))
        for batch in batches:
            scored = model.transform_columns({name: batch[name].to_numpy() for name in model.input_schema},
                                             select=[PREDICTION])
            yield pd.DataFrame({"advert_id": batch["advert_id"].to_numpy()[scored.index],
                                "predicted_days_to_sell": scored.columns[PREDICTION]})

    return score


@asset(group_name="serving", kinds={"spark", "mleap"}, deps=[AssetKey("mleap_bundle")], owners=ML_PLATFORM,
       code_version="1",
       description="Every unsold advert with its predicted days to sell from the newest bundle, scored by the "
                   "service's Python runtime: the search-index feed, with the model version on each row.")
def live_advert_predictions(context: AssetExecutionContext, adverts: DataFrame, taxonomy: DataFrame,
                            valuations: DataFrame, geography: DataFrame, pyspark: PySparkResource,
                            lake: LakeResource) -> Output[DataFrame]:
    event = context.instance.get_latest_materialization_event(AssetKey("mleap_bundle"))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        raise Failure("no bundle yet: materialise mleap_bundle first")
    version = str(materialization.metadata["model_version"].value)
    digest = str(materialization.metadata["bundle_digest"].value)
    with tempfile.TemporaryDirectory(prefix="daystosell-live-") as tmp:
        bundle_dir = lake.fetch(str(materialization.metadata["bundle_dir"].value), Path(tmp))
        bundle = pyspark.spark_session.sparkContext.broadcast((bundle_dir / "bundle.zip").read_bytes())

    live = advert_inputs(adverts, taxonomy, valuations, geography).where(F.col("sold_date").isNull())
    predictions = (live.mapInPandas(_scorer(bundle), SCHEMA)
                   .withColumn("model_version", F.lit(version))
                   .withColumn("bundle_digest", F.lit(digest))
                   .withColumn("scored_at", F.current_timestamp()))
    context.log.info(f"scoring live adverts with bundle {version}")
    return Output(predictions, metadata={
        "model_version": version,
        "bundle_digest": digest,
        "predicted_days": histogram(predictions, "predicted_days_to_sell", bins=50,
                                    title="Predicted days to sell, live adverts", xlabel="days"),
    })
