"""Bucketizer (``bucketizer``): a double -> the index of the bucket it falls in, as a double.

Mirrors mleap-core's BucketizerModel (Spark's ``binarySearchForBuckets``): bucket i is
``[splits[i], splits[i+1])``, the last bucket also includes its upper bound. NaN is invalid: ``keep``
gives ``len(splits) - 1``, ``skip`` drops the row, ``error`` raises. A value outside the splits always
raises. Splits ±Infinity were written as null (NaN); as MLeap does, a NaN first split is -Infinity and
a NaN last split +Infinity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from ..bundle import Node
from .base import DOUBLE, Compiled, Infos, Slots, Stage, handle_invalid, single_io
from .registry import register


def _java_less(a: float, b: float) -> bool:
    """``Double.compare(a, b) < 0`` for non-NaN values: like ``<`` but with -0.0 below 0.0."""
    if a == b:
        return math.copysign(1.0, a) < math.copysign(1.0, b)
    return a < b


def java_binary_search(splits: Sequence[float], key: float) -> int:
    """``java.util.Arrays.binarySearch(double[], double)`` for a non-NaN key: the index, or
    ``-(insertion point) - 1``."""
    lo, hi = 0, len(splits) - 1
    while lo <= hi:
        mid = (lo + hi) >> 1
        value = splits[mid]
        if _java_less(value, key):
            lo = mid + 1
        elif _java_less(key, value):
            hi = mid - 1
        else:
            return mid
    return -(lo + 1)


@register("bucketizer")
class Bucketizer(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        splits = node.attributes.double_list("splits")
        if len(splits) < 2:
            raise node.attributes.error("splits", f"needs at least 2 values, found {len(splits)}")
        if math.isnan(splits[0]):
            splits[0] = -math.inf
        if math.isnan(splits[-1]):
            splits[-1] = math.inf
        if any(math.isnan(s) for s in splits) or any(a >= b for a, b in itertools.pairwise(splits)):
            raise node.attributes.error("splits", f"must be strictly increasing, found {splits[:20]}")
        self.splits = splits
        self.mode = handle_invalid(node)
        self.filters = self.mode == "skip"
        self.inputs, self.outputs = single_io(node, "double")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        splits = self.splits
        last, last_bucket, nan_bucket = splits[-1], float(len(splits) - 2), float(len(splits) - 1)
        slot, out = slots[0], out_slots[0]
        mode = self.mode
        column = self.inputs[0].column

        def step(vals: list[Any]) -> bool | None:
            x = vals[slot]
            if x != x:
                if mode == "keep":
                    vals[out] = nan_bucket
                    return None
                if mode == "skip":
                    return True
                raise self.row_error(f"column {column!r}: NaN value (handle_invalid is 'error')")
            if x == last:
                vals[out] = last_bucket
                return None
            i = java_binary_search(splits, x)
            if i < 0:
                i = -i - 1
                if i == 0 or i == len(splits):
                    raise self.row_error(f"column {column!r}: value {x!r} is outside the bucket bounds "
                                         f"[{splits[0]}, {last}]")
                i -= 1
            vals[out] = float(i)
            return None

        return Compiled(step, [DOUBLE])
