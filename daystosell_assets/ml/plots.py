"""Plots of a model's holdout errors for the asset page, as PNGs embedded in Markdown metadata.

Spark aggregates or samples; only a few thousand numbers ever reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from dagster import MetadataValue
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.ml.evaluation import PRICE_POSITION_EDGES, band_index, band_labels, price_position
from daystosell_assets.ml.pipeline import LABEL, PREDICTION
from daystosell_assets.profiling import DPI, FIGSIZE, image_markdown

COLOUR = "#4c72b0"
SAMPLE_SEED = 7
# The scatter's axes stop at this quantile of both values: a few very slow sales would squeeze the bulk.
AXIS_QUANTILE = 0.99
RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _figure(width: float = FIGSIZE[0], height: float = FIGSIZE[1]) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="tight")
    FigureCanvasAgg(fig)  # no pyplot: no global figure state shared between threads
    return fig


def _note(title: str, message: str) -> MetadataValue:
    return MetadataValue.md(f"**{title}**: {message}")


def _scored_pairs(scored: DataFrame, label: str, prediction: str) -> DataFrame:
    y, p = F.col(label).cast("double"), F.col(prediction).cast("double")
    return scored.where(y.isNotNull() & p.isNotNull()).select(y.alias("y"), p.alias("p"))


def predicted_vs_actual(scored: DataFrame, sample: int = 5000, *, label: str = LABEL,
                        prediction: str = PREDICTION, seed: int = SAMPLE_SEED,
                        title: str = "Predicted vs actual days to sell (holdout)") -> MetadataValue:
    """A hexbin of prediction against label on a seeded sample of ``sample`` rows, with the line y = x."""
    # Ordering by a seeded random number keeps the top ``sample`` rows per partition only: one pass, no count.
    rows = (_scored_pairs(scored, label, prediction).orderBy(F.rand(seed)).limit(sample).collect())
    if not rows:
        return _note(title, "no scored rows")
    y = np.array([r["y"] for r in rows], dtype=float)
    p = np.array([r["p"] for r in rows], dtype=float)
    top = float(max(np.quantile(y, AXIS_QUANTILE), np.quantile(p, AXIS_QUANTILE), 1.0))
    low = float(min(y.min(), p.min(), 0.0))

    fig = _figure(width=FIGSIZE[0], height=FIGSIZE[0] * 0.75)
    ax = fig.add_subplot()
    cells = ax.hexbin(y, p, gridsize=40, extent=(low, top, low, top), mincnt=1, bins="log", cmap="Blues",
                      linewidths=0.1)
    fig.colorbar(cells, ax=ax).set_label("adverts (log)", fontsize=8)
    ax.plot([low, top], [low, top], color="#c44e52", linestyle="--", linewidth=1, label="prediction = actual")
    ax.set_xlim(low, top)
    ax.set_ylim(low, top)
    ax.set_xlabel("actual days to sell", fontsize=9)
    ax.set_ylabel("predicted days", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="upper left")
    outside = int(np.sum((y > top) | (p > top)))
    caption = (f"a seeded sample of {len(rows):,} holdout adverts; axes end at the {100 * AXIS_QUANTILE:g}% "
               f"quantile ({outside:,} points beyond)")
    return image_markdown(fig, title, caption)


def residuals_by_band(scored: DataFrame, bands: Sequence[float] = PRICE_POSITION_EDGES, *, label: str = LABEL,
                      prediction: str = PREDICTION, price: str = "asking_price", valuation: str = "valuation",
                      title: str = "Residual (predicted - actual) by price position") -> MetadataValue:
    """Boxes of the residual in each price-position band: median, quartiles, whiskers at the 5% and 95%
    quantiles and the mean as a dot, from one Spark aggregation."""
    y, p = F.col(label).cast("double"), F.col(prediction).cast("double")
    stats = (scored.where(y.isNotNull() & p.isNotNull())
             .groupBy(band_index(price_position(price, valuation), bands).alias("band"))
             .agg(F.count(F.lit(1)).alias("n"), F.avg(p - y).alias("mean"),
                  F.percentile_approx(p - y, list(RESIDUAL_QUANTILES), 10_000).alias("q"))
             .collect())
    by_band = {r["band"]: r for r in stats if r["band"] is not None}
    if not by_band:
        return _note(title, "no scored rows with a price position")

    boxes: list[dict[str, Any]] = []
    for i, (text, _, _) in enumerate(band_labels(bands)):
        if i not in by_band:
            continue
        row = by_band[i]
        whislo, q1, med, q3, whishi = (float(q) for q in row["q"])
        boxes.append({"label": f"{text}\n{int(row['n']):,}", "whislo": whislo, "q1": q1, "med": med, "q3": q3,
                      "whishi": whishi, "mean": float(row["mean"]), "fliers": []})

    fig = _figure()
    ax = fig.add_subplot()
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.bxp(boxes, showmeans=True, showfliers=False, patch_artist=True,
           boxprops={"facecolor": COLOUR, "alpha": 0.6, "linewidth": 0.6},
           medianprops={"color": "black", "linewidth": 1},
           meanprops={"marker": "o", "markerfacecolor": "#c44e52", "markeredgecolor": "none", "markersize": 4})
    ax.set_xlabel("asking price / valuation (and adverts)", fontsize=9)
    ax.set_ylabel("days", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)
    caption = ("box: quartiles, line: median, dot: mean, whiskers: 5% and 95% quantiles; "
               "above zero the model expects a slower sale than happened")
    return image_markdown(fig, title, caption)


def feature_importances(names: Sequence[str], importances: Sequence[float], top: int = 20, *,
                        title: str = "Feature importance (share of the trees' gain)") -> MetadataValue:
    """Horizontal bars of the ``top`` largest importances as shares of their total, largest on top."""
    if len(names) != len(importances):
        raise ValueError(f"{len(names)} names for {len(importances)} importances")
    total = float(sum(importances))
    if not names or total <= 0:
        return _note(title, "no importances to plot")
    ranked = sorted(zip(names, (float(v) / total for v in importances), strict=True), key=lambda nv: -nv[1])
    shown, rest = ranked[:top], ranked[top:]

    fig = _figure(height=max(1.6, 0.6 + 0.22 * len(shown)))
    ax = fig.add_subplot()
    positions = list(range(len(shown)))
    bars = ax.barh(positions, [v for _, v in shown], color=COLOUR, height=0.7)
    ax.set_yticks(positions, [n for n, _ in shown], fontsize=8)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[f"{100 * v:.1f}%" for _, v in shown], padding=2, fontsize=7)
    ax.margins(x=0.15)
    ax.set_xlabel("share of importance", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
    caption = (f"{len(rest):,} more with {100 * sum(v for _, v in rest):.1f}% between them" if rest else None)
    return image_markdown(fig, title, caption)
