"""Judging a days-to-sell model on listings it has not seen: a time split, a naive baseline to beat, error
metrics overall and by price position, and which features the trees lean on.

Every metric is one Spark aggregation; only the aggregated numbers reach the driver.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml.pipeline import LABEL, PREDICTION
from daystosell_assets.profiling import markdown_table

# Edges of the price-position bands (asking price / valuation): the market's sellers mostly ask 0 to 10 % over
# valuation, and a tenth over it already adds about 40 % to the days a car takes to sell.
PRICE_POSITION_EDGES = (0.95, 1.0, 1.05, 1.10, 1.20)
UNKNOWN_BAND = "unknown"


@dataclass(frozen=True)
class Metrics:
    rows: int
    mae: float
    rmse: float
    r2: float


@dataclass(frozen=True)
class BandMetric:
    """The MAE of the rows whose price position falls in ``[low, high)``; ``None`` bounds are open ends."""

    band: str
    low: float | None
    high: float | None
    rows: int
    mae: float  # NaN for a band without rows


def listing_day(column: str = "listed_date") -> Column:
    """Days since 2000-01-01 of a listing: a number to take quantiles of."""
    return F.datediff(column, F.lit("2000-01-01"))


def time_split(df: DataFrame, holdout_fraction: float) -> tuple[DataFrame, DataFrame]:
    """Older listings to train on, the newest ``holdout_fraction`` (by ``listed_date``) to evaluate on, as a
    model in production only ever scores listings newer than its training data. A listing day never straddles
    the two parts."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    day = listing_day()
    quantiles = df.select(day.alias("d")).approxQuantile("d", [1.0 - holdout_fraction], 0.001)
    if not quantiles:  # no rows at all
        return df, df.limit(0)
    return df.where(day < quantiles[0]), df.where(day >= quantiles[0])


def baseline_predictions(train: DataFrame, holdout: DataFrame, *, label: str = LABEL,
                         prediction: str = PREDICTION) -> DataFrame:
    """``holdout`` with ``prediction`` set to the training part's median ``label`` for its make and model,
    else for its make, else overall: what a dealer would guess from past sales alone."""
    model_median = train.groupBy("make", "model").agg(F.median(label).alias("_model_median"))
    make_median = train.groupBy("make").agg(F.median(label).alias("_make_median"))
    overall = train.agg(F.median(label).alias("_overall_median"))
    guess = F.coalesce(F.col("_model_median"), F.col("_make_median"), F.col("_overall_median")).cast("double")
    columns = [c for c in holdout.columns if c != prediction]
    # Null-safe keys: a null make or model finds no group and falls back, rather than dropping the row.
    h, m, k = holdout.alias("h"), F.broadcast(model_median).alias("m"), F.broadcast(make_median).alias("k")
    return (h.join(m, (F.col("h.make") == F.col("m.make")) & (F.col("h.model") == F.col("m.model")), "left")
            .join(k, F.col("h.make") == F.col("k.make"), "left")
            .crossJoin(F.broadcast(overall))
            .select(*[F.col(f"h.`{c}`").alias(c) for c in columns], guess.alias(prediction)))


def regression_metrics(scored: DataFrame, label: str = LABEL, prediction: str = PREDICTION) -> Metrics:
    """MAE, RMSE and R² over the rows that have both a label and a prediction."""
    y, p = F.col(label).cast("double"), F.col(prediction).cast("double")
    error = p - y
    row = (scored.where(y.isNotNull() & p.isNotNull())
           .agg(F.count(F.lit(1)).alias("n"), F.avg(F.abs(error)).alias("mae"),
                F.avg(error * error).alias("mse"), F.var_pop(y).alias("var"))
           .collect()[0])
    rows = int(row["n"])
    if rows == 0:
        return Metrics(rows=0, mae=math.nan, rmse=math.nan, r2=math.nan)
    mse, var = float(row["mse"]), float(row["var"])
    # R² = 1 - SSE/SST; SSE/SST = MSE / population variance, and a constant label leaves it undefined.
    return Metrics(rows=rows, mae=float(row["mae"]), rmse=math.sqrt(mse),
                   r2=1.0 - mse / var if var > 0 else math.nan)


def band_labels(edges: Sequence[float] = PRICE_POSITION_EDGES) -> list[tuple[str, float | None, float | None]]:
    """``(label, low, high)`` for each band the edges make, open-ended at both ends."""
    bounds: list[float | None] = [None, *edges, None]
    out = []
    for low, high in itertools.pairwise(bounds):
        if low is None:
            text = f"< {high:.2f}"
        elif high is None:
            text = f"≥ {low:.2f}"
        else:
            text = f"{low:.2f} to {high:.2f}"
        out.append((text, low, high))
    return out


def price_position(price: str = "asking_price", valuation: str = "valuation") -> Column:
    # try_divide: a zero valuation gives null (an unknown band) instead of failing the query under ANSI mode.
    return F.try_divide(F.col(price).cast("double"), F.col(valuation).cast("double"))


