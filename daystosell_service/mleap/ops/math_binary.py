"""MathBinary (``math_binary``, MLeap's spark-extension): ``output = op(a, b)`` in Java double maths.

Mirrors mleap-core's MathBinaryModel: a comes from port ``input_a`` or, when that port is absent, from
the ``da`` attribute (b likewise from ``input_b`` / ``db``). Division by zero gives ±inf or NaN and
``rem`` is Java's ``%`` (C fmod), never an exception.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import javamath
from ..bundle import Node
from .base import DOUBLE, BatchStep, Compiled, Infos, Input, Output, Slots, Stage, check_ports
from .registry import register

OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": javamath.div,
    "rem": javamath.rem,
    "log_n": javamath.log_n,
    "pow": javamath.pow_,
    "min": javamath.min_,
    "max": javamath.max_,
}




def _java_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``javamath.min_`` over arrays."""
    both_zero = (a == b) & (a == 0.0)
    out = np.where(a < b, a, b)
    out = np.where(both_zero & np.signbit(a), a, out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out)


def _java_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``javamath.max_`` over arrays."""
    both_zero = (a == b) & (a == 0.0)
    out = np.where(a > b, a, b)
    out = np.where(both_zero & ~np.signbit(a), a, out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out)


# IEEE arithmetic as numpy computes it is Java's; fmod is exact in both. The others (log, pow) run the
# scalar functions above on each value, since numpy's may round differently.
VECTORISED: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "rem": np.fmod,
    "min": _java_min,
    "max": _java_max,
}


@register("math_binary")
class MathBinary(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        operation = attributes.string("operation")
        if operation not in OPERATIONS:
            raise attributes.error("operation",
                                   f"unknown operation {operation!r} (known: {sorted(OPERATIONS)})")
        self.operation = operation
        check_ports(node, [], ["output"], optional_inputs=["input_a", "input_b"])
        self.da = attributes.optional_double("da")
        self.db = attributes.optional_double("db")
        for port, default, name in (("input_a", self.da, "da"), ("input_b", self.db, "db")):
            if port in node.inputs:
                self.inputs.append(Input(port, node.inputs[port], "double"))
            elif default is None:
                raise self.error(f"neither an {port!r} port nor a {name!r} attribute")
        self.outputs = [Output("output", node.outputs["output"])]

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        f = OPERATIONS[self.operation]
        out = out_slots[0]
        ports = [i.port for i in self.inputs]
        step: Callable[[list[Any]], None]
        if ports == ["input_a", "input_b"]:
            sa, sb = slots

            def step(vals: list[Any]) -> None:
                vals[out] = f(vals[sa], vals[sb])
        elif ports == ["input_a"]:
            sa, b = slots[0], float(self.db or 0.0)  # set: checked at load

            def step(vals: list[Any]) -> None:
                vals[out] = f(vals[sa], b)
        elif ports == ["input_b"]:
            a, sb = float(self.da or 0.0), slots[0]  # set: checked at load

            def step(vals: list[Any]) -> None:
                vals[out] = f(a, vals[sb])
        else:
            constant = f(float(self.da or 0.0), float(self.db or 0.0))  # both set: checked at load

            def step(vals: list[Any]) -> None:
                vals[out] = constant

        return Compiled(step, [DOUBLE])

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        scalar = OPERATIONS[self.operation]
        vectorised = VECTORISED.get(self.operation)
        out = out_slots[0]
        by_port = dict(zip((i.port for i in self.inputs), slots, strict=True))
        da, db = float(self.da or 0.0), float(self.db or 0.0)  # used only where the port is absent

        def step(cols: list[Any], n: int) -> None:
            a = cols[by_port["input_a"]] if "input_a" in by_port else np.full(n, da)
            b = cols[by_port["input_b"]] if "input_b" in by_port else np.full(n, db)
            if vectorised is not None:
                with np.errstate(all="ignore"):
                    cols[out] = np.asarray(vectorised(a, b), dtype=np.float64)
            else:
                cols[out] = np.fromiter(map(scalar, a.tolist(), b.tolist()), dtype=np.float64, count=n)

        return step
