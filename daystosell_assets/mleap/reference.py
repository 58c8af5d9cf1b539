"""MLeap's own JVM runtime as a reference scorer: every bundle we write must load and score there too.

The harness (``jvm/MleapScore.java``, compiled by ``scripts/setup.sh`` against mleap-runtime's jars
from Maven Central) reads a LeapFrame JSON file, transforms it with the bundle and writes the
result as a LeapFrame. ``jvm/MleapConvert.java`` loads a bundle and writes it back in another format
(``to_protobuf``), which is how the Python runtime's protobuf reader is tested against bundles MLeap wrote.
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


def _java(main: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    root = jvm_dir()
    if not (root / "classes" / f"{main}.class").exists():
        raise MleapReferenceError(f"MLeap's JVM runtime is not installed in {root}: run scripts/setup.sh")
    cmd = ["java", "-Xss8m", "-cp", f"{root / 'classes'}:{root / 'lib'}/*", main, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def convert_bundles(pairs: Sequence[tuple[Path, Path]], fmt: str = "protobuf",
                    timeout: float = 600) -> dict[Path, str]:
    """Has MLeap's runtime load each (source, dest) bundle and write it to dest (a directory, or a zip when
    the name ends in .zip; it must not exist) in ``fmt`` ("protobuf" or "json"), all in one JVM.

    Returns the sources MLeap could not convert, each with MLeap's reason; the others are written."""
    if fmt not in ("json", "protobuf"):
        raise ValueError(f"unknown bundle format {fmt!r}")
    if not pairs:
        return {}
    args = [str(p.resolve()) for pair in pairs for p in pair]
    done = _java("MleapConvert", fmt, *args, timeout=timeout)
    by_name = {str(source.resolve()): source for source, _ in pairs}
    failed: dict[Path, str] = {}
    for line in done.stderr.splitlines():
        name, sep, reason = line.removeprefix("FAILED ").partition(": ")
        if line.startswith("FAILED ") and sep and name in by_name:
            failed[by_name[name]] = reason
    if done.returncode != 0 and not failed:
        raise MleapReferenceError(f"MLeap's runtime could not convert bundles: {done.stderr.strip()[-4000:]}")
    return failed


def to_protobuf(json_bundle: Path, dest: Path, timeout: float = 300) -> Path:
    """Writes ``json_bundle`` again as a protobuf bundle at ``dest`` (a directory, or a zip when its name ends
    in .zip), with MLeap's own runtime: node.pb, model.pb and tree.pb as MLeap writes them."""
    failed = convert_bundles([(json_bundle, dest)], "protobuf", timeout=timeout)
    if failed:
        raise MleapReferenceError(f"MLeap's runtime could not convert {json_bundle}: {failed[json_bundle]}")
    return dest


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
    with tempfile.TemporaryDirectory(prefix="mleap-ref-") as tmp:
        frame_in, frame_out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        frame_in.write_text(json.dumps(leap_frame(rows, schema)))
        done = _java("MleapScore", str(bundle.resolve()), str(frame_in), str(frame_out), timeout=timeout)
        if done.returncode != 0:
            raise MleapReferenceError(
                f"MLeap's runtime could not score {bundle}: {done.stderr.strip()[-4000:]}")
        scored = json.loads(frame_out.read_text())
    names = [f["name"] for f in scored["schema"]["fields"]]
    missing = [o for o in outputs if o not in names]
    if missing:
        raise MleapReferenceError(f"MLeap's output frame has no column(s) {missing}; it has {names}")
    return {o: [row[names.index(o)] for row in scored["rows"]] for o in outputs}