def band_index(position: Column, edges: Sequence[float] = PRICE_POSITION_EDGES) -> Column:
    """The band of ``position``: 0 below the first edge, ``len(edges)`` at or above the last, null if unknown."""
    if list(edges) != sorted(edges):
        raise ValueError(f"band edges must be increasing, got {edges}")
    index = F.lit(len(edges))
    for i in reversed(range(len(edges))):
        index = F.when(position < edges[i], i).otherwise(index)
    return F.when(position.isNull() | F.isnan(position), None).otherwise(index)


def mae_by_band(scored: DataFrame, bands: Sequence[float] = PRICE_POSITION_EDGES, *, label: str = LABEL,
                prediction: str = PREDICTION, price: str = "asking_price",
                valuation: str = "valuation") -> list[BandMetric]:
    """The MAE and row count of each price-position band (``bands`` are its edges), every band listed, plus
    an ``unknown`` band where some rows have no price position."""
    y, p = F.col(label).cast("double"), F.col(prediction).cast("double")
    counted = (scored.where(y.isNotNull() & p.isNotNull())
               .groupBy(band_index(price_position(price, valuation), bands).alias("band"))
               .agg(F.count(F.lit(1)).alias("n"), F.avg(F.abs(p - y)).alias("mae"))
               .collect())
    by_band = {r["band"]: (int(r["n"]), float(r["mae"])) for r in counted}
    out = [BandMetric(band=text, low=low, high=high, rows=by_band.get(i, (0, math.nan))[0],
                      mae=by_band.get(i, (0, math.nan))[1])
           for i, (text, low, high) in enumerate(band_labels(bands))]
    if None in by_band:
        n, mae = by_band[None]
        out.append(BandMetric(band=UNKNOWN_BAND, low=None, high=None, rows=n, mae=mae))
    return out


def _number(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return "n/a" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}x"


def comparison_table(rows: Mapping[str, Metrics], by_band: Mapping[str, Sequence[BandMetric]]) -> str:
    """Markdown: each scorer's metrics side by side, then the MAE by price-position band. The first scorer is
    the one judged: a ratio column gives its MAE and RMSE as a multiple of each other scorer's (below 1x: it
    does better)."""
    names = list(rows)
    if not names:
        return ""
    first, others = names[0], names[1:]
    ratio = {other: f"{first} ÷ {other}" for other in others}
    metric_rows: list[dict[str, object]] = [
        {"metric": "rows", **{n: f"{rows[n].rows:,}" for n in names}},
    ]
    for key, title, digits in (("mae", "MAE (days)", 2), ("rmse", "RMSE (days)", 2), ("r2", "R²", 3)):
        values = {n: float(getattr(rows[n], key)) for n in names}
        row: dict[str, object] = {"metric": title, **{n: _number(values[n], digits) for n in names}}
        # A ratio of R² values means nothing; the columns still line up.
        row.update({ratio[o]: "" if key == "r2" else _ratio(values[first], values[o]) for o in others})
        metric_rows.append(row)
    parts = [markdown_table(metric_rows, ["metric", *names, *ratio.values()])]

    banded = [n for n in names if n in by_band]
    if banded:
        compared = [o for o in banded[1:] if first in by_band]
        band_rows = []
        for i, band in enumerate(by_band[banded[0]]):
            maes = {n: by_band[n][i].mae for n in banded}
            band_rows.append({"price position": band.band, "rows": f"{band.rows:,}",
                              **{f"MAE {n}": _number(maes[n]) for n in banded},
                              **{ratio[o]: _ratio(maes[first], maes[o]) for o in compared}})
        columns = ["price position", "rows", *(f"MAE {n}" for n in banded), *(ratio[o] for o in compared)]
        parts += ["**MAE (days) by price position** (asking price ÷ valuation)", markdown_table(band_rows, columns)]
    return "\n\n".join(parts)


def importance_by_input(features_metadata: Mapping[str, Any], importances: Sequence[float],
                        inputs: Sequence[str], suffix: str = "_onehot") -> dict[str, float]:
    """Feature importances summed per assembled input column, largest first.

    ``features_metadata`` is the metadata of the assembled vector column (``df.schema["features"].metadata``),
    whose ML attributes name each slot ``<input>`` or ``<input>_<value>``; ``inputs`` are the assembler's input
    columns, and ``suffix`` is dropped from their names so ``make_onehot`` reads ``make``. A slot no input
    claims keeps its own name.
    """
    attrs = features_metadata.get("ml_attr", {}).get("attrs", {})
    names = {int(a["idx"]): str(a.get("name", "")) for group in attrs.values() for a in group}
    # Longest first: vehicle_age_floor must not be claimed by vehicle_age.
    ordered = sorted(inputs, key=len, reverse=True)

    def owner(slot: int) -> str:
        name = names.get(slot, "")
        for column in ordered:
            if name == column or name.startswith(column + "_"):
                return column.removesuffix(suffix)
        return name or f"feature {slot}"

    totals: dict[str, float] = {}
    for slot, value in enumerate(importances):
        totals[owner(slot)] = totals.get(owner(slot), 0.0) + float(value)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))
