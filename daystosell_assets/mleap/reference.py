"""MLeap's own JVM runtime as a reference scorer: every bundle we write must load and score there too.

The harness (``jvm/MleapScore.java``, compiled by ``scripts/setup.sh`` against mleap-runtime's jars
from Maven Central) reads a LeapFrame JSON file, transforms it with the bundle and writes the
result as a LeapFrame.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_JVM_DIR = Path(__file__).resolve().parents[2] / ".state" / "jvm"


class MleapReferenceError(RuntimeError):
    pass


def jvm_dir() -> Path:
    return Path(os.environ.get("DAYSTOSELL_MLEAP_JVM_DIR", DEFAULT_JVM_DIR))


def leap_frame(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str]) -> dict[str, Any]:
    """Rows as MLeap's LeapFrame JSON; ``schema`` maps each column to "string" or "double"."""
    names = list(schema)
    return {
        "schema": {"fields": [{"name": n, "type": schema[n]} for n in names]},
        "rows": [[_typed(row[n], schema[n]) for n in names] for row in rows],
    }


def _typed(value: Any, kind: str) -> Any:
    return float(value) if kind == "double" else value


def score_with_mleap(bundle: Path, rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str],
                     output: str = "prediction", timeout: float = 300) -> list[Any]:
    """Scores ``rows`` with MLeap's runtime and returns the ``output`` column, in row order."""
    return score_columns_with_mleap(bundle, rows, schema, [output], timeout=timeout)[output]


def score_columns_with_mleap(bundle: Path, rows: Sequence[Mapping[str, Any]], schema: Mapping[str, str],
                             outputs: Sequence[str], timeout: float = 300) -> dict[str, list[Any]]:
    """Scores ``rows`` with MLeap's runtime in one JVM and returns each of ``outputs`` (input columns
    may be named too), in the order of the rows MLeap kept."""
    root = jvm_dir()
    if not (root / "classes" / "MleapScore.class").exists():
        raise MleapReferenceError(f"MLeap's JVM runtime is not installed in {root}: run scripts/setup.sh")
    with tempfile.TemporaryDirectory(prefix="mleap-ref-") as tmp:
        frame_in, frame_out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        frame_in.write_text(json.dumps(leap_frame(rows, schema)))
        cmd = ["java", "-Xss8m", "-cp", f"{root / 'classes'}:{root / 'lib'}/*", "MleapScore",
               str(bundle.resolve()), str(frame_in), str(frame_out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise MleapReferenceError(
                f"MLeap's runtime could not score {bundle}: {done.stderr.strip()[-4000:]}")
        scored = json.loads(frame_out.read_text())
    names = [f["name"] for f in scored["schema"]["fields"]]
    missing = [o for o in outputs if o not in names]
    if missing:
        raise MleapReferenceError(f"MLeap's output frame has no column(s) {missing}; it has {names}")
    return {o: [row[names.index(o)] for row in scored["rows"]] for o in outputs}
