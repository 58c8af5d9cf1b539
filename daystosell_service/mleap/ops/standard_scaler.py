"""StandardScaler (``standard_scaler``): with_mean / with_std are the presence of ``mean`` / ``std``.

Spark: ``scale = 1 / std`` (0 where std is 0); with a mean, ``(x - mean) * scale`` (or ``x - mean``
without std), a dense vector; without a mean, ``x * scale`` in the input's form.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Node
from .base import Compiled, Infos, Slots
from .registry import register
from .scaler_base import VectorScaler, check_known, tensor_attribute


@register("standard_scaler")
class StandardScaler(VectorScaler):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        check_known(node, {"mean", "std"})
        self.mean = tensor_attribute(node, "mean") if "mean" in node.attributes else None
        self.std = tensor_attribute(node, "std") if "std" in node.attributes else None
        if self.mean is None and self.std is None:
            raise node.attributes.error("mean", "a standard scaler needs 'mean', 'std' or both")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise node.attributes.error("std", f"{len(self.std)} values but 'mean' has {len(self.mean)}")
        self.size = len(self.std) if self.std is not None else len(self.mean or [])
        self.out_form = "dense" if self.mean is not None else None

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        info = self.check_size(infos)
        n, slot, out = self.size, slots[0], out_slots[0]
        shift = self.mean
        scale = None if self.std is None else [0.0 if s == 0.0 else 1.0 / s for s in self.std]
        sparse = infos[0].form == "sparse"

        if shift is not None and scale is not None:
            pairs = list(zip(shift, scale, strict=True))

            def step(vals: list[Any]) -> None:
                x = vals[slot]
                if len(x) != n:
                    raise self.length_error(x)
                vals[out] = [(v - m) * s for v, (m, s) in zip(x, pairs, strict=True)]
        elif shift is not None:
            def step(vals: list[Any]) -> None:
                x = vals[slot]
                if len(x) != n:
                    raise self.length_error(x)
                vals[out] = [v - m for v, m in zip(x, shift, strict=True)]
        else:
            factors = scale or []

            def step(vals: list[Any]) -> None:
                x = vals[slot]
                if len(x) != n:
                    raise self.length_error(x)
                if sparse:  # Spark scales only the stored (non-zero) entries
                    vals[out] = [v * s if v != 0.0 else v for v, s in zip(x, factors, strict=True)]
                else:
                    vals[out] = [v * s for v, s in zip(x, factors, strict=True)]

        return Compiled(step, [info])
