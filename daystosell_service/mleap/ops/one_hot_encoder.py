"""OneHotEncoder (``one_hot_encoder``): category index -> one-hot vector, per input column.

Mirrors mleap-core's OneHotEncoderModel (itself Spark's OneHotEncoderModel):

* vector length: ``size - 1`` with ``drop_last`` (the last category encodes as all zeros), ``size + 1``
  with ``handle_invalid="keep"`` and no ``drop_last`` (an extra slot for invalid values), else ``size``;
* an index outside ``[0, size)`` is invalid: ``keep`` maps it to ``size`` (all zeros with ``drop_last``,
  the extra slot without), ``error`` raises; ``skip`` is not allowed for this op;
* a non-integral index (NaN included) raises, as MLeap checks ``label == label.toInt``.

Two attribute forms: ``category_sizes`` + ``drop_last`` + ``handle_invalid`` (Spark 2.3+), and the older
``size`` + ``drop_last``, where ``size`` is already the output length and a missing ``handle_invalid``
means ``keep`` with ``drop_last`` (indices >= size give zeros, as that encoder did) and ``error`` without.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..bundle import Node
from ..columns import OneHotColumn
from ..errors import RowError, TransformError
from ..limits import MAX_VECTOR_SIZE
from .base import BatchStep, ColumnInfo, Compiled, Infos, Input, Output, Slots, Stage, numbered_ports, row_order
from .registry import register

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def _as_java_int(label: float) -> int | None:
    """``label.toInt`` when that round-trips to ``label`` (MLeap's integrality check), else None."""
    if not math.isfinite(label):
        return None
    i = int(label)
    return i if i == label and _INT_MIN <= i <= _INT_MAX else None


@register("one_hot_encoder")
class OneHotEncoder(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        drop_last = attributes.boolean("drop_last")
        if "size" in attributes:
            sizes = [attributes.long("size")]
            mode = attributes.string("handle_invalid", "keep" if drop_last else "error")
        else:
            sizes = attributes.int_list("category_sizes")
            mode = attributes.string("handle_invalid")
        if mode not in ("error", "keep"):
            raise attributes.error("handle_invalid", f"must be 'error' or 'keep' for this op, found {mode!r}")
        keep = mode == "keep"
        self.mode = mode
        self.sizes = sizes
        if not drop_last and keep:
            self.vector_sizes = [s + 1 for s in sizes]
        elif drop_last and not keep:
            self.vector_sizes = [s - 1 for s in sizes]
        else:
            self.vector_sizes = list(sizes)
        for size, vector_size in zip(sizes, self.vector_sizes, strict=True):
            if size < 0 or not 0 <= vector_size <= MAX_VECTOR_SIZE:
                raise self.error(f"category size {size} gives a vector length of {vector_size}, outside "
                                 f"[0, {MAX_VECTOR_SIZE}]")
        ins = numbered_ports(node, "input")
        outs = numbered_ports(node, "output")
        if not len(ins) == len(outs) == len(sizes):
            raise self.error(f"{len(sizes)} category size(s) but {len(ins)} input and {len(outs)} "
                             "output port(s)")
        self.inputs = [Input(port, column, "double") for port, column in ins]
        self.outputs = [Output(port, column) for port, column in outs]

    def _invalid_index(self, label: float, size: int, column: str) -> int:
        """The index for a label that is not one of ``0.0 .. size-1`` (keep), or raise."""
        if _as_java_int(label) is None:
            raise self.row_error(f"column {column!r}: invalid label {label!r}, must be an integer")
        if self.mode == "keep":
            return size
        problem = "negative value" if label < 0 else "unseen value"
        raise self.row_error(f"column {column!r}: {problem} {label!r} for {size} categories "
                             f"(handle_invalid is 'error')")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        columns = []
        for slot, out, size, vector_size, column in zip(
                slots, out_slots, self.sizes, self.vector_sizes, self.inputs, strict=True):
            # Every valid label as a float key: one dict lookup per row in the common case.
            # (-0.0 finds 0, as MLeap's -0.0.toInt does.) A miss is invalid or non-integral.
            lookup = {float(i): i for i in range(size)}
            columns.append((slot, out, lookup, size, [0.0] * vector_size, vector_size, column.column))
        invalid_index = self._invalid_index

        def step(vals: list[Any]) -> None:
            for slot, out, lookup, size, zeros, vector_size, column in columns:
                label = vals[slot]
                i = lookup.get(label)
                if i is None:
                    i = invalid_index(label, size, column)
                vector = zeros[:]
                if i < vector_size:
                    vector[i] = 1.0
                vals[out] = vector

        return Compiled(step, [ColumnInfo("vector", vs, "sparse") for vs in self.vector_sizes])

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        columns = list(zip(slots, out_slots, self.sizes, self.vector_sizes, self.inputs, strict=True))

        def step(cols: list[Any], n: int) -> None:
            indexes: list[np.ndarray] = []
            misses: list[list[int]] = []
            for slot, _, size, _, _ in columns:
                label = cols[slot]
                with np.errstate(invalid="ignore"):  # NaN and huge labels cast to garbage, caught below
                    index = label.astype(np.int64)
                # Equal after the round trip: integral and in range (NaN never equals).
                valid = (index == label) & (index >= 0) & (index < size)
                indexes.append(index)
                misses.append([] if valid.all() else np.flatnonzero(~valid).tolist())
            for i, k in row_order(misses):
                slot, _, size, _, column = columns[k]
                try:
                    indexes[k][i] = self._invalid_index(float(cols[slot][i]), size, column.column)
                except TransformError as e:
                    raise RowError(i, str(e)) from None
            for (_, out, _, vector_size, _), index in zip(columns, indexes, strict=True):
                cols[out] = OneHotColumn(index, vector_size)

        return step
