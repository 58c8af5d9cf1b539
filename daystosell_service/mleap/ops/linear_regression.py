"""LinearRegression (``linear_regression``): ``prediction = dot(features, coefficients) + intercept``.

Mirrors mleap-core's LinearRegressionModel, with the dot product summed in the order Spark's BLAS
uses for the vector's form (see ``blas``).
"""

from __future__ import annotations

from typing import Any

from .. import blas
from ..bundle import Node
from ..limits import MAX_VECTOR_SIZE
from .base import DOUBLE, Compiled, Infos, Slots, Stage, single_io
from .registry import register


@register("linear_regression")
class LinearRegression(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        self.coefficients = attributes.double_vector("coefficients")
        if len(self.coefficients) > MAX_VECTOR_SIZE:
            raise attributes.error("coefficients", f"more than {MAX_VECTOR_SIZE} coefficients")
        self.intercept = attributes.double("intercept")
        self.inputs, self.outputs = single_io(node, "vector", "features", "prediction")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        coefficients, intercept = self.coefficients, self.intercept
        n = len(coefficients)
        info = infos[0]
        if info.size is not None and info.size != n:
            raise self.error(f"{n} coefficients but column {self.inputs[0].column!r} has {info.size} "
                             "features")
        fixed = blas.Coefficients(coefficients)
        dot = {"sparse": fixed.sparse, "compressed": fixed.compressed, "dense": fixed.dense}[info.form]
        slot, out = slots[0], out_slots[0]

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) != n:
                raise self.row_error(f"{len(x)} features for {n} coefficients")
            vals[out] = dot(x) + intercept

        return Compiled(step, [DOUBLE])
