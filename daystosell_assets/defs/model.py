"""The fitted Spark pipeline, evaluated on the newest listings as production would see them, against the
naive guess it has to beat."""


from typing import Any, cast

import numpy as np
import pyspark
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Config,
    MetadataValue,
    Output,
    asset,
    asset_check,
)
from pyspark.ml import PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GBTRegressionModel
from pyspark.sql import DataFrame

from daystosell_assets.ml.champion import champion_predictions, find_champion
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
from daystosell_assets.resources import LakeResource

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
        "holdout_fraction": config.holdout_fraction,
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


# Relative difference under which two holdout MAEs are the same score.
TIE = 1e-9


class GateConfig(Config):
    # The model's holdout MAE must be at most (1 - this) x the make/model baseline's.
    min_gain_over_baseline: float = 0.05
    # ... and at most (1 + this) x the deployed model's, on the same holdout rows.
    max_loss_to_champion: float = 0.0


def _this_run_metadata(context: AssetCheckExecutionContext) -> dict[str, float]:
    event = context.instance.get_latest_materialization_event(AssetKey("fitted_model"))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None or event is None or event.run_id != context.run.run_id:
        raise RuntimeError("fitted_model_gate runs after fitted_model, in the same run")
    return {k: float(cast(float, v.value)) for k, v in materialization.metadata.items()
            if k in ("holdout_mae", "baseline_mae", "holdout_fraction")}


@asset_check(asset="fitted_model", name="fitted_model_gate", blocking=True,
             additional_ins={"training_set": AssetIn("training_set")},
             description="The model beats the make/model median baseline by a margin, and is no worse than the "
                         "deployed model (champion) on the same holdout: otherwise no bundle, no image.")
def fitted_model_gate(context: AssetCheckExecutionContext, config: GateConfig, fitted_model: PipelineModel,
                      training_set: DataFrame, lake: LakeResource) -> AssetCheckResult:
    measured = _this_run_metadata(context)
    model_mae, baseline_mae = measured["holdout_mae"], measured["baseline_mae"]
    required = (1.0 - config.min_gain_over_baseline) * baseline_mae
    problems: list[str] = []
    if not model_mae <= required:
        problems.append(f"holdout MAE {model_mae:.2f} days does not beat the make/model baseline "
                        f"({baseline_mae:.2f}) by {config.min_gain_over_baseline:.0%}: at most {required:.2f} needed")
    metadata: dict[str, Any] = {"holdout_mae": model_mae, "baseline_mae": baseline_mae,
                                   "required_mae": required}

    champion = find_champion(context.instance)
    if champion is None:
        metadata["champion"] = "none: no model deployed yet"
    else:
        _, holdout = time_split(training_set, measured["holdout_fraction"])
        rows: Any = fitted_model.transform(holdout).select(*holdout.columns, PREDICTION).toPandas()
        columns = {name: rows[name].to_numpy() for name in holdout.columns}
        champion_scores = champion_predictions(champion, columns, lake.fetch)
        label = rows[LABEL].to_numpy(dtype=np.float64)
        challenger_mae = float(np.mean(np.abs(rows[PREDICTION].to_numpy(dtype=np.float64) - label)))
        champion_mae = float(np.mean(np.abs(champion_scores - label)))
        # The same model scored by Spark and by the bundle runtime differs in the last bits: a tie passes.
        allowed = champion_mae * (1.0 + config.max_loss_to_champion) * (1.0 + TIE)
        if not challenger_mae <= allowed:
            problems.append(f"holdout MAE {challenger_mae:.2f} days is worse than the deployed model "
                            f"{champion.model_version} ({champion_mae:.2f}) on the same {len(rows):,} adverts")
        metadata.update({"champion": champion.model_version, "champion_found_as": champion.source,
                         "champion_mae": champion_mae, "challenger_mae": challenger_mae,
                         "compared_rows": len(rows)})
    for problem in problems:
        context.log.error(problem)
    return AssetCheckResult(passed=not problems, severity=AssetCheckSeverity.ERROR,
                            metadata={**metadata, "problems": MetadataValue.md(
                                "\n".join(f"- {p}" for p in problems) or "none")})
