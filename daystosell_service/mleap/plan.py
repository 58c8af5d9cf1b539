"""The scoring plan: the pipeline's stages compiled once into a flat list of steps over numbered slots.

At load every column gets a slot; each stage is type-checked against what earlier stages produce and
compiled into a closure over its slots. Scoring a row is then: fill the input slots from the row (with
type checks), run the steps in order, copy the output slots into the result. A ``select`` runs only the
steps the selected columns depend on (plus any step that may drop rows, so row counts never change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .batch import BatchRunner, row_step_over_columns
from .errors import BundleError, TransformError
from .ops.base import BatchStep, ColumnInfo, ColumnKind, Stage, Step
from .values import not_a_string, to_double


@dataclass(frozen=True)
class PlanStep:
    stage: Stage
    step: Step
    batch: BatchStep  # the same over columns
    inputs: tuple[str, ...]  # columns read
    outputs: tuple[str, ...]  # columns written


@dataclass(frozen=True)
class Runner:
    """One executable plan: the full one, or one pruned for a ``select``."""

    slot_count: int
    doubles: tuple[tuple[str, int, bool], ...]  # external inputs: (column, slot, whether null is allowed)
    strings: tuple[tuple[str, int], ...]
    steps: tuple[Step, ...]
    outputs: tuple[tuple[str, int], ...]  # columns added to each row

    def run(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        slot_count, doubles, strings, steps, outputs = (
            self.slot_count, self.doubles, self.strings, self.steps, self.outputs)
        results: list[dict[str, Any]] = []
        for r, row in enumerate(rows):
            vals: list[Any] = [None] * slot_count
            try:
                for column, slot, nullable in doubles:
                    v = row[column]
                    if type(v) is not float and not (v is None and nullable):
                        v = to_double(v, column)
                    vals[slot] = v
                for column, slot in strings:
                    v = row[column]
                    if v is not None and type(v) is not str:
                        if not isinstance(v, str):
                            raise not_a_string(v, column)
                        v = str(v)
                    vals[slot] = v
            except KeyError as e:
                raise TransformError(f"row {r}: missing column {e.args[0]!r}") from None
            except TransformError as e:
                raise TransformError(f"row {r}: {e}") from None
            except TypeError:
                raise TransformError(f"row {r}: expected a mapping of column -> value, "
                                     f"found {type(row).__name__}") from None
            try:
                for step in steps:
                    if step(vals):
                        break
                else:
                    result = dict(row)
                    for column, slot in outputs:
                        result[column] = vals[slot]
                    results.append(result)
            except TransformError as e:
                raise TransformError(f"row {r}: {e}") from None
        return results


class Plan:
    """Compiles stages (in pipeline order) and hands out runners."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.slots: dict[str, int] = {}
        self.infos: dict[str, ColumnInfo] = {}
        self.external: dict[str, ColumnKind] = {}  # columns read from outside, in first-use order
        self.produced_by: dict[str, Stage] = {}
        self.steps: list[PlanStep] = []
        for stage in stages:
            self._add(stage)
        self.output_columns = [c for s in self.steps for c in s.outputs]
        self._runners: dict[tuple[str, ...] | None, Runner] = {None: self._runner(None)}
        self._batch_runners: dict[tuple[str, ...] | None, BatchRunner] = {}

    def _slot(self, column: str) -> int:
        slot = self.slots[column] = len(self.slots)
        return slot

    def _add(self, stage: Stage) -> None:
        where = stage.node.where()
        in_slots: list[int] = []
        in_infos: list[ColumnInfo] = []
        seen: dict[str, str] = {}
        for port in stage.inputs:
            if port.column in seen:
                # MLeap builds each stage's input schema keyed by column and refuses the repeat at load
                # ("struct already has field"): refuse it too, so what loads here loads in MLeap.
                raise BundleError(f"{where}: ports {seen[port.column]!r} and {port.port!r} both read column "
                                  f"{port.column!r}; MLeap cannot load a stage that reads a column twice")
            seen[port.column] = port.port
            column = port.column
            info = self.infos.get(column)
            if info is None:
                if port.kind == "vector":
                    raise BundleError(f"{where}: port {port.port!r} reads column {column!r}, which no "
                                      "earlier stage produces (vector columns cannot come from outside the "
                                      "pipeline)")
                info = self.infos[column] = ColumnInfo(port.kind)
                self.external[column] = port.kind
                self._slot(column)
            elif info.kind != port.kind:
                source = (f"stage {self.produced_by[column].name!r}" if column in self.produced_by
                          else "another stage reading it from outside")
                raise BundleError(f"{where}: port {port.port!r} expects a {port.kind} column but "
                                  f"{column!r} is a {info.kind} ({source})")
            in_slots.append(self.slots[column])
            in_infos.append(info)
        out_slots: list[int] = []
        for out in stage.outputs:
            column = out.column
            if column in self.slots:
                source = (f"stage {self.produced_by[column].name!r}" if column in self.produced_by
                          else "an input of the pipeline")
                raise BundleError(f"{where}: output port {out.port!r} writes column {column!r}, which "
                                  f"already exists ({source})")
            out_slots.append(self._slot(column))
        compiled = stage.compile(in_slots, in_infos, out_slots)
        # Slots are numbered as columns appear, so this stage's are all below the next free one.
        rowwise = row_step_over_columns(compiled.step, in_slots, out_slots, compiled.outputs, len(self.slots))
        batch = stage.compile_batch(in_slots, in_infos, out_slots, rowwise)
        for out, info in zip(stage.outputs, compiled.outputs, strict=True):
            self.infos[out.column] = info
            self.produced_by[out.column] = stage
        self.steps.append(PlanStep(stage, compiled.step, batch, tuple(p.column for p in stage.inputs),
                                   tuple(p.column for p in stage.outputs)))

    def _select(self, select: tuple[str, ...] | None) -> tuple[list[PlanStep], list[str]]:
        """The steps a selection needs, in order, and the columns it returns."""
        if select is None:
            return self.steps, self.output_columns
        unknown = [c for c in select if c not in self.produced_by]
        if unknown:
            raise ValueError(f"select names columns the pipeline does not produce: {unknown} "
                             f"(it produces {self.output_columns})")
        outputs = list(dict.fromkeys(select))
        needed = set(outputs)
        kept = []
        for step in reversed(self.steps):
            if step.stage.filters or needed.intersection(step.outputs):
                kept.append(step)
                needed.update(step.inputs)
        kept.reverse()
        return kept, outputs

    def _external(self, kept: list[PlanStep]) -> list[tuple[str, int, ColumnKind]]:
        read = {c for s in kept for c in s.inputs}
        return [(c, self.slots[c], k) for c, k in self.external.items() if c in read]

    @staticmethod
    def _nullable(kept: list[PlanStep]) -> set[str]:
        """Double columns that may be null: those only read by stages that take a null (an imputer)."""
        readers: dict[str, list[bool]] = {}
        for s in kept:
            for c in s.inputs:
                readers.setdefault(c, []).append(s.stage.accepts_null)
        return {c for c, accepts in readers.items() if all(accepts)}

    def _runner(self, select: tuple[str, ...] | None) -> Runner:
        kept, outputs = self._select(select)
        external = self._external(kept)
        nullable = self._nullable(kept)
        return Runner(
            slot_count=len(self.slots),
            doubles=tuple((c, slot, c in nullable) for c, slot, k in external if k == "double"),
            strings=tuple((c, slot) for c, slot, k in external if k == "string"),
            steps=tuple(s.step for s in kept),
            outputs=tuple((c, self.slots[c]) for c in outputs),
        )

    def batch_runner(self, select: Sequence[str] | None) -> BatchRunner:
        key = None if select is None else tuple(select)
        runner = self._batch_runners.get(key)
        if runner is None:
            kept, outputs = self._select(key)
            external = self._external(kept)
            # Stages that check their own string inputs spare the columnar path a check of every value,
            # unless a stage may drop rows: the row path refuses a bad value even in a row it drops.
            filters = any(s.stage.filters for s in kept)
            checked = {c for s in kept if filters or not s.stage.checks_strings for c in s.inputs}
            nullable = self._nullable(kept)
            runner = BatchRunner(
                slot_count=len(self.slots),
                # Doubles first, as the row path checks them, so both report the same bad value first.
                # The flag: strings are checked; doubles may be null.
                inputs=tuple((c, slot, k, c in nullable if k == "double" else c in checked)
                             for c, slot, k in sorted(external, key=lambda e: e[2] != "double")),
                steps=tuple(s.batch for s in kept),
                outputs=tuple((c, self.slots[c]) for c in outputs),
            )
            if len(self._batch_runners) < 64:
                self._batch_runners[key] = runner
        return runner

    def runner(self, select: Sequence[str] | None) -> Runner:
        key = None if select is None else tuple(select)
        runner = self._runners.get(key)
        if runner is None:
            runner = self._runner(key)
            # A service selects from a handful of fixed column lists; don't let odd callers grow this.
            if len(self._runners) < 64:
                self._runners[key] = runner
        return runner
