"""Every runtime test scores through both paths: a model whose ``transform`` also runs
``transform_columns`` on the same rows and requires the same results, bit for bit, and the same errors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from daystosell_service.mleap import MleapModel, TransformError


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def as_columns(model: MleapModel, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]] | None:
    """The rows as columns, or None when the columnar API cannot express them (a row missing a column,
    a row that is not a mapping)."""
    if not rows or not all(isinstance(r, Mapping) and r.keys() == rows[0].keys() for r in rows):
        return None
    if not all(c in rows[0] for c in model.input_schema):
        return None
    return {c: [r[c] for r in rows] for c in rows[0]}


def assert_batch_matches(model: MleapModel, rows: Sequence[Mapping[str, Any]], select: Sequence[str] | None,
                         expected: Sequence[Mapping[str, Any]]) -> None:
    columns = as_columns(model, rows)
    if columns is None:
        return
    scored = model.transform_columns(columns, select)
    produced = list(select) if select is not None else model.output_columns
    assert list(scored.columns) == list(dict.fromkeys(produced))
    assert len(scored) == len(expected)
    for k, (i, want) in enumerate(zip(scored.index.tolist(), expected, strict=True)):
        assert rows[i] is not None
        for column, values in scored.columns.items():
            got = values[k]
            got = got.tolist() if isinstance(got, np.ndarray) else got.item() if isinstance(got, np.generic) else got
            assert _same(got, want[column]), (
                f"row {i}, column {column!r}: columnar path gives {got!r}, row path {want[column]!r}")


def assert_batch_fails(model: MleapModel, rows: Sequence[Mapping[str, Any]], select: Sequence[str] | None,
                       error: TransformError) -> None:
    columns = as_columns(model, rows)
    if columns is None:
        return
    try:
        model.transform_columns(columns, select)
    except TransformError as e:
        if len(rows) == 1:
            assert str(e) == str(error), f"columnar path says {e}, row path {error}"
        return
    raise AssertionError(f"the row path fails ({error}) but the columnar path scores the rows")


class BothPaths:
    """Wraps a model: ``transform`` checks the columnar path against the row path on every call."""

    def __init__(self, model: MleapModel) -> None:
        self.model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def transform(self, rows: Sequence[Mapping[str, Any]],
                  select: Sequence[str] | None = None) -> list[dict[str, Any]]:
        try:
            expected = self.model.transform(rows, select)
        except TransformError as e:
            assert_batch_fails(self.model, rows, select, e)
            raise
        assert_batch_matches(self.model, rows, select, expected)
        return expected
