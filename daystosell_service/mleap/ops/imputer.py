"""Imputer (``imputer``, MLeap's extension op): replace a missing value by the fitted surrogate.

Spark's ``ImputerModel.transform``: ``when(x.isNull, surrogate).when(x === missingValue, surrogate)``,
where Spark SQL's ``===`` holds for NaN == NaN. So NaN is replaced only when ``missing_value`` is NaN
(its default); with another missing value (say -1) a NaN passes through, as in Spark (MLeap's own
runtime would replace it). A null input (``None``) gets the surrogate, as in both, when
``nullable_input`` (the default): the plan then lets a column only imputers read hold nulls.
``strategy`` (mean, median, mode) only says how the surrogate was fitted; it is checked, not used.
"""

from __future__ import annotations

import math
from typing import Any

from ..bundle import Node
from .base import DOUBLE, Compiled, Infos, Slots, Stage, single_io
from .registry import register

_KNOWN = ("surrogate_value", "missing_value", "strategy", "nullable_input")
STRATEGIES = ("mean", "median", "mode")


@register("imputer")
class Imputer(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        for name in attributes:
            if name not in _KNOWN:
                raise attributes.error(name, f"unknown attribute for op 'imputer' (expected {list(_KNOWN)})")
        self.surrogate = attributes.double("surrogate_value")
        self.missing = attributes.double("missing_value", math.nan)
        self.strategy = attributes.string("strategy")
        if self.strategy not in STRATEGIES:
            raise attributes.error("strategy", f"must be one of {list(STRATEGIES)}, found {self.strategy!r}")
        self.accepts_null = attributes.boolean("nullable_input", True)
        self.inputs, self.outputs = single_io(node, "double")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        surrogate, missing = self.surrogate, self.missing
        slot, out = slots[0], out_slots[0]
        if missing != missing:
            def step(vals: list[Any]) -> None:
                x = vals[slot]
                vals[out] = surrogate if x is None or x != x else x
        else:
            def step(vals: list[Any]) -> None:
                x = vals[slot]
                vals[out] = surrogate if x is None or x == missing else x

        return Compiled(step, [DOUBLE])
