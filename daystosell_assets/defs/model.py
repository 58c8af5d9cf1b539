"""The fitted Spark pipeline, evaluated on the newest listings as production would see them, against the
naive guess it has to beat."""


import pyspark
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset
from pyspark.ml import PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GBTRegressionModel
from pyspark.sql import DataFrame

from daystosell_assets.ml.evaluation import (
    baseline_predictions,
    comparison_table,
    importance_by_input,
    mae_by_band,
    regression_metrics,
    time_split,
)
from daystosell_assets.ml.pipeline import LABEL, PREDICTION, GbtParams, build_pipeline
from daystosell_assets.ml.plots import feature_importances, predicted_vs_actual, residuals_by_band

BASELINE = "baseline_prediction"
# The columns the evaluation reads; the scored holdout keeps only these in its cache.
EVALUATED = (LABEL, PREDICTION, "make", "model", "asking_price", "valuation")
SCATTER_SAMPLE = 5000


class TrainingConfig(Config):
    max_iter: int = 50
    max_depth: int = 5
    step_size: float = 0.1
    holdout_fraction: float = 0.2


@asset(group_name="model", kinds={"spark"},
       description="A Spark ML PipelineModel: feature stages and a GBT regressor predicting days to sell.")
def fitted_model(context: AssetExecutionContext, config: TrainingConfig,
                 training_set: DataFrame) -> Output[PipelineModel]:
    train, holdout = time_split(training_set, config.holdout_fraction)
    train = train.cache()
    params = GbtParams(max_iter=config.max_iter, max_depth=config.max_depth, step_size=config.step_size)
    rows = train.count()
    context.log.info(f"fitting {params} on {rows} adverts")
    model = build_pipeline(params).fit(train)

    transformed = model.transform(holdout)
    features_metadata = transformed.schema["features"].metadata
    # Model and baseline side by side in one cached frame: every metric and plot below reads it, not the lake.
    scored = baseline_predictions(train, transformed.select(*EVALUATED), prediction=BASELINE).cache()
    holdout_rows = scored.count()
    train.unpersist()

    scorers = {"model": PREDICTION, "baseline": BASELINE}
    metrics = {name: regression_metrics(scored, prediction=column) for name, column in scorers.items()}
    by_band = {name: mae_by_band(scored, prediction=column) for name, column in scorers.items()}
    plots = {"predicted_vs_actual": predicted_vs_actual(scored, SCATTER_SAMPLE),
             "residuals_by_price_position": residuals_by_band(scored)}
    scored.unpersist()

    [assembler] = [s for s in model.stages if isinstance(s, VectorAssembler)]
    [gbt] = [s for s in model.stages if isinstance(s, GBTRegressionModel)]
    inputs = assembler.getInputCols()
    importances = importance_by_input(features_metadata, gbt.featureImportances.toArray().tolist(), inputs)
    model_metrics, baseline_metrics = metrics["model"], metrics["baseline"]
    context.log.info(f"holdout MAE {model_metrics.mae:.2f} days, baseline {baseline_metrics.mae:.2f}")
    return Output(model, metadata={
        "training_rows": rows,
        "holdout_rows": holdout_rows,
        "holdout_mae": model_metrics.mae,
        "holdout_rmse": model_metrics.rmse,
        "holdout_r2": model_metrics.r2,
        "baseline_mae": baseline_metrics.mae,
        "metrics": MetadataValue.md(
            comparison_table(metrics, by_band)
            + "\n\n*baseline: the training part's median days to sell for the make and model (else the make, "
            "else all adverts)*"),
        "features": MetadataValue.json([name.removesuffix("_onehot") for name in inputs]),
        "hyperparameters": MetadataValue.json(params.__dict__),
        "spark_version": pyspark.__version__,
        **plots,
        "feature_importances": feature_importances(list(importances), list(importances.values())),
    })
