"""What Spark's ``ProbabilisticClassificationModel`` does with a raw prediction, shared by the
classifiers: which ports a stage has, probability -> prediction with or without ``thresholds``, and
the order the outputs are computed in.

Spark's ``transform``: ``raw_prediction`` = ``predictRaw``; ``probability`` = ``raw2probability(raw)``;
``prediction`` = ``probability2prediction(probability)`` when the probability column is produced, else
``raw2prediction(raw)`` when the raw column is, else ``predict(features)``. Without thresholds a
prediction is the first index of the largest value; with thresholds it is the first index of the
largest ``probability[i] / thresholds[i]`` (greater than -Infinity; NaN never wins).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..bundle import Node
from ..javamath import div
from .base import ColumnInfo, Input, Output, check_ports

PORTS = ("prediction", "raw_prediction", "probability")
Vector = list[float]


def ports(node: Node) -> tuple[list[Input], list[Output]]:
    check_ports(node, ["features"], ["prediction"], optional_outputs=["raw_prediction", "probability"])
    return ([Input("features", node.inputs["features"], "vector")],
            [Output(port, node.outputs[port]) for port in PORTS if port in node.outputs])


def argmax(values: Sequence[float]) -> float:
    """Spark's ``DenseVector.argmax``: the first index of the largest value."""
    best, best_value = 0, values[0]
    for i in range(1, len(values)):
        if values[i] > best_value:
            best, best_value = i, values[i]
    return float(best)


def threshold_argmax(thresholds: Sequence[float]) -> Callable[[Sequence[float]], float]:
    def predict(probability: Sequence[float]) -> float:
        best, best_value = 0, -math.inf
        for i, (p, t) in enumerate(zip(probability, thresholds, strict=True)):
            scaled = div(p, t)
            if scaled > best_value:
                best, best_value = i, scaled
        return float(best)

    return predict


def normalize(raw: Sequence[float]) -> Vector:
    """Spark's ``normalizeToProbabilitiesInPlace``: divide by the sum (a left fold); the sum must be
    positive."""
    total = 0.0
    for v in raw:
        total += v
    if not total > 0.0:
        raise ValueError(f"cannot normalise raw prediction {list(raw)[:10]} (sum {total})")
    return [v / total for v in raw]


def check_thresholds(node: Node, num_classes: int) -> list[float] | None:
    attributes = node.attributes
    if "thresholds" not in attributes:
        return None
    thresholds = attributes.double_list("thresholds")
    if len(thresholds) != num_classes:
        raise attributes.error("thresholds", f"{len(thresholds)} thresholds for {num_classes} classes")
    if any(not t >= 0.0 for t in thresholds) or sum(1 for t in thresholds if t == 0.0) > 1:
        raise attributes.error("thresholds", f"must be >= 0 with at most one 0, found {thresholds}")
    return thresholds


def check_known(node: Node, known: Sequence[str]) -> None:
    for name in node.attributes:
        if name not in known:
            raise node.attributes.error(name, f"unknown attribute for op {node.op!r} (expected {list(known)})")


def num_classes(node: Node) -> int:
    attributes = node.attributes
    n = attributes.long("num_classes")
    if not 2 <= n <= 100_000:
        raise attributes.error("num_classes", f"must be at least 2, found {n}")
    return n


def output_infos(outputs: Sequence[Output], size: int) -> list[ColumnInfo]:
    vector = ColumnInfo("vector", size, "dense")
    return [ColumnInfo("double") if o.port == "prediction" else vector for o in outputs]


def slots_by_port(outputs: Sequence[Output], out_slots: Sequence[int]) -> dict[str, int]:
    return {o.port: s for o, s in zip(outputs, out_slots, strict=True)}
