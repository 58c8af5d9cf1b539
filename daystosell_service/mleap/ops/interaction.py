"""Interaction (``interaction``): the products of one value from each input, as Spark's Interaction.

Each input is a scalar or a vector, described by ``num_features<i>`` (one count per feature: 1 for a
numeric feature, the number of categories for a nominal one, whose value must be a category index).
An input's encoded size is the sum of its counts; the output has the product of those sizes. The
inputs are combined from the last to the first: starting from ``[(index 0, value 1.0)]``, each input's
non-zero outputs ``(i, a)`` turn every ``(j, v)`` so far into ``(j + i * size_so_far, v * a)``. So the
first input varies slowest (vector x scalar gives ``[v0*s, v1*s, ...]``), and a value is the product
taken from the last input to the first. A vector input contributes only its stored entries: a vector
Spark holds sparse skips its zeros (which matters for a nominal feature at category 0). The output is
``Vectors.sparse(...).compressed``; a -0.0 product is written 0.0 (Spark keeps its sign only when the
result is dense, and a compressed vector here is taken to hold no -0.0).
"""

from __future__ import annotations

from typing import Any

from .. import blas
from ..bundle import Node
from ..limits import MAX_VECTOR_SIZE
from .base import ColumnInfo, Compiled, Infos, Input, Output, Slots, Stage, check_ports, numbered_ports
from .registry import register

_KNOWN_FIXED = ("num_inputs", "input_shapes")


@register("interaction")
class Interaction(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        attributes = node.attributes
        check_ports(node, None, ["output"])
        ins = numbered_ports(node, "input")
        count = attributes.integer("num_inputs")
        if count != len(ins) or count < 1:
            raise attributes.error("num_inputs", f"{count} inputs but the stage has {len(ins)} input port(s)")
        shapes = attributes.data_shape_list("input_shapes")
        if len(shapes) != count:
            raise attributes.error("input_shapes", f"{len(shapes)} shapes for {count} inputs")
        known = {*_KNOWN_FIXED, *(f"num_features{i}" for i in range(count))}
        for name in attributes:
            if name not in known:
                raise attributes.error(name, f"unknown attribute for op 'interaction' (expected {sorted(known)})")
        self.specs: list[list[int]] = []
        size = 1
        for i, ((port, column), shape) in enumerate(zip(ins, shapes, strict=True)):
            name = f"num_features{i}"
            spec = attributes.int_list(name)
            if not spec or any(n <= 0 for n in spec):
                raise attributes.error(name, f"feature counts must be positive, found {spec[:20]}")
            if shape.base == "scalar":
                if len(spec) != 1:
                    raise attributes.error(name, f"a scalar input has one feature, found {len(spec)} counts")
                self.inputs.append(Input(port, column, "double"))
            elif shape.base == "tensor":
                dims = shape.dimensions
                if dims is not None and (len(dims) != 1 or 0 <= dims[0] != len(spec)):
                    raise attributes.error("input_shapes", f"input {i} has dimensions {list(dims)} but "
                                                           f"{name} has {len(spec)} counts")
                self.inputs.append(Input(port, column, "vector"))
            else:
                raise attributes.error("input_shapes", f"input {i} has shape {shape.base!r}; only scalars "
                                                       "and vectors interact")
            self.specs.append(spec)
            size *= sum(spec)
            if size > MAX_VECTOR_SIZE:
                raise self.error(f"the interaction has more than {MAX_VECTOR_SIZE} features")
        self.size = size
        self.outputs = [Output("output", node.outputs["output"])]

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        # Per input, last first: (slot, is_vector, form, [(offset, count)] per feature, encoded width).
        plan: list[tuple[int, bool, str, list[tuple[int, int]], int]] = []
        for slot, info, spec, port in zip(slots, infos, self.specs, self.inputs, strict=True):
            if info.kind == "vector" and info.size is not None and info.size != len(spec):
                raise self.error(f"input {port.port!r} ({port.column!r}) has {info.size} features but the "
                                 f"interaction expects {len(spec)}")
            offsets, offset = [], 0
            for n in spec:
                offsets.append((offset, n))
                offset += n
            plan.append((slot, info.kind == "vector", info.form, offsets, offset))
        plan.reverse()
        size, out = self.size, out_slots[0]
        is_sparse = blas.is_compressed_sparse

        def encode(value: float, offset: int, n: int) -> tuple[int, float]:
            if n == 1:
                return offset, value
            if not (0.0 <= value < n and value == int(value)):
                raise self.row_error(f"values from a nominal feature must be category indices in [0, {n}), "
                                     f"found {value!r}")
            return offset + int(value), 1.0

        def step(vals: list[Any]) -> None:
            indices = [0]
            values = [1.0]
            prev_size = 1
            for slot, is_vector, form, features, width in plan:
                x = vals[slot]
                outputs: list[tuple[int, float]] = []
                if is_vector:
                    if len(x) != len(features):
                        raise self.row_error(f"a vector of {len(x)} features, expected {len(features)}")
                    skip_zeros = form == "sparse" or (form == "compressed" and is_sparse(x))
                    for v, (offset, n) in zip(x, features, strict=True):
                        if skip_zeros and v == 0.0:
                            continue
                        outputs.append(encode(v, offset, n))
                else:
                    offset, n = features[0]
                    outputs.append(encode(x, offset, n))
                new_indices: list[int] = []
                new_values: list[float] = []
                for i, a in outputs:
                    base = i * prev_size
                    for j, v in zip(indices, values, strict=True):
                        new_indices.append(j + base)
                        new_values.append(v * a)
                indices, values = new_indices, new_values
                prev_size *= width
            result = [0.0] * size
            for j, v in zip(indices, values, strict=True):
                result[j] = v + 0.0  # -0.0 -> 0.0, as downstream stages expect of a compressed vector
            vals[out] = result

        return Compiled(step, [ColumnInfo("vector", size, "compressed")])
