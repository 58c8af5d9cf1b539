"""LogisticRegression (``logistic_regression``), binary and multinomial, as Spark's
``LogisticRegressionModel``.

* Binary (``coefficients``, ``intercept``, ``threshold`` default 0.5): ``m = dot(x, coefficients) +
  intercept``; raw ``[-m, m]``; probability ``p0 = 1 / (1 + exp(m))``, ``p1 = 1 - p0``; prediction
  ``p1 > threshold`` from a probability, ``m > log(t / (1 - t))`` from the raw prediction (t = 0:
  -Infinity, t = 1: +Infinity), and ``1 / (1 + exp(-m)) > threshold`` from the features alone.
* Multinomial (``coefficient_matrix`` of num_classes x num_features, stored column-major as MLeap
  writes Spark's matrix; ``intercept_vector``; optional ``thresholds``): margins ``intercept[k] +
  dot(row k, x)``; probability Spark's ``Utils.softmax`` (``exp(m - max)`` over its sum; a +Infinity
  margin takes all the mass); prediction the argmax, scaled by thresholds when there are some.

A bundle with a coefficient matrix is multinomial even with two classes (Spark's family=multinomial).
"""

from __future__ import annotations

import math
from typing import Any

from .. import blas, javamath
from ..attributes import Tensor
from ..bundle import Node
from ..limits import MAX_VECTOR_SIZE
from .base import Compiled, Infos, Slots, Stage
from .classification import (
    argmax,
    check_known,
    check_thresholds,
    num_classes,
    output_infos,
    ports,
    slots_by_port,
    threshold_argmax,
)
from .registry import register

_BINARY = ("num_classes", "coefficients", "intercept", "threshold")
_MULTINOMIAL = ("num_classes", "coefficient_matrix", "intercept_vector", "thresholds")


def softmax(margins: list[float]) -> list[float]:
    """Spark's ``ml.impl.Utils.softmax``."""
    top = -math.inf
    for i, v in enumerate(margins):
        if v == math.inf:
            out = [0.0] * len(margins)
            out[i] = 1.0
            return out
        if v > top:
            top = v
    if top == -math.inf:
        top = -1.7976931348623157e308  # Spark starts from Double.MinValue
    exps = [javamath.exp(v - top) for v in margins]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


@register("logistic_regression")
class LogisticRegression(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        self.multinomial = "coefficient_matrix" in attributes
        self.num_classes = num_classes(node)
        if self.multinomial:
            check_known(node, _MULTINOMIAL)
            matrix = attributes["coefficient_matrix"]
            if not isinstance(matrix, Tensor) or matrix.base not in ("double", "float") \
                    or len(matrix.dimensions) != 2:
                raise attributes.error("coefficient_matrix", "expected a 2-D double tensor")
            rows, cols = matrix.dimensions
            if rows != self.num_classes or cols < 0 or cols > MAX_VECTOR_SIZE:
                raise attributes.error("coefficient_matrix", f"dimensions {[rows, cols]} do not fit "
                                                             f"{self.num_classes} classes")
            values = [float(v) for v in matrix.values]
            # Column-major, as Spark's Matrix.toArray: element (k, j) is values[j * rows + k].
            self.rows = [[values[j * rows + k] for j in range(cols)] for k in range(rows)]
            self.intercepts = attributes.double_vector("intercept_vector")
            if len(self.intercepts) != rows:
                raise attributes.error("intercept_vector", f"{len(self.intercepts)} intercepts for {rows} "
                                                           "classes")
            self.thresholds = check_thresholds(node, rows)
            self.size = cols
        else:
            check_known(node, _BINARY)
            if self.num_classes != 2:
                raise attributes.error("num_classes", f"{self.num_classes} classes need a "
                                                      "'coefficient_matrix'")
            self.coefficients = attributes.double_vector("coefficients")
            if len(self.coefficients) > MAX_VECTOR_SIZE:
                raise attributes.error("coefficients", f"more than {MAX_VECTOR_SIZE} coefficients")
            self.intercept = attributes.double("intercept")
            self.threshold = attributes.double("threshold", 0.5)
            if not 0.0 <= self.threshold <= 1.0:
                raise attributes.error("threshold", f"must be in [0, 1], found {self.threshold}")
            self.size = len(self.coefficients)
        self.inputs, self.outputs = ports(node)

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        info = infos[0]
        n = self.size
        if info.size is not None and info.size != n:
            raise self.error(f"the model has {n} features but column {self.inputs[0].column!r} has "
                             f"{info.size}")
        by_port = slots_by_port(self.outputs, out_slots)
        slot = slots[0]
        out = by_port["prediction"]
        raw_out = by_port.get("raw_prediction", -1)
        prob_out = by_port.get("probability", -1)

        def dot_for(coefficients: list[float]) -> Any:
            fixed = blas.Coefficients(coefficients)
            return {"sparse": fixed.sparse, "compressed": fixed.compressed, "dense": fixed.dense}[info.form]

        if self.multinomial:
            # Dense/sparse is decided once per row (Spark's compressed()), then used for every class.
            fixed_rows = [blas.Coefficients(row) for row in self.rows]
            sparse_dots = [f.sparse for f in fixed_rows]
            dense_dots = [f.dense for f in fixed_rows]
            form = info.form
            is_sparse = blas.is_compressed_sparse
            intercepts = self.intercepts
            to_prediction = argmax if self.thresholds is None else threshold_argmax(self.thresholds)
            thresholds = self.thresholds

            def step(vals: list[Any]) -> None:
                x = vals[slot]
                if len(x) != n:
                    raise self.row_error(f"{len(x)} features, expected {n}")
                sparse = form == "sparse" or (form == "compressed" and is_sparse(x))
                dots = sparse_dots if sparse else dense_dots
                raw = [d(x) + b for d, b in zip(dots, intercepts, strict=True)]
                if raw_out >= 0:
                    vals[raw_out] = raw
                if prob_out >= 0 or thresholds is not None:
                    probability = softmax(raw)
                    if prob_out >= 0:
                        vals[prob_out] = probability
                    vals[out] = to_prediction(probability)
                else:
                    vals[out] = argmax(raw)
        else:
            dot = dot_for(self.coefficients)
            intercept, t = self.intercept, self.threshold
            raw_threshold = -math.inf if t == 0.0 else math.inf if t == 1.0 else math.log(t / (1.0 - t))

            def step(vals: list[Any]) -> None:
                x = vals[slot]
                if len(x) != n:
                    raise self.row_error(f"{len(x)} features, expected {n}")
                m = dot(x) + intercept
                if raw_out >= 0:
                    vals[raw_out] = [-m, m]
                if prob_out >= 0:
                    p0 = 1.0 / (1.0 + javamath.exp(m))  # -(-m): Spark negates the raw value -m
                    p1 = 1.0 - p0
                    vals[prob_out] = [p0, p1]
                    vals[out] = 1.0 if p1 > t else 0.0
                elif raw_out >= 0:
                    vals[out] = 1.0 if m > raw_threshold else 0.0
                else:
                    vals[out] = 1.0 if 1.0 / (1.0 + javamath.exp(-m)) > t else 0.0

        return Compiled(step, output_infos(self.outputs, self.num_classes))
