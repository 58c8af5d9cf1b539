"""Asset metadata to look at: a per-column summary table and small plots the Dagster UI renders inline.

Everything is counted in Spark; only the aggregated numbers reach the driver. Plots are PNGs embedded in
Markdown as data URIs, because that is what the asset page renders without any file storage behind it.
"""

import base64
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from dagster import MetadataValue
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

TEXT_WIDTH = 24
FIGSIZE = (6.0, 3.0)
DPI = 80
# Quantiles that bound a histogram by default: a long tail would otherwise squeeze the bulk into a few bins.
TAIL_QUANTILES = (0.005, 0.995)
QUANTILE_ACCURACY = 10_000


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> str:
    """``rows`` as a Markdown table; ``columns`` defaults to every key, in order of first appearance."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    if not columns:
        return ""
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    # A raw pipe would open a new cell and a newline would end the row.
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _quoted(name: str) -> Column:
    # Backticks keep names with dots or spaces from being parsed as struct access or expressions.
    return F.col("`" + name.replace("`", "``") + "`")


def _format(value: object) -> str:
    """A value as a person reads it: thousands separated, a few significant digits, strings cut short."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e12 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


def _percent(part: int, whole: int) -> str:
    if whole == 0 or part == 0:
        return f"{part:,}"
    share = 100.0 * part / whole
    # "0.0%" would read as none at all.
    return f"{part:,} ({share:.1f}%)" if share >= 0.1 else f"{part:,} (<0.1%)"


_ORDERED = (T.NumericType, T.StringType, T.DateType, T.TimestampType, T.TimestampNTZType, T.BooleanType)


def column_summary(df: DataFrame) -> tuple[int, MetadataValue]:
    """The row count and a Markdown table of every column: type, nulls, approximate distinct values,
    min, max and (numeric columns) mean, all from a single Spark aggregation."""
    fields = df.schema.fields
    exprs = [F.count(F.lit(1)).alias("rows")]
    for i, field in enumerate(fields):
        col, kind = _quoted(field.name), field.dataType
        exprs.append(F.count(col).alias(f"c{i}_present"))
        # Maps and other nested types can be neither ordered nor hashed cheaply: they get nulls only.
        if isinstance(kind, T.AtomicType):
            exprs.append(F.approx_count_distinct(col).alias(f"c{i}_distinct"))
        if isinstance(kind, _ORDERED):
            exprs += [F.min(col).alias(f"c{i}_min"), F.max(col).alias(f"c{i}_max")]
        if isinstance(kind, T.NumericType):
            exprs.append(F.avg(col).alias(f"c{i}_mean"))
    result = df.agg(*exprs).collect()[0].asDict()
    rows = int(result["rows"])

    table = []
    for i, field in enumerate(fields):
        distinct = result.get(f"c{i}_distinct")
        table.append({
            "column": field.name,
            "type": field.dataType.simpleString(),
            "nulls": _percent(rows - int(result[f"c{i}_present"]), rows),
            "≈ distinct": "" if distinct is None else f"{distinct:,}",
            "min": _format(result.get(f"c{i}_min")),
            "max": _format(result.get(f"c{i}_max")),
            "mean": _format(result.get(f"c{i}_mean")),
        })
    return rows, MetadataValue.md(markdown_table(table, ["column", "type", "nulls", "≈ distinct",
                                                         "min", "max", "mean"]))


@dataclass(frozen=True)
class HistogramCounts:
    """Bucket counts over ``edges`` (numpy's convention: each bin half-open, the last one closed)."""

    edges: list[float]
    counts: list[int]
    below: int
    above: int
    total: int  # every row, nulls included
    nulls: int = 0  # nulls and NaNs, which no bin can hold
    quantile_range: bool = False  # edges come from the tail quantiles rather than the caller


def _as_column(column: str | Column) -> Column:
    return _quoted(column) if isinstance(column, str) else column


