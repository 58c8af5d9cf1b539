"""What every op provides: its ports (which columns it reads and writes) and a compiled per-row step.

A stage is loaded once from its bundle node (attributes checked, models precomputed) and compiled
once into a ``Step``: a closure over slot indices that reads its inputs from the row's value list and
writes its outputs there. The plan chains the steps; nothing looks at attributes per row.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..bundle import Node
from ..errors import BundleError, TransformError

ColumnKind = Literal["string", "double", "vector"]
# How MLeap holds a vector column, which picks Spark's dot-product path downstream:
# "sparse" (OneHotEncoder), "compressed" (VectorAssembler: sparse or dense by its non-zero count),
# "dense".
VectorForm = Literal["dense", "sparse", "compressed"]

# A compiled stage: reads/writes the row's slots; returns True to drop the row (handle_invalid="skip").
Step = Callable[[list[Any]], bool | None]
# The same over a chunk of rows held as columns, given the chunk's row count (see ``batch``): returns
# None, or a boolean mask of the rows to keep.
BatchStep = Callable[[list[Any], int], "np.ndarray | None"]


Slots = Sequence[int]


@dataclass(frozen=True)
class ColumnInfo:
    kind: ColumnKind
    size: int | None = None  # vector length, when known at load
    form: VectorForm = "dense"


Infos = Sequence["ColumnInfo"]

DOUBLE = ColumnInfo("double")


@dataclass(frozen=True)
class Input:
    port: str
    column: str
    kind: ColumnKind


@dataclass(frozen=True)
class Output:
    port: str
    column: str


@dataclass(frozen=True)
class Compiled:
    step: Step
    outputs: list[ColumnInfo]  # aligned with Stage.outputs


class Stage(ABC):
    """A loaded stage. Subclasses set ``inputs``/``outputs`` in ``__init__`` and implement ``compile``."""

    # True when the stage may drop rows (handle_invalid="skip"), so it must run even when none of
    # its outputs is selected.
    filters: bool = False
    # True when the stage's batch step refuses non-string values of its string inputs itself, so the
    # columnar path need not check columns only such stages read (a per-value check otherwise).
    checks_strings: bool = False
    # True when the stage takes a null double (MLeap's Imputer): a double column only such stages read
    # may then hold nulls; any other reader refuses them at the pipeline's input, as before.
    accepts_null: bool = False

    def __init__(self, node: Node) -> None:
        self.node = node
        self.name = node.name
        self.op = node.op
        self.inputs: list[Input] = []
        self.outputs: list[Output] = []

    @abstractmethod
    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        """Build the step. ``slots``/``infos`` are aligned with ``self.inputs``, ``out_slots`` with
        ``self.outputs``. Raise ``self.error(...)`` for inputs that make the stage unusable."""

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        """The step over columns (see ``batch``). ``rowwise`` runs the row step on each row: the default,
        and the fallback of a vectorised step for columns it does not handle. A vectorised step must give
        exactly what the row step gives, errors included."""
        return rowwise

    # -- helpers --------------------------------------------------------------------------------------

    def error(self, problem: str) -> BundleError:
        return BundleError(f"{self.node.where()}: {problem}")

    def row_error(self, problem: str) -> TransformError:
        return TransformError(f"stage {self.name!r} ({self.op}): {problem}")


def check_ports(node: Node, inputs: Sequence[str] | None, outputs: Sequence[str],
                optional_inputs: Sequence[str] = (), optional_outputs: Sequence[str] = ()) -> None:
    """Refuse missing required ports and ports this op does not have (``inputs=None``: not checked)."""
    where = f"{node.path}/node.json: stage {node.name!r} (op {node.op!r})"
    for kind, ports, required, optional in (
        ("input", node.inputs, inputs, optional_inputs),
        ("output", node.outputs, outputs, optional_outputs),
    ):
        if required is None:
            continue
        for port in required:
            if port not in ports:
                raise BundleError(f"{where}: missing {kind} port {port!r}")
        known = set(required) | set(optional)
        for port in ports:
            if port not in known:
                raise BundleError(f"{where}: unexpected {kind} port {port!r} (expected {sorted(known)})")


_NUMBERED = re.compile(r"(input|output)(\d+)\Z")


def numbered_ports(node: Node, direction: Literal["input", "output"]) -> list[tuple[str, str]]:
    """The (port, column) pairs of a multi-column stage, ordered by port number.

    MLeap names them input0..n / output0..n; bundles from before multi-column support use a single
    ``input``/``output``, which MLeap reads as input0/output0.
    """
    ports = node.inputs if direction == "input" else node.outputs
    where = f"{node.path}/node.json: stage {node.name!r} (op {node.op!r})"
    if direction in ports:
        if len(ports) != 1:
            raise BundleError(f"{where}: port {direction!r} cannot be mixed with other {direction} ports")
        return [(direction, ports[direction])]
    numbered: dict[int, tuple[str, str]] = {}
    for port, column in ports.items():
        match = _NUMBERED.match(port)
        if match is None or match.group(1) != direction:
            raise BundleError(f"{where}: unexpected {direction} port {port!r}")
        numbered[int(match.group(2))] = (port, column)
    if sorted(numbered) != list(range(len(numbered))):
        raise BundleError(f"{where}: {direction} ports must be {direction}0..{direction}{len(numbered) - 1}, "
                          f"found {sorted(p for p, _ in numbered.values())}")
    return [numbered[i] for i in range(len(numbered))]


def handle_invalid(node: Node, allowed: Sequence[str] = ("error", "skip", "keep"),
                   default: str = "error") -> str:
    value = node.attributes.string("handle_invalid", default)
    if value not in allowed:
        raise node.attributes.error("handle_invalid", f"must be one of {list(allowed)}, found {value!r}")
    return value


def single_io(node: Node, in_kind: ColumnKind, in_port: str = "input",
              out_port: str = "output") -> tuple[list[Input], list[Output]]:
    check_ports(node, [in_port], [out_port])
    return [Input(in_port, node.inputs[in_port], in_kind)], [Output(out_port, node.outputs[out_port])]


def row_order(bad: Sequence[list[int]]) -> list[tuple[int, int]]:
    """``(row, k)`` for every flagged row of every column ``k``, in the order the row path meets them
    (row by row, columns in port order), so a vectorised step reports the error the row path would."""
    return sorted((i, k) for k, rows in enumerate(bad) for i in rows)
