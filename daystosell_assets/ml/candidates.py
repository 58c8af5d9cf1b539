"""The estimators that compete to be the model, each with the grid it is tuned over if it wins.

Every candidate reads the same ``features`` vector and writes ``prediction``, so any of them completes the
pipeline, and every one is a stage MLeap serialises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.ml.param import Param
from pyspark.ml.regression import (
    GBTRegressor,
    GeneralizedLinearRegression,
    LinearRegression,
    RandomForestRegressor,
)
from pyspark.ml.tuning import ParamGridBuilder

from daystosell_assets.ml.pipeline import FEATURES, LABEL, PREDICTION

SEED = 7
CANDIDATES = ("linear", "log_linear", "random_forest", "gbt")


@dataclass(frozen=True)
class GbtSettings:
    max_iter: int = 50
    max_depth: int = 5
    step_size: float = 0.1


@dataclass(frozen=True)
class ForestSettings:
    num_trees: int = 40
    max_depth: int = 8


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    estimator: Any  # a pyspark.ml regressor
    # The settings tried when this candidate wins the comparison; the first is its untuned default.
    grid: list[dict[Param[Any], Any]]

    def settings(self, param_map: dict[Param[Any], Any] | None = None) -> dict[str, Any]:
        """The estimator's hyperparameters (with ``param_map`` applied) by name, for metadata."""
        estimator = self.estimator.copy(param_map or {})
        return {p.name: estimator.getOrDefault(p) for p in self.tuned_params()}

    def tuned_params(self) -> list[Param[Any]]:
        seen: dict[str, Param[Any]] = {}
        for param_map in self.grid:
            for param in param_map:
                seen.setdefault(param.name, param)
        return list(seen.values())


def _common() -> dict[str, Any]:
    return {"featuresCol": FEATURES, "labelCol": LABEL, "predictionCol": PREDICTION}


def linear() -> Candidate:
    # Ridge only: an L1 term would move the fit from one pass of normal equations to many passes of OWL-QN.
    # Never unpenalised: the full one-hot groups beside the intercept make the normal equations singular.
    lr = LinearRegression(**_common(), regParam=0.01, elasticNetParam=0.0, solver="normal")
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.01, 0.001, 0.1, 1.0]).build()
    return Candidate("linear", "least squares on days, ridge penalty", lr, grid)


def log_linear() -> Candidate:
    # The market's days to sell are log-normal around exp(linear effects): a gamma GLM with a log link fits
    # that shape with linear terms.
    glm = GeneralizedLinearRegression(**_common(), family="gamma", link="log", regParam=0.001, maxIter=25)
    grid = ParamGridBuilder().addGrid(glm.regParam, [0.001, 0.0001, 0.01]).build()
    return Candidate("log_linear", "gamma GLM, log link", glm, grid)


def random_forest(settings: ForestSettings) -> Candidate:
    rf = RandomForestRegressor(**_common(), numTrees=settings.num_trees, maxDepth=settings.max_depth, seed=SEED)
    grid = (ParamGridBuilder()
            .addGrid(rf.maxDepth, [settings.max_depth, settings.max_depth + 3])
            .addGrid(rf.featureSubsetStrategy, ["auto", "sqrt"])
            .build())
    return Candidate("random_forest", "random forest", rf, grid)


def gbt(settings: GbtSettings) -> Candidate:
    gb = GBTRegressor(**_common(), maxIter=settings.max_iter, maxDepth=settings.max_depth,
                      stepSize=settings.step_size, seed=SEED)
    # Absolute loss aims at the median, which is what MAE rewards on a skewed label.
    grid = (ParamGridBuilder()
            .addGrid(gb.maxDepth, [settings.max_depth, settings.max_depth + 2])
            .addGrid(gb.lossType, ["squared", "absolute"])
            .build())
    return Candidate("gbt", "gradient-boosted trees", gb, grid)


def all_candidates(gbt_settings: GbtSettings, forest_settings: ForestSettings) -> dict[str, Candidate]:
    chosen = [linear(), log_linear(), random_forest(forest_settings), gbt(gbt_settings)]
    return {c.name: c for c in chosen}


def pick(names: Sequence[str], gbt_settings: GbtSettings, forest_settings: ForestSettings) -> list[Candidate]:
    """The named candidates, in the order given; an unknown name is an error that lists the known ones."""
    known = all_candidates(gbt_settings, forest_settings)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown candidate estimator(s) {unknown or '(none given)'}: choose from {sorted(known)}")
    return [known[n] for n in names]