def _default_range(x: Column, df: DataFrame) -> tuple[float, float, bool] | None:
    """The tail quantiles of ``x`` and True, or its full extent and False where they coincide."""
    finite = F.when((x > float("-inf")) & (x < float("inf")), x)
    row = df.agg(F.percentile_approx(finite, list(TAIL_QUANTILES), QUANTILE_ACCURACY).alias("q"),
                 F.min(finite).alias("lo"), F.max(finite).alias("hi")).collect()[0]
    if row["q"] is None or row["lo"] is None:
        return None
    lo, hi = (float(q) for q in row["q"])
    # A spike holding more than 99% of the values collapses the quantiles: the full extent says more.
    return (lo, hi, True) if lo < hi else (float(row["lo"]), float(row["hi"]), False)


def histogram_counts(df: DataFrame, column: str | Column, bins: int = 40,
                     range_: tuple[float, float] | None = None) -> HistogramCounts:
    """Counts ``column`` into ``bins`` equal bins in one Spark aggregation, matching ``numpy.histogram``.

    Without ``range_`` the bins span the 0.5% to 99.5% quantiles (one more Spark query); values outside the
    range are counted in ``below`` and ``above``. No bins at all means there was no finite value.
    """
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    if range_ is not None and not range_[0] <= range_[1]:
        raise ValueError(f"range_ must be (low, high) with low <= high, got {range_}")
    # NaN would otherwise sort above every number in Spark and land in "above".
    x = F.nanvl(_as_column(column).cast("double"), F.lit(None).cast("double"))
    values = df.select(x.alias("x"))
    bounds = (*range_, False) if range_ is not None else _default_range(F.col("x"), values)
    if bounds is None:
        total = values.count()
        return HistogramCounts(edges=[], counts=[], below=0, above=0, total=total, nulls=total)
    lo, hi = float(bounds[0]), float(bounds[1])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5  # what numpy does with a zero-width range
    edges = [float(e) for e in np.linspace(lo, hi, bins + 1)]

    # The arithmetic guess can be one bin off where a value sits on an edge; comparing with the very
    # edges numpy uses makes the counts agree exactly.
    value = F.col("x")
    edge = F.array(*[F.lit(e) for e in edges])
    # Clamped before the cast: ±inf and far outliers would overflow an int under ANSI mode.
    scaled = F.least(F.greatest((value - lo) / ((hi - lo) / bins), F.lit(0.0)), F.lit(float(bins - 1)))
    guess = F.floor(scaled).cast("int")
    down = F.when(value < F.get(edge, F.col("g")), F.col("g") - 1).otherwise(F.col("g"))
    up = F.when((value >= F.get(edge, F.col("d") + 1)) & (F.col("d") != bins - 1),
                F.col("d") + 1).otherwise(F.col("d"))
    null_bin, below_bin, above_bin = -2, -1, bins
    bucket = (F.when(value.isNull(), null_bin).when(value < lo, below_bin).when(value > hi, above_bin)
              .otherwise(F.col("b")))
    counted = (values.select("x", guess.alias("g")).select("x", down.alias("d")).select("x", up.alias("b"))
               .groupBy(bucket.alias("bucket")).count().collect())
    by_bucket = {int(r["bucket"]): int(r["count"]) for r in counted}
    return HistogramCounts(
        edges=edges,
        counts=[by_bucket.get(i, 0) for i in range(bins)],
        below=by_bucket.get(below_bin, 0),
        above=by_bucket.get(above_bin, 0),
        total=sum(by_bucket.values()),
        nulls=by_bucket.get(null_bin, 0),
        quantile_range=bounds[2],
    )


def _figure(height: float = FIGSIZE[1]) -> Figure:
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI, layout="tight")
    FigureCanvasAgg(fig)  # Agg explicitly: no display and no pyplot state shared between threads
    return fig


def _ticks() -> FuncFormatter:
    # Ticks read like the table's numbers; matplotlib's default moves big ones into an offset ("1e6").
    return FuncFormatter(lambda x, _: f"{int(x):,}" if float(x).is_integer() else f"{x:g}")


