"""MathUnary (``math_unary``): ``output = op(input)`` in Java double maths.

Mirrors mleap-core's MathUnaryModel: log, exp, sqrt, sin, cos, tan, abs, floor, ceil as
``java.lang.Math``; ``round`` is ``Math.round`` (half up, to a long) widened back to a double;
``logit`` is commons-math3's ``Logit``, which throws outside [0, 1] (a TransformError here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import javamath
from ..bundle import Node
from .base import DOUBLE, Compiled, Infos, Slots, Stage, single_io
from .registry import register

OPERATIONS: dict[str, Callable[[float], float]] = {
    "log": javamath.log,
    "exp": javamath.exp,
    "sqrt": javamath.sqrt,
    "sin": javamath.sin,
    "cos": javamath.cos,
    "tan": javamath.tan,
    "abs": javamath.abs_,
    "logit": javamath.logit,
    "floor": javamath.floor,
    "ceil": javamath.ceil,
    "round": javamath.round_,
}


@register("math_unary")
class MathUnary(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        operation = node.attributes.string("operation")
        if operation not in OPERATIONS:
            raise node.attributes.error("operation", f"unknown operation {operation!r} "
                                                     f"(known: {sorted(OPERATIONS)})")
        self.operation = operation
        self.inputs, self.outputs = single_io(node, "double")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        f = OPERATIONS[self.operation]
        slot, out = slots[0], out_slots[0]
        column = self.inputs[0].column

        def step(vals: list[Any]) -> None:
            try:
                vals[out] = f(vals[slot])
            except ValueError as e:  # only logit raises, outside [0, 1]
                raise self.row_error(f"column {column!r}: {e}") from None

        return Compiled(step, [DOUBLE])
