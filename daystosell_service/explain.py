"""Exact Shapley values of a model's input columns against a baseline row (baseline, or interventional, Shapley).

An MLeap bundle keeps no statistics of its trees' inner nodes, so path-based attributions (TreeSHAP, Saabas)
cannot be computed from it. With k inputs, every one of the 2^k coalitions can be scored instead: coalition
``m`` (a bitmask, bit j for input j) is a row taking input j from the instance when bit j is set and from the
baseline otherwise. Input j's Shapley value is then, over the coalitions S without j,

    phi_j = sum_S |S|! (k - |S| - 1)! / k! * (v(S + j) - v(S))

where v is the model's prediction for the coalition's row. It holds for any model, trees and linear alike:
the values sum to ``v(all) - v(none)``, the instance's prediction minus the baseline's (efficiency); inputs
that play the same part get the same value (symmetry); an input the model ignores gets zero (dummy); and for
a linear model input j gets ``coefficient_j * (x_j - baseline_j)``.

Nothing here knows about HTTP or MLeap: ``predict`` is any function from columns to predictions.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

# 2^12 = 4096 coalition rows an instance; past that, exact values stop being cheap enough to serve.
MAX_INPUTS = 12

Predict = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Explanation:
    base_value: float  # the prediction for the baseline row
    prediction: float  # the prediction for the instance, = base_value + sum(contributions) up to rounding
    contributions: dict[str, float]  # input column -> Shapley value, in the columns' order


def choose_baseline(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str]) -> dict[str, Any]:
    """A typical row: for each "double" input the lower median of the rows' values, for each "string" input
    its most frequent value (ties go to the alphabetically first). Missing values are ignored.

    The lower median, rather than the mean of the middle two, is a value some row has: a whole-number year
    stays a whole number, and the baseline never sits between two values a tree treats differently.
    """
    baseline: dict[str, Any] = {}
    for column, kind in schema.items():
        values = [row[column] for row in rows if row.get(column) is not None]
        if not values:
            raise ValueError(f"no row has a value for the input {column!r}")
        if kind == "double":
            baseline[column] = float(statistics.median_low(float(v) for v in values))
        else:
            counts = Counter(str(v) for v in values)
            baseline[column] = min(counts, key=lambda v: (-counts[v], v))
    return baseline


@cache
def coalition_bits(k: int) -> np.ndarray:
    """(2^k, k) 0/1 matrix: row m says which inputs coalition m takes from the instance (bit j of m)."""
    masks = np.arange(1 << k, dtype=np.int64)
    bits = (masks[:, None] >> np.arange(k, dtype=np.int64)) & 1
    bits.setflags(write=False)
    return bits


@cache
def _pairs(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each input j, the coalitions S without j, S + j, and the weight |S|! (k - |S| - 1)! / k!: three
    (k, 2^(k-1)) arrays."""
    masks = np.arange(1 << k, dtype=np.int64)
    size = coalition_bits(k).sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)])
    without, with_j, weights = [], [], []
    for j in range(k):
        subsets = masks[(masks >> j) & 1 == 0]
        without.append(subsets)
        with_j.append(subsets | (1 << j))
        weights.append(weight[size[subsets]])
    arrays = (np.array(without), np.array(with_j), np.array(weights))
    for array in arrays:
        array.setflags(write=False)
    return arrays


def shapley_from_values(values: np.ndarray, k: int) -> np.ndarray:
    """Shapley values from coalition values: ``values`` is (2^k,) or (n, 2^k), indexed by coalition bitmask;
    the result is (k,) or (n, k).

    Marginal differences are taken before weighting, so an input whose value is the baseline's (its two
    coalitions are the same row, scored the same) gets exactly 0, not rounding noise.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != 1 << k:
        raise ValueError(f"expected {1 << k} coalition values for {k} inputs, got {values.shape[-1]}")
    without, with_j, weights = _pairs(k)
    marginal = values[..., with_j] - values[..., without]
    result: np.ndarray = (marginal * weights).sum(axis=-1)
    return result


def coalition_columns(
    instances: Sequence[Mapping[str, Any]], baseline: Mapping[str, Any], columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """The rows of every coalition of every instance, as columns: instance i's coalition m is row
    ``i * 2^k + m``. Numbers stay float64; anything else is an object array."""
    bits = coalition_bits(len(columns))
    out: dict[str, np.ndarray] = {}
    for j, column in enumerate(columns):
        take = bits[:, j]
        numeric = isinstance(baseline[column], int | float) and not isinstance(baseline[column], bool)
        parts = []
        for instance in instances:
            # Index a two-value array with the coalitions' 0/1 bits: 0 -> baseline, 1 -> the instance.
            choice = np.array([baseline[column], instance[column]], dtype=np.float64 if numeric else object)
            parts.append(choice[take])
        out[column] = np.concatenate(parts) if parts else np.empty(0, dtype=np.float64 if numeric else object)
    return out


def explain(
    predict: Predict,
    instances: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any],
    columns: Sequence[str],
) -> list[Explanation]:
    """Exact Shapley values of ``columns`` for each instance, scoring every coalition in one ``predict`` call.

    ``predict`` takes ``{column: values}`` and returns one prediction a row, in order.
    """
    k = len(columns)
    if not 0 < k <= MAX_INPUTS:
        raise ValueError(f"exact Shapley values need 1 to {MAX_INPUTS} inputs, not {k}")
    if not instances:
        return []
    values = np.asarray(predict(coalition_columns(instances, baseline, columns)), dtype=np.float64)
    values = values.reshape(len(instances), 1 << k)
    phi = shapley_from_values(values, k)
    return [
        Explanation(
            base_value=float(row[0]),
            prediction=float(row[-1]),
            contributions={c: float(v) for c, v in zip(columns, contributions, strict=True)},
        )
        for row, contributions in zip(values, phi, strict=True)
    ]
