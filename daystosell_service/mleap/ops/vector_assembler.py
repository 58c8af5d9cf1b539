"""VectorAssembler (``vector_assembler``): scalars and vectors, concatenated into one vector.

Mirrors mleap-core's VectorAssemblerModel. ``input_shapes`` (a data_shape list, one per input port in
port order) says which inputs are scalars and which are vectors. MLeap builds the result as a sparse
vector of the non-zero values and then ``compressed``: zeros, -0.0 included, are not stored, so -0.0
comes out as 0.0; whether Spark would hold the result sparse or dense (which picks the dot-product
path of a linear model downstream) is decided per row by ``blas.Coefficients.compressed``.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Node
from ..columns import OneHotColumn, Scratch
from ..limits import MAX_VECTOR_SIZE
from .base import BatchStep, ColumnInfo, Compiled, Infos, Input, Output, Slots, Stage, check_ports, numbered_ports
from .registry import register


@register("vector_assembler")
class VectorAssembler(Stage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        check_ports(node, None, ["output"])
        shapes = node.attributes.data_shape_list("input_shapes")
        ins = numbered_ports(node, "input")
        if len(shapes) != len(ins):
            raise self.error(f"{len(shapes)} input shape(s) but {len(ins)} input port(s)")
        self.declared_sizes: list[int | None] = []
        for (port, column), shape in zip(ins, shapes, strict=True):
            if shape.base == "scalar":
                self.inputs.append(Input(port, column, "double"))
                self.declared_sizes.append(1)
            elif shape.base == "tensor":
                dims = shape.dimensions
                if dims is not None and len(dims) != 1:
                    raise self.error(f"input {port!r} ({column!r}) must be a vector, found dimensions {dims}")
                self.inputs.append(Input(port, column, "vector"))
                self.declared_sizes.append(dims[0] if dims and dims[0] >= 0 else None)
            else:
                raise self.error(f"input {port!r} ({column!r}) has shape {shape.base!r}; only scalars and "
                                 "vectors can be assembled")
        self.outputs = [Output("output", node.outputs["output"])]

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        sizes = [info.size if info.kind == "vector" and info.size is not None else declared
                 for info, declared in zip(infos, self.declared_sizes, strict=True)]
        total = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        if total is not None and total > MAX_VECTOR_SIZE:
            raise self.error(f"assembled vector of {total} elements exceeds the limit of {MAX_VECTOR_SIZE}")
        out = out_slots[0]

        if all(info.kind == "double" for info in infos):
            scalar_slots = list(slots)

            def step(vals: list[Any]) -> None:
                # + 0.0 turns -0.0 into 0.0 and leaves everything else (NaN included) unchanged.
                vals[out] = [vals[s] + 0.0 for s in scalar_slots]
        else:
            # 0: scalar; 1: vector that cannot hold -0.0 (one-hot, assembled); 2: any other vector
            parts = [(slot, 0 if info.kind == "double" else 1 if info.form in ("sparse", "compressed") else 2)
                     for slot, info in zip(slots, infos, strict=True)]

            def step(vals: list[Any]) -> None:
                vector: list[float] = []
                for slot, kind in parts:
                    x = vals[slot]
                    if kind == 0:
                        vector.append(x + 0.0)
                    elif kind == 1:
                        vector.extend(x)
                    else:
                        vector.extend([e + 0.0 for e in x])
                vals[out] = vector

        return Compiled(step, [ColumnInfo("vector", total, "compressed")])

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        sizes = [1 if info.kind == "double" else info.size for info in infos]
        if any(size is None for size in sizes):
            return rowwise
        total = sum(size for size in sizes if size is not None)
        out = out_slots[0]
        # (slot, first position, width, whether to turn -0.0 into 0.0 by adding 0.0 as the row step does)
        parts = []
        position = 0
        for slot, info, size in zip(slots, infos, sizes, strict=True):
            assert size is not None
            parts.append((slot, position, size, info.kind == "double" or info.form == "dense"))
            position += size

        scratch = Scratch()

        def step(cols: list[Any], n: int) -> None:
            vector = scratch.get((n, total))
            if any(isinstance(cols[slot], OneHotColumn) for slot, _, _, _ in parts):
                vector.fill(0.0)
            for slot, first, width, add_zero in parts:
                x = cols[slot]
                if isinstance(x, OneHotColumn) and x.width == width:
                    x.scatter(vector, first)
                elif x.ndim == 1 and width == 1:
                    vector[:, first] = x + 0.0 if add_zero else x
                elif x.ndim == 2 and x.shape[1] == width and x.dtype != object:
                    vector[:, first:first + width] = x + 0.0 if add_zero else x
                else:  # a vector of another length than declared: the row step builds what it can
                    rowwise(cols, n)
                    return
            cols[out] = vector

        return step
