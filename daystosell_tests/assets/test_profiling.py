"""Profiling metadata: summary tables with the right numbers, and histograms that count like numpy."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import numpy as np
import pytest
from dagster import MarkdownMetadataValue, MetadataValue
from pyspark.sql import functions as F

from daystosell_assets.profiling import (
    bar_chart,
    column_summary,
    histogram,
    histogram_counts,
    markdown_table,
    top_values,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCHEMA = "make string, doors int, mileage long, price double, listed date, sold boolean"


def _md(value: MetadataValue) -> str:
    """The Markdown text of a metadata value, which must be Markdown for the UI to render it."""
    assert isinstance(value, MarkdownMetadataValue) and value.md_str is not None
    return value.md_str


def _table(markdown: str) -> dict[str, dict[str, str]]:
    """The summary table back as {column: {header: cell}}; escaped pipes stay inside their cell."""
    lines = markdown.strip().splitlines()

    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]

    header = cells(lines[0])
    rows = [dict(zip(header, cells(line), strict=True)) for line in lines[2:]]
    return {row["column"]: row for row in rows}


def _png(markdown: str) -> bytes:
    match = re.search(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:200]
    return base64.b64decode(match.group(1), validate=True)


def test_markdown_table_escapes_pipes_and_keeps_rows_on_one_line() -> None:
    table = markdown_table([{"a": "x|y", "b": 1}, {"a": "two\nlines", "c": None}])
    assert table.splitlines() == ["| a | b | c |", "| --- | --- | --- |", "| x\\|y | 1 |  |", "| two lines |  |  |"]
    assert markdown_table([], ["only"]) == "| only |\n| --- |"
    assert markdown_table([]) == ""


@pytest.mark.spark
def test_column_summary_reports_nulls_extremes_means_and_distincts(spark: Any) -> None:
    long_make = "Mercedes-Benz|AMG with a long trim name"
    df = spark.createDataFrame([
        ("Ford", 5, 12_000, 9_500.0, dt.date(2024, 3, 1), True),
        ("Ford", 3, None, 11_500.0, dt.date(2024, 1, 15), False),
        (long_make, None, 48_000, None, dt.date(2024, 6, 30), None),
        (None, 5, 30_000, 20_000.0, None, False),
    ], SCHEMA)

    rows, metadata = column_summary(df)
    table = _table(_md(metadata))

    assert rows == 4
    assert list(table) == ["make", "doors", "mileage", "price", "listed", "sold"]
    assert [table[c]["type"] for c in table] == ["string", "int", "bigint", "double", "date", "boolean"]
    assert {c: table[c]["nulls"] for c in table} == {c: "1 (25.0%)" for c in table}
    assert table["make"]["≈ distinct"] == "2" and table["doors"]["≈ distinct"] == "2"
    assert (table["make"]["min"], table["make"]["max"]) == ("Ford", long_make[:23] + "…")
    assert (table["doors"]["min"], table["doors"]["max"], table["doors"]["mean"]) == ("3", "5", "4.333")
    assert (table["mileage"]["min"], table["mileage"]["max"], table["mileage"]["mean"]) == ("12,000", "48,000",
                                                                                           "30,000.00")
    assert (table["price"]["min"], table["price"]["max"], table["price"]["mean"]) == ("9,500.00", "20,000.00",
                                                                                     "13,666.67")
    assert (table["listed"]["min"], table["listed"]["max"], table["listed"]["mean"]) == ("2024-01-15",
                                                                                        "2024-06-30", "")
    assert (table["sold"]["min"], table["sold"]["max"]) == ("false", "true")


@pytest.mark.spark
def test_column_summary_of_an_empty_frame_has_no_nulls_and_blank_extremes(spark: Any) -> None:
    rows, metadata = column_summary(spark.createDataFrame([], SCHEMA))
    table = _table(_md(metadata))
    assert rows == 0
    assert len(table) == 6
    for row in table.values():
        assert (row["nulls"], row["≈ distinct"], row["min"], row["max"], row["mean"]) == ("0", "0", "", "", "")


def _frame(spark: Any, values: np.ndarray) -> Any:
    return spark.createDataFrame([(None if v is None else float(v),) for v in values], "x double")


@pytest.mark.spark
def test_histogram_counts_match_numpy_and_count_what_falls_outside(spark: Any) -> None:
    rng = np.random.default_rng(7)
    inside = rng.normal(50.0, 15.0, 3_000)
    # Values on the bin edges are where a floor() of the scaled value and numpy part ways.
    on_edges = np.arange(0, 101) / 1.0
    data = np.concatenate([inside, on_edges, [-5.0, -1e9, 100.000001, 250.0, float("inf")]])
    df = _frame(spark, np.concatenate([data, [float("nan")]])).union(spark.createDataFrame([(None,)], "x double"))

    h = histogram_counts(df, "x", bins=40, range_=(0.0, 100.0))
    expected, edges = np.histogram(data, bins=40, range=(0.0, 100.0))
    assert h.edges == list(edges)
    assert h.counts == list(expected)
    assert (h.below, h.above) == (int((data < 0).sum()), int((data > 100).sum()))
    assert h.nulls == 2 and h.total == len(data) + 2


@pytest.mark.spark
@pytest.mark.parametrize(("range_", "bins"), [((0.2, 0.7), 10), ((0.1, 0.9), 12), ((0.2, 1.1), 6)])
def test_histogram_counts_agree_with_numpy_on_awkward_fractional_edges(spark: Any, range_: tuple[float, float],
                                                                       bins: int) -> None:
    # Tenths are not exactly representable: here floor((x - lo) / width) puts some values one bin off.
    data = np.arange(0, 31) / 10.0
    h = histogram_counts(_frame(spark, data), F.col("x"), bins=bins, range_=range_)
    assert h.counts == list(np.histogram(data, bins=bins, range=range_)[0])
    assert h.below == int((data < range_[0]).sum()) and h.above == int((data > range_[1]).sum())


@pytest.mark.spark
def test_default_range_cuts_the_tails_and_counts_them(spark: Any) -> None:
    rng = np.random.default_rng(3)
    data = np.concatenate([rng.lognormal(9.3, 0.5, 4_000), [5e6]])  # one absurd price
    h = histogram_counts(_frame(spark, data), "x", bins=30)
    assert h.quantile_range and len(h.edges) == 31
    assert np.quantile(data, 0.004) < h.edges[0] < np.quantile(data, 0.006)
    assert np.quantile(data, 0.994) < h.edges[-1] < np.quantile(data, 0.996)
    assert h.counts == list(np.histogram(data, bins=np.array(h.edges))[0])
    assert h.below == int((data < h.edges[0]).sum()) and h.above == int((data > h.edges[-1]).sum())
    assert sum(h.counts) + h.below + h.above == h.total == len(data)


@pytest.mark.spark
def test_constant_column_gets_numpys_unit_wide_range(spark: Any) -> None:
    h = histogram_counts(_frame(spark, np.full(10, 7.0)), "x", bins=4)
    assert h.edges == [6.5, 6.75, 7.0, 7.25, 7.5]
    assert h.counts == [0, 0, 10, 0]


@pytest.mark.spark
def test_histogram_is_a_small_png_with_a_caption_of_rows_and_outliers(spark: Any) -> None:
    data = np.concatenate([np.linspace(0, 10, 500), [-3.0, 42.0, 43.0]])
    md = _md(histogram(_frame(spark, data), "x", title="Days to sell", range_=(0.0, 10.0), bins=20,
                 xlabel="days"))
    png = _png(md)
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) < 40_000
    assert md.startswith("![Days to sell](data:image/png;base64,")
    assert "503 rows" in md and "3 outside it (1 below, 2 above)" in md

    log_md = _md(histogram(_frame(spark, data), F.col("x") * 2, title="Doubled", log_y=True))
    assert _png(log_md).startswith(PNG_SIGNATURE)


@pytest.mark.spark
def test_histogram_of_nothing_is_a_note_not_a_plot(spark: Any) -> None:
    assert _md(histogram(spark.createDataFrame([], "x double"), "x", title="Price")) == "**Price**: no rows"
    all_null = spark.createDataFrame([(None,), (None,)], "x double")
    assert "2 rows, all null" in _md(histogram(all_null, "x", title="Price"))


def test_bar_chart_is_a_png_and_empty_input_a_note() -> None:
    md = _md(bar_chart([("Petrol", 812), ("Diesel", 601), ("Electric", 0.5)], title="Adverts by fuel",
                 xlabel="adverts"))
    png = _png(md)
    assert png.startswith(PNG_SIGNATURE) and len(png) < 40_000
    assert _md(bar_chart([], title="Adverts by fuel")) == "**Adverts by fuel**: nothing to plot"


@pytest.mark.spark
def test_top_values_rank_and_lump_the_rest(spark: Any) -> None:
    df = spark.createDataFrame([(m,) for m in ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + [None]], "m string")
    assert top_values(df, "m", n=2) == [("a", 5), ("b", 3), ("(other)", 3)]
    assert top_values(df, "m", n=10) == [("a", 5), ("b", 3), ("c", 2), ("(null)", 1)]
