"""The columnar path: a pipeline scored over numpy columns, many rows per step.

A batch step reads and writes whole columns in a list indexed by slot, as the row steps do with
values (it is also given the chunk's row count): a double column is a float64 array ``(n,)``, a string
column an object array of ``str`` or ``None``, a vector column a float64 array ``(n, size)``, a
``columns.OneHotColumn``, or an object array of lists when a stage makes vectors of differing lengths.
A step returns ``None``, or a boolean mask of the rows to keep when it drops rows
(``handle_invalid="skip"``).

Ops with a vectorised step give it through ``Stage.compile_batch``; every other op runs here through
its row step, so the columnar path scores every bundle the row path does, with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .columns import OneHotColumn, dense
from .errors import RowError, TransformError
from .ops.base import BatchStep, ColumnInfo, ColumnKind, Step
from .values import not_a_string, to_double

# Rows per chunk: large enough to spread each step's fixed cost (measured on the project's pipeline:
# 1,024 rows 0.77M rows/s, 4,096 rows 0.90M, 8,192 rows 0.87M), small enough to stay in cache.
CHUNK_ROWS = 4096


# -- inputs -------------------------------------------------------------------------------------------


def _first_bad(values: Sequence[Any], ok: Callable[[Any], bool]) -> int:
    return next((i for i, v in enumerate(values) if not ok(v)), len(values))


def as_doubles(values: Any, column: str, nullable: bool = False) -> np.ndarray:
    """A column of numbers as float64, with the row path's checks (no bools, no strings, no nulls unless
    ``nullable``: then a column holding nulls comes back as an object array of floats and ``None``)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise TransformError(f"column {column!r}: expected one value per row, found an array of shape "
                                 f"{values.shape}")
        kind = values.dtype.kind
        if kind == "f":
            return values.astype(np.float64, copy=False)
        if kind in "iu":
            return values.astype(np.float64)  # rounds to nearest even, as float(int) does
        if kind != "O":
            found = "bool" if kind == "b" else str(values.dtype)
            raise TransformError(f"column {column!r} must be numbers, found {found}")
        values = values.tolist()
    out = np.empty(len(values), dtype=object if nullable and None in values else np.float64)
    for i, v in enumerate(values):
        if type(v) is not float and not (v is None and nullable):
            try:
                v = to_double(v, column)
            except TransformError as e:
                raise RowError(i, str(e)) from None
        out[i] = v
    return out


_STRING_TYPES = {str, type(None)}


def as_strings(values: Any, column: str, check: bool = True) -> np.ndarray:
    """A column of strings (or nulls) as an object array, with the row path's checks unless ``check`` is
    False (the stages reading it check the values they do not recognise)."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise TransformError(f"column {column!r}: expected one value per row, found an array of shape "
                                 f"{values.shape}")
        if values.dtype.kind in "UT":
            return values.astype(object)
        if values.dtype.kind != "O":
            raise TransformError(f"column {column!r} must be strings, found {values.dtype}")
        array = values
    else:
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
    if check and not set(map(type, array.tolist())) <= _STRING_TYPES:
        i = _first_bad(array.tolist(), lambda v: v is None or isinstance(v, str))
        if i < len(array):
            v = array[i]
            raise RowError(i, str(not_a_string(v, column)))
        array = np.array([v if v is None or type(v) is str else str(v) for v in array.tolist()], dtype=object)
    return array


# -- the row step, over columns ---------------------------------------------------------------------


def column_to_values(column: np.ndarray | OneHotColumn) -> list[Any]:
    """A column as the row path holds it: floats, strings/None, vectors as lists."""
    return column.tolist()


def values_to_column(values: list[Any], info: ColumnInfo) -> np.ndarray:
    if info.kind == "double":
        return np.array(values, dtype=np.float64)
    if info.kind == "string":
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    try:
        array = np.array(values, dtype=np.float64)
    except ValueError:
        array = None
    if array is None or array.ndim != 2:  # vectors of differing lengths: keep them as lists
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return array


def row_step_over_columns(step: Step, in_slots: Sequence[int], out_slots: Sequence[int],
                          out_infos: Sequence[ColumnInfo], slot_count: int) -> BatchStep:
    """Runs a stage's row step on each row of a chunk: the columnar path for ops with no vectorised step."""
    out_pairs = list(zip(out_slots, out_infos, strict=True))

    def batch_step(cols: list[Any], n: int) -> np.ndarray | None:
        inputs = [(s, column_to_values(cols[s])) for s in in_slots]
        outputs: list[list[Any]] = [[None] * n for _ in out_pairs]
        vals: list[Any] = [None] * slot_count
        keep: np.ndarray | None = None
        for i in range(n):
            for s, column in inputs:
                vals[s] = column[i]
            try:
                dropped = step(vals)
            except RowError:
                raise
            except TransformError as e:
                raise RowError(i, str(e)) from None
            if dropped:
                if keep is None:
                    keep = np.ones(n, dtype=bool)
                keep[i] = False
                for k, (_, info) in enumerate(out_pairs):
                    outputs[k][i] = _filler(info, outputs[k], i)
                continue
            for k, (o, _) in enumerate(out_pairs):
                outputs[k][i] = vals[o]
        for k, (o, info) in enumerate(out_pairs):
            cols[o] = values_to_column(outputs[k], info)
        return keep

    return batch_step


