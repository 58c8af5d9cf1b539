"""StringIndexer (``string_indexer``): label -> its index in the fitted label list, as a double.

Mirrors mleap-core's StringIndexerModel. Unseen labels and nulls are "invalid": ``keep`` maps them to
``len(labels)``, ``error`` raises, ``skip`` drops the row (MLeap filters the frame). For a null under
``skip`` we drop the row as Spark does; MLeap's own filter would fail on it with a NullPointerException.
When a label appears twice in the list, the last index wins, as in MLeap's and Spark's maps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import kernels
from ..bundle import Node
from ..errors import RowError
from ..limits import MAX_VECTOR_SIZE
from ..values import not_a_string
from .base import (
    DOUBLE,
    BatchStep,
    Compiled,
    Infos,
    Input,
    Output,
    Slots,
    Stage,
    handle_invalid,
    numbered_ports,
    row_order,
)
from .registry import register


def labels_of(node: Node) -> list[list[str]]:
    """The label lists: ``labels_length`` + ``labels_array_i`` (Spark 3+), or one ``labels`` list (older)."""
    attributes = node.attributes
    if "labels_length" in attributes:
        count = attributes.integer("labels_length")
        if not 0 < count <= MAX_VECTOR_SIZE:
            raise attributes.error("labels_length", f"must be positive, found {count}")
        return [attributes.string_list(f"labels_array_{i}") for i in range(count)]
    return [attributes.string_list("labels")]


@register("string_indexer")
class StringIndexer(Stage):
    checks_strings = True

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.mode = handle_invalid(node)
        self.filters = self.mode == "skip"
        labels = labels_of(node)
        ins = numbered_ports(node, "input")
        outs = numbered_ports(node, "output")
        if not len(ins) == len(outs) == len(labels):
            raise self.error(f"{len(labels)} label list(s) but {len(ins)} input and {len(outs)} "
                             "output port(s)")
        self.inputs = [Input(port, column, "string") for port, column in ins]
        self.outputs = [Output(port, column) for port, column in outs]
        self.indexes = [{label: float(i) for i, label in enumerate(ls)} for ls in labels]
        # The invalid bucket is the list's length, duplicates included (MLeap's labelsArray(i).length).
        self.unseen = [float(len(ls)) for ls in labels]

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        columns = [(slot, out, index, unseen, column.column)
                   for slot, out, index, unseen, column
                   in zip(slots, out_slots, self.indexes, self.unseen, self.inputs, strict=True)]
        mode = self.mode

        def invalid(value: Any, column: str, unseen_index: float) -> float | None:
            if mode == "keep":
                return unseen_index
            if mode == "skip":
                return None
            what = "null value" if value is None else f"unseen label {value!r}"
            raise self.row_error(f"column {column!r}: {what} (handle_invalid is 'error'; 'keep' would give "
                                 f"{unseen_index})")

        if len(columns) == 1:
            slot, out, index, unseen_index, column = columns[0]
            get = index.get

            def step(vals: list[Any]) -> bool | None:
                value = vals[slot]
                i = get(value)
                if i is None:
                    i = invalid(value, column, unseen_index)
                    if i is None:
                        return True
                vals[out] = i
                return None
        else:

            def step(vals: list[Any]) -> bool | None:
                for slot, out, index, unseen_index, column in columns:
                    value = vals[slot]
                    i = index.get(value)
                    if i is None:
                        i = invalid(value, column, unseen_index)
                        if i is None:
                            return True
                    vals[out] = i
                return None

        return Compiled(step, [DOUBLE] * len(columns))

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        columns = [(slot, out, index, unseen, column.column)
                   for slot, out, index, unseen, column
                   in zip(slots, out_slots, self.indexes, self.unseen, self.inputs, strict=True)]
        mode = self.mode

        def lookup(values: list[Any], index: dict[str, float], n: int, column: str) -> np.ndarray:
            # NaN marks a miss: no index is NaN, and the check is then one vectorised pass.
            try:
                return kernels.index_labels(values, index, math.nan, np.empty(n))
            except TypeError:  # an unhashable value: never a label
                i = next(i for i, v in enumerate(values) if not isinstance(v, str | None))
                raise RowError(i, str(not_a_string(values[i], column))) from None

        def step(cols: list[Any], n: int) -> np.ndarray | None:
            found = [lookup(cols[slot].tolist(), index, n, column) for slot, _, index, _, column in columns]
            missed = [np.isnan(f) for f in found]
            misses = [np.flatnonzero(m).tolist() if m.any() else [] for m in missed]
            keep: np.ndarray | None = None
            for i, k in row_order(misses):
                slot, _, _, unseen, column = columns[k]
                value = cols[slot][i]
                if value is not None and not isinstance(value, str):
                    raise RowError(i, str(not_a_string(value, column)))
                if keep is not None and not keep[i]:
                    continue  # dropped by an earlier column: the row path never reads the rest
                if mode == "keep":
                    found[k][i] = unseen
                elif mode == "skip":
                    if keep is None:
                        keep = np.ones(n, dtype=bool)
                    keep[i] = False
                else:
                    what = "null value" if value is None else f"unseen label {value!r}"
                    raise RowError(i, str(self.row_error(
                        f"column {column!r}: {what} (handle_invalid is 'error'; 'keep' would give {unseen})")))
            for (_, out, _, _, _), f in zip(columns, found, strict=True):
                cols[out] = f  # a dropped row keeps its NaN placeholder until the plan removes it
            return keep

        return step
