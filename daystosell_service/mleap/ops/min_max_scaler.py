"""MinMaxScaler (``min_max_scaler``): ``min``/``max`` tensors, ``minValue``/``maxValue`` (0 / 1).

Spark: ``scale = (maxValue - minValue) / (max - min)``; ``(x - min) * scale + minValue``; a constant
feature gives ``(minValue + maxValue) / 2``; NaN stays NaN; the result is ``dense(...).compressed``.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Node
from .base import Compiled, Infos, Slots, VectorForm
from .registry import register
from .scaler_base import VectorScaler, check_known, tensor_attribute


@register("min_max_scaler")
class MinMaxScaler(VectorScaler):
    out_form: VectorForm | None = "compressed"

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        check_known(node, {"min", "max", "minValue", "maxValue"})
        attributes = node.attributes
        self.original_min = tensor_attribute(node, "min")
        self.original_max = tensor_attribute(node, "max")
        if len(self.original_min) != len(self.original_max):
            raise attributes.error("max", f"{len(self.original_max)} values but 'min' has "
                                          f"{len(self.original_min)}")
        self.min_value = attributes.double("minValue", 0.0)
        self.max_value = attributes.double("maxValue", 1.0)
        self.size = len(self.original_min)

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        info = self.check_size(infos)
        n, slot, out = self.size, slots[0], out_slots[0]
        low = self.min_value
        scale = self.max_value - low
        constant = (self.max_value + low) / 2
        # (min, factor) per feature; factor 0 marks a constant feature, as in Spark.
        features = []
        for lo, hi in zip(self.original_min, self.original_max, strict=True):
            span = hi - lo
            features.append((lo, scale / span if span != 0 else 0.0))

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) != n:
                raise self.length_error(x)
            vals[out] = [v if v != v else ((v - m) * f + low if f != 0 else constant)
                         for v, (m, f) in zip(x, features, strict=True)]

        return Compiled(step, [info])
