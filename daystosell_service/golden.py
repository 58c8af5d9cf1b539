"""Golden rows: model inputs with Spark's own prediction for each, written beside every bundle.

Whatever scores the bundle (the Python runtime, MLeap's JVM runtime, a running image) must
reproduce them; this module is the one place that reads, writes and compares them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOLDEN_FILE = "golden.jsonl"
REL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GoldenRow:
    inputs: dict[str, Any]
    prediction: float


@dataclass(frozen=True)
class Mismatch:
    index: int
    expected: float
    actual: float | None
    rel_error: float


@dataclass(frozen=True)
class GoldenReport:
    rows: int
    max_rel_error: float
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.rows > 0 and not self.mismatches

    def summary(self, limit: int = 5) -> str:
        head = f"{self.rows} golden rows, max relative error {self.max_rel_error:.3g}"
        if self.passed:
            return head
        shown = "; ".join(f"row {m.index}: expected {m.expected!r}, got {m.actual!r}" for m in self.mismatches[:limit])
        return f"{head}, {len(self.mismatches)} mismatches ({shown})"


def write_golden(path: Path, rows: Iterable[GoldenRow]) -> int:
    count = 0
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps({"inputs": row.inputs, "prediction": row.prediction}, allow_nan=False) + "\n")
            count += 1
    return count


def read_golden(path: Path) -> list[GoldenRow]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            rows.append(GoldenRow(inputs=dict(obj["inputs"]), prediction=float(obj["prediction"])))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{n}: not a golden row ({e})") from e
    return rows


def relative_error(expected: float, actual: float) -> float:
    if expected == actual:
        return 0.0
    if math.isnan(expected) or math.isnan(actual):
        return math.inf
    return abs(actual - expected) / max(abs(expected), 1e-300)


def compare(golden: Sequence[GoldenRow], actual: Sequence[float | None],
            rel_tol: float = REL_TOLERANCE) -> GoldenReport:
    """Compares predictions, in golden-row order, with Spark's; a missing prediction is a mismatch."""
    if len(actual) != len(golden):
        raise ValueError(f"{len(actual)} predictions for {len(golden)} golden rows")
    mismatches: list[Mismatch] = []
    worst = 0.0
    for i, (row, value) in enumerate(zip(golden, actual, strict=True)):
        err = math.inf if value is None else relative_error(row.prediction, float(value))
        worst = max(worst, err)
        if err > rel_tol:
            mismatches.append(Mismatch(i, row.prediction, value, err))
    return GoldenReport(rows=len(golden), max_rel_error=worst, mismatches=mismatches)
