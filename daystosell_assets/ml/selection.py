"""Choosing the estimator by evidence: every candidate fitted on the same older listings and scored on the
same newer ones, then the winner tuned by cross-validation over blocks of listing dates.

Both steps work on assembled feature vectors, so the feature stages are fitted and applied once, not once per
candidate and fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.param import Param
from pyspark.ml.tuning import CrossValidator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml.candidates import SEED, Candidate
from daystosell_assets.ml.evaluation import Metrics, listing_day, regression_metrics
from daystosell_assets.ml.pipeline import LABEL, PREDICTION
from daystosell_assets.profiling import markdown_table

FOLD = "fold"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Trial:
    """One candidate with one setting, fitted on the training part and scored on the holdout."""

    name: str
    settings: dict[str, Any]
    metrics: Metrics
    fit_seconds: float
    model: Any  # the fitted regressor


@dataclass(frozen=True)
class Tuning:
    candidate: str
    folds: int
    # Each setting tried, with its mean MAE over the folds; the chosen one first.
    results: list[tuple[dict[str, Any], float]]
    best_params: dict[Param[Any], Any]
    best_model: Any  # the winner refitted on all the rows it was tuned on, with the best setting
    seconds: float


def compare(candidates: Sequence[Candidate], train: DataFrame, holdout: DataFrame, log: Log) -> list[Trial]:
    """Each candidate with its default setting, best (lowest holdout MAE) first."""
    trials = []
    for candidate in candidates:
        started = time.perf_counter()
        model = candidate.estimator.fit(train)
        fit_seconds = time.perf_counter() - started
        metrics = regression_metrics(model.transform(holdout))
        log(f"{candidate.name}: holdout MAE {metrics.mae:.3f} days, R² {metrics.r2:.3f}, fitted in {fit_seconds:.1f} s")
        trials.append(Trial(candidate.name, candidate.settings(), metrics, fit_seconds, model))
    return sorted(trials, key=lambda t: t.metrics.mae)


def with_time_folds(df: DataFrame, folds: int) -> DataFrame:
    """``df`` with a ``fold`` column 0..folds-1: contiguous blocks of listing dates of about equal size, so a
    fold is validated on whole weeks and seasons, not on days its neighbours in training share."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    day = listing_day()
    cuts = df.select(day.alias("d")).approxQuantile("d", [i / folds for i in range(1, folds)], 0.001)
    fold = F.lit(0)
    for cut in cuts:
        fold = fold + F.when(day >= cut, 1).otherwise(0)
    return df.withColumn(FOLD, fold.cast("int"))


def tune(candidate: Candidate, train: DataFrame, folds: int, log: Log) -> Tuning:
    """Cross-validates ``candidate`` over its grid on ``train`` (which needs ``listed_date``)."""
    started = time.perf_counter()
    evaluator = RegressionEvaluator(labelCol=LABEL, predictionCol=PREDICTION, metricName="mae")
    validator = CrossValidator(estimator=candidate.estimator, estimatorParamMaps=candidate.grid,
                               evaluator=evaluator, numFolds=folds, foldCol=FOLD, seed=SEED,
                               # Spark already spreads each fit over every core.
                               parallelism=1)
    log(f"tuning {candidate.name}: {len(candidate.grid)} settings x {folds} folds")
    fitted = validator.fit(with_time_folds(train, folds))
    scores = list(zip(candidate.grid, fitted.avgMetrics, strict=True))
    best = min(range(len(scores)), key=lambda i: scores[i][1])
    ordered = [scores[best], *(s for i, s in enumerate(scores) if i != best)]
    results = [(candidate.settings(params), float(mae)) for params, mae in ordered]
    for settings, mae in results:
        log(f"  {settings}: mean MAE {mae:.3f}")
    return Tuning(candidate.name, folds, results, scores[best][0], fitted.bestModel, time.perf_counter() - started)


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def comparison_markdown(trials: Sequence[Trial]) -> str:
    """The candidates side by side, best first, each MAE as a multiple of the best's."""
    best = trials[0].metrics.mae
    rows = [{"estimator": t.name, "MAE": f"{t.metrics.mae:.3f}", "vs best": f"{t.metrics.mae / best:.3f}x",
             "RMSE": f"{t.metrics.rmse:.3f}", "R²": f"{t.metrics.r2:.3f}", "fit s": f"{t.fit_seconds:.1f}",
             "settings": _settings_text(t.settings)} for t in trials]
    return markdown_table(rows, ["estimator", "MAE", "vs best", "RMSE", "R²", "fit s", "settings"])


def tuning_markdown(tuning: Tuning) -> str:
    best = tuning.results[0][1]
    rows = [{"settings": _settings_text(settings), "mean MAE": f"{mae:.3f}", "vs best": f"{mae / best:.3f}x"}
            for settings, mae in tuning.results]
    return markdown_table(rows, ["settings", "mean MAE", "vs best"])
