"""MaxAbsScaler (``max_abs_scaler``): ``maxAbs`` tensor.

Spark 3+: ``x * (1 / maxAbs)`` (factor 1 where maxAbs is 0), no clipping; the input's form is kept.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Node
from .base import Compiled, Infos, Slots
from .registry import register
from .scaler_base import VectorScaler, check_known, tensor_attribute


@register("max_abs_scaler")
class MaxAbsScaler(VectorScaler):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        check_known(node, {"maxAbs"})
        self.max_abs = tensor_attribute(node, "maxAbs")
        self.size = len(self.max_abs)

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        info = self.check_size(infos)
        n, slot, out = self.size, slots[0], out_slots[0]
        factors = [1.0 if m == 0 else 1 / m for m in self.max_abs]
        sparse = infos[0].form == "sparse"

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) != n:
                raise self.length_error(x)
            if sparse:
                vals[out] = [v * s if v != 0.0 else v for v, s in zip(x, factors, strict=True)]
            else:
                vals[out] = [v * s for v, s in zip(x, factors, strict=True)]

        return Compiled(step, [info])