def png_data_uri(fig: Figure) -> str:
    """The figure as a PNG data URI: the one place plots become bytes."""
    buffer = io.BytesIO()
    # No "Software" text chunk and an optimised deflate keep the metadata entry small.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"optimize": True})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_markdown(fig: Figure, title: str, caption: str | None = None) -> MetadataValue:
    alt = title.replace("[", "(").replace("]", ")")
    text = f"![{alt}]({png_data_uri(fig)})"
    return MetadataValue.md(text + (f"\n\n*{caption}*" if caption else ""))


def _note(title: str, message: str) -> MetadataValue:
    return MetadataValue.md(f"**{title}**: {message}")


def histogram(df: DataFrame, column: str | Column, *, title: str, bins: int = 40,
              range_: tuple[float, float] | None = None, xlabel: str | None = None,
              log_y: bool = False) -> MetadataValue:
    """A histogram of ``column`` counted in Spark and drawn as a small PNG, with how many rows fell
    outside the plotted range in the caption."""
    h = histogram_counts(df, column, bins, range_)
    if not h.counts:
        return _note(title, f"no values to plot ({h.total:,} rows, all null)" if h.total else "no rows")

    fig = _figure()
    ax = fig.add_subplot()
    widths = np.diff(h.edges)
    ax.bar(h.edges[:-1], h.counts, width=widths, align="edge", color="#4c72b0", edgecolor="white",
           linewidth=0.3, log=log_y)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel if xlabel is not None else (column if isinstance(column, str) else ""), fontsize=9)
    ax.set_ylabel("rows (log)" if log_y else "rows", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.set_xlim(h.edges[0], h.edges[-1])
    if not log_y:
        ax.yaxis.set_major_formatter(_ticks())

    outside = h.below + h.above
    span = f"{_format(h.edges[0])} to {_format(h.edges[-1])}"
    low_q, high_q = (f"{100 * q:g}%" for q in TAIL_QUANTILES)
    which = f"{span}, the {low_q} to {high_q} quantiles" if h.quantile_range else span
    parts = [f"{h.total:,} rows", f"range {which}",
             f"{outside:,} outside it ({h.below:,} below, {h.above:,} above)"]
    if h.nulls:
        parts.append(f"{h.nulls:,} null")
    return image_markdown(fig, title, " · ".join(parts))


def bar_chart(counts: Sequence[tuple[str, float]], *, title: str, xlabel: str | None = None) -> MetadataValue:
    """Horizontal bars for categorical counts or shares, in the order given (first on top)."""
    if not counts:
        return _note(title, "nothing to plot")
    labels = [_format(label) for label, _ in counts]
    values = [float(v) for _, v in counts]
    # Height grows with the number of bars so labels never overlap.
    fig = _figure(height=max(1.6, 0.6 + 0.22 * len(counts)))
    ax = fig.add_subplot()
    positions = list(range(len(counts)))
    bars = ax.barh(positions, values, color="#4c72b0", height=0.7)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[_format(int(v) if float(v).is_integer() else v) for v in values],
                 padding=2, fontsize=7)
    ax.margins(x=0.12)
    ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.xaxis.set_major_formatter(_ticks())
    return image_markdown(fig, title)


def top_values(df: DataFrame, column: str | Column, n: int = 15, other: str = "(other)") -> list[tuple[str, int]]:
    """The ``n`` most frequent values of ``column`` with their row counts, the rest summed into ``other``;
    ready for :func:`bar_chart`."""
    counted = df.groupBy(_as_column(column).cast("string").alias("value")).count().collect()
    ranked = sorted(((r["value"], int(r["count"])) for r in counted), key=lambda vc: (-vc[1], str(vc[0])))
    top = [("(null)" if v is None else v, c) for v, c in ranked[:n]]
    rest = sum(c for _, c in ranked[n:])
    return [*top, (other, rest)] if rest else top
