"""A loaded bundle: its stages compiled into a plan, and the public ``transform``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .batch import Scored
from .bundle import PIPELINE_OP, BundleInfo, Node, read_bundle
from .ops import Stage, load_stage
from .plan import Plan


def _stages(node: Node, ops: list[str]) -> list[Stage]:
    """Pipelines flattened depth first into the stages that compute; ``ops`` collects every op name."""
    ops.append(node.op)
    if node.op != PIPELINE_OP:
        return [load_stage(node)]
    stages: list[Stage] = []
    for child in node.children:
        stages.extend(_stages(child, ops))
    return stages


class MleapModel:
    """A bundle ready to score. Immutable after load, so one instance can serve concurrent requests."""

    def __init__(self, info: BundleInfo, root: Node) -> None:
        self.info = info
        self.root = root
        ops: list[str] = []
        self._plan = Plan(_stages(root, ops))
        self.ops: list[str] = ops
        self.input_schema: dict[str, str] = dict(self._plan.external)
        self.output_columns: list[str] = list(self._plan.output_columns)

    def transform(self, rows: Sequence[Mapping[str, Any]],
                  select: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Score rows: each result is a copy of its row plus every column the pipeline produces (only the
        ``select``ed ones when given, computing only what they need). Vectors are dense ``list[float]``.

        A stage with ``handle_invalid="skip"`` drops the rows it cannot score, so the result may be
        shorter than ``rows`` (each result still carries its input columns). Any other bad row raises
        ``TransformError`` naming the row, stage and column. With ``select``, stages the selected columns
        do not depend on are not run, so their errors are not raised either.
        """
        if isinstance(select, str):
            raise TypeError("select must be a list of column names, not a string")
        return self._plan.runner(select).run(rows)

    def transform_columns(self, columns: Mapping[str, Any], select: Sequence[str] | None = None) -> Scored:
        """Score a batch held as columns: ``{column: values}`` with one value per row (numpy arrays, or
        sequences; strings as ``str``/``None``). Returns the columns the pipeline produces (the
        ``select``ed ones when given) as numpy arrays: doubles as float64, vectors as 2-D float64, strings
        as object arrays; ``Scored.index`` says which input row each output row belongs to (rows dropped
        by ``handle_invalid="skip"`` are missing).

        Gives exactly what ``transform`` gives row by row. A bad value raises ``TransformError`` naming
        the row, stage and column; when several rows are bad, the one reported is the first bad row of
        the first stage that meets one (``transform`` reports the first bad row).
        """
        if isinstance(select, str):
            raise TypeError("select must be a list of column names, not a string")
        return self._plan.batch_runner(select).run(columns)

    def __repr__(self) -> str:
        return (f"MleapModel(name={self.info.name!r}, version={self.info.version!r}, "
                f"stages={len(self._plan.steps)}, inputs={list(self.input_schema)}, "
                f"outputs={self.output_columns})")


def load_bundle(path: str | os.PathLike[str]) -> MleapModel:
    """Load a bundle (.zip file or directory). Every problem with it is a ``BundleError``."""
    bundle = read_bundle(path)
    return MleapModel(bundle.info, bundle.root)