def _filler(info: ColumnInfo, done: list[Any], i: int) -> Any:
    """A placeholder for a dropped row's output (removed right after the step), shaped like its peers."""
    if info.kind == "double":
        return 0.0
    if info.kind == "string":
        return None
    if info.size is not None:
        return [0.0] * info.size
    previous = next((v for v in reversed(done[:i]) if v is not None), None)
    return [0.0] * len(previous) if previous is not None else []


# -- the runner ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """What ``transform_columns`` returns: the output columns, and for each of their rows the position
    of the input row it came from (``arange(n)`` unless a stage dropped rows)."""

    columns: dict[str, np.ndarray]
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class BatchRunner:
    slot_count: int
    # (column, slot, kind, flag): for strings whether to check them, for doubles whether null is allowed
    inputs: tuple[tuple[str, int, ColumnKind, bool], ...]
    steps: tuple[BatchStep, ...]
    outputs: tuple[tuple[str, int], ...]

    def run(self, columns: Mapping[str, Any], chunk_rows: int = CHUNK_ROWS) -> Scored:
        converted: list[tuple[int, np.ndarray]] = []
        n: int | None = None
        for column, slot, kind, flag in self.inputs:
            if column not in columns:
                raise TransformError(f"missing column {column!r}")
            try:
                values = columns[column]
                array = as_doubles(values, column, flag) if kind == "double" else as_strings(values, column, flag)
            except RowError as e:
                raise TransformError(f"row {e.index}: {e.message}") from None
            if n is None:
                n = len(array)
            elif len(array) != n:
                raise TransformError(f"column {column!r} has {len(array)} rows, but "
                                     f"{self.inputs[0][0]!r} has {n}")
            converted.append((slot, array))
        if n is None:  # a pipeline that reads no column: as many rows as the caller's columns have
            n = len(next(iter(columns.values()))) if columns else 0
        # Each chunk's outputs, copied: a step may build a column in a work array the next chunk reuses.
        parts: list[tuple[list[np.ndarray], np.ndarray]] = []
        for start in range(0, n, chunk_rows) if n else [0]:
            stop = min(n, start + chunk_rows)
            cols: list[Any] = [None] * self.slot_count
            for slot, array in converted:
                cols[slot] = array[start:stop]
            cols, index = self._chunk(cols, np.arange(start, stop))
            parts.append(([np.array(dense(cols[slot])) for _, slot in self.outputs], index))
        return Scored({c: _concat([p[0][k] for p in parts]) for k, (c, _) in enumerate(self.outputs)},
                      np.concatenate([p[1] for p in parts]))

    def _chunk(self, cols: list[Any], index: np.ndarray) -> tuple[list[Any], np.ndarray]:
        for step in self.steps:
            try:
                keep = step(cols, len(index))
            except RowError as e:
                raise TransformError(f"row {int(index[e.index])}: {e.message}") from None
            if keep is not None:
                index = index[keep]
                cols = [c[keep] if c is not None else None for c in cols]
        return cols, index


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if any(p.dtype == object for p in parts) and any(p.dtype != object for p in parts):
        # A ragged chunk next to regular ones: hold every row as a list.
        rows: list[Any] = [r for p in parts for r in p.tolist()]
        out = np.empty(len(rows), dtype=object)
        out[:] = rows
        return out
    return np.concatenate(parts)
