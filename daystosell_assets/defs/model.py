"""The fitted Spark pipeline, evaluated on the newest listings as production would see them."""


import pyspark
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset
from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml.pipeline import INPUT_COLUMNS, LABEL, PREDICTION, GbtParams, build_pipeline


class TrainingConfig(Config):
    max_iter: int = 50
    max_depth: int = 5
    step_size: float = 0.1
    holdout_fraction: float = 0.2


def time_split(df: DataFrame, holdout_fraction: float) -> tuple[DataFrame, DataFrame]:
    """Older listings to train on, the newest ``holdout_fraction`` to evaluate on."""
    day = F.datediff("listed_date", F.lit("2000-01-01"))
    [cutoff] = df.select(day.alias("d")).approxQuantile("d", [1.0 - holdout_fraction], 0.001)
    return df.where(day < cutoff), df.where(day >= cutoff)


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
    train.unpersist()

    scored = model.transform(holdout).select(LABEL, PREDICTION).cache()
    metrics = {m: RegressionEvaluator(labelCol=LABEL, predictionCol=PREDICTION, metricName=m).evaluate(scored)
               for m in ("mae", "rmse", "r2")}
    median = train.approxQuantile(LABEL, [0.5], 0.001)[0]
    baseline_mae = float(scored.select(F.avg(F.abs(F.col(LABEL) - F.lit(median)))).collect()[0][0])
    scored.unpersist()
    table = "\n".join(["| metric | model | median baseline |", "| --- | --- | --- |",
                       f"| MAE (days) | {metrics['mae']:.2f} | {baseline_mae:.2f} |",
                       f"| RMSE (days) | {metrics['rmse']:.2f} | |",
                       f"| R² | {metrics['r2']:.3f} | |"])
    return Output(model, metadata={
        "training_rows": rows,
        "holdout_mae": metrics["mae"],
        "holdout_rmse": metrics["rmse"],
        "holdout_r2": metrics["r2"],
        "baseline_mae": baseline_mae,
        "metrics": MetadataValue.md(table),
        "inputs": list(INPUT_COLUMNS),
        "hyperparameters": MetadataValue.json(params.__dict__),
        "spark_version": pyspark.__version__,
    })
