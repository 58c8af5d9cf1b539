"""What the vector scalers share (``standard_scaler``, ``min_max_scaler``, ``max_abs_scaler``).

Spark's maths (``ml.feature``), with each per-feature factor precomputed at load as Spark does:

* StandardScaler: ``scale = 1 / std`` (0 where std is 0); with a mean, ``(x - mean) * scale``, or
  ``x - mean`` without std; without a mean, ``x * scale``. Only mean centring densifies the vector.
* MinMaxScaler: ``scale = (maxValue - minValue) / (max - min)``; ``(x - min) * scale + minValue``;
  a constant feature (``max == min``) gives ``(minValue + maxValue) / 2``; NaN stays NaN. The output
  is ``Vectors.dense(...).compressed``.
* MaxAbsScaler: ``x * (1 / maxAbs)`` (1 where maxAbs is 0), no clipping (Spark 3+).

Attribute names are MLeap's (``mean``, ``std``, ``min``, ``max``, ``minValue``, ``maxValue``,
``maxAbs``); any other attribute is refused at load.
"""

from __future__ import annotations

from ..attributes import Tensor
from ..bundle import Node
from ..limits import MAX_VECTOR_SIZE
from .base import ColumnInfo, Infos, Stage, VectorForm, single_io


def tensor_attribute(node: Node, name: str) -> list[float]:
    attributes = node.attributes
    if not isinstance(attributes.get(name), Tensor):
        raise attributes.error(name, "expected a 1-D double tensor")
    values = attributes.double_vector(name)
    if len(values) > MAX_VECTOR_SIZE:
        raise attributes.error(name, f"more than {MAX_VECTOR_SIZE} values")
    return values


def check_known(node: Node, known: set[str]) -> None:
    for name in node.attributes:
        if name not in known:
            raise node.attributes.error(name, f"unknown attribute for op {node.op!r} (expected {sorted(known)})")


class VectorScaler(Stage):
    size: int
    out_form: VectorForm | None = None  # None: the input's form

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.inputs, self.outputs = single_io(node, "vector")

    def check_size(self, infos: Infos) -> ColumnInfo:
        info = infos[0]
        if info.size is not None and info.size != self.size:
            raise self.error(f"the model has {self.size} features but column {self.inputs[0].column!r} "
                             f"has {info.size}")
        return ColumnInfo("vector", self.size, self.out_form or info.form)

    def length_error(self, x: list[float]) -> Exception:
        return self.row_error(f"{len(x)} features, expected {self.size}")
