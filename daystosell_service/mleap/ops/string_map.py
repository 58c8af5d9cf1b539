"""StringMap (``string_map``): a string -> the double it is mapped to.

Mirrors mleap-core's StringMapModel: ``labels`` and ``values`` are parallel lists (a label listed twice
keeps its last value); an unmapped label (or null) gives ``default_value`` under ``handle_invalid="keep"``
and raises under ``"error"`` (the default).
"""

from __future__ import annotations

from typing import Any

from ..bundle import Node
from .base import DOUBLE, Compiled, Infos, Slots, Stage, handle_invalid, single_io
from .registry import register


@register("string_map")
class StringMap(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        labels = attributes.string_list("labels")
        values = attributes.double_list("values")
        if len(labels) != len(values):
            raise attributes.error("values", f"{len(values)} values for {len(labels)} labels")
        self.mapping = dict(zip(labels, values, strict=True))
        self.mode = handle_invalid(node, allowed=("error", "keep"))
        self.default = attributes.double("default_value", 0.0)
        self.inputs, self.outputs = single_io(node, "string")

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        get = self.mapping.get
        slot, out = slots[0], out_slots[0]
        column = self.inputs[0].column
        if self.mode == "keep":
            default = self.default

            def step(vals: list[Any]) -> None:
                vals[out] = get(vals[slot], default)
        else:

            def step(vals: list[Any]) -> None:
                value = get(vals[slot])
                if value is None:
                    raise self.row_error(f"column {column!r}: unmapped label {vals[slot]!r} "
                                         "(handle_invalid is 'error')")
                vals[out] = value

        return Compiled(step, [DOUBLE])
