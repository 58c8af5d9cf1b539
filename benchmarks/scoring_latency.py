"""How long does scoring one advert take: the Python MLeap runtime against Spark local mode and
MLeap's own JVM runtime, on the same bundle, in one run.

    .venv/bin/python benchmarks/scoring_latency.py [--lake .state/lake]

Uses the newest bundle and the fitted model in the lake (``make demo`` makes both). Writes
``benchmarks/results/scoring_latency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daystosell_assets.mleap.reference import jvm_dir, leap_frame  # noqa: E402
from daystosell_assets.resources import DEFAULT_LAKE_ROOT  # noqa: E402
from daystosell_service.golden import GOLDEN_FILE, read_golden  # noqa: E402
from daystosell_service.mleap import load_bundle  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6  # noqa: E731
    return {"p50_us": pick(0.5), "p90_us": pick(0.9), "p99_us": pick(0.99), "iterations": len(ordered)}


def python_single(model: Any, row: dict[str, Any], warmup: int, n: int) -> dict[str, float]:
    for _ in range(warmup):
        model.transform([row], select=["prediction"])
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        model.transform([row], select=["prediction"])
        timings.append(time.perf_counter() - start)
    return percentiles(timings)


def python_batch(model: Any, rows: list[dict[str, Any]], repeats: int) -> dict[str, float]:
    batch = (rows * (10_000 // len(rows) + 1))[:10_000]
    model.transform(batch[:100], select=["prediction"])
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.transform(batch, select=["prediction"])
        runs.append(time.perf_counter() - start)
    return {"rows": len(batch), "rows_per_s": len(batch) / statistics.median(runs)}


def spark_single(model_path: Path, row: dict[str, Any], warmup: int, n: int) -> dict[str, float]:
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from daystosell_assets.mleap.golden import INPUT_SCHEMA
    from daystosell_assets.resources import spark_config

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_config(master="local[1]").items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    model = PipelineModel.load(str(model_path))
    values = tuple(row[f.name] if f.dataType.typeName() == "string" else float(row[f.name])
                   for f in INPUT_SCHEMA.fields)

    def once() -> None:
        model.transform(spark.createDataFrame([values], INPUT_SCHEMA)).select("prediction").collect()

    for _ in range(warmup):
        once()
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        once()
        timings.append(time.perf_counter() - start)
    spark.stop()
    return percentiles(timings)


def mleap_single(bundle: Path, row: dict[str, Any], schema: dict[str, str], warmup: int, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "row.json"
        frame.write_text(json.dumps(leap_frame([row], schema)))
        root = jvm_dir()
        out = subprocess.run(["java", "-cp", f"{root / 'classes'}:{root / 'lib'}/*", "MleapBench", str(bundle),
                              str(frame), str(warmup), str(n)], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT)))
    parser.add_argument("--iterations", type=int, default=5_000)
    parser.add_argument("--spark-iterations", type=int, default=100)
    args = parser.parse_args()

    bundles = sorted((args.lake / "bundles").glob("*/bundle.zip"))
    if not bundles:
        raise SystemExit(f"no bundle under {args.lake / 'bundles'}: run `make demo` first")
    bundle = bundles[-1]
    golden = read_golden(bundle.parent / GOLDEN_FILE)
    rows = [g.inputs for g in golden]
    model = load_bundle(bundle)
    row = rows[0]

    print(f"bundle {bundle} ({', '.join(sorted(set(model.ops)))})", flush=True)
    results: dict[str, Any] = {
        "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
        "ops": model.ops,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    print("python runtime, one advert ...", flush=True)
    results["python_single"] = python_single(model, row, 500, args.iterations)
    print("python runtime, batch of 10,000 ...", flush=True)
    results["python_batch"] = python_batch(model, rows, 5)
    print("MLeap JVM runtime, one advert ...", flush=True)
    results["mleap_single"] = mleap_single(bundle, row, model.input_schema, 20_000, args.iterations)
    print("Spark local[1], one advert ...", flush=True)
    results["spark_single"] = spark_single(args.lake / "models" / "fitted_model", row, 10, args.spark_iterations)

    base = results["python_single"]
    lines = ["| scorer (one advert) | p50 | p90 | p99 | p50 vs Python runtime |", "| --- | --- | --- | --- | --- |"]
    for key, label in (("python_single", "Python MLeap runtime (in-process)"),
                       ("mleap_single", "MLeap JVM runtime 0.20.0 (in-process, warm)"),
                       ("spark_single", "Spark 4.1 local[1] `transform` + `collect`")):
        r = results[key]
        lines.append(f"| {label} | {r['p50_us']:,.1f} µs | {r['p90_us']:,.1f} µs | {r['p99_us']:,.1f} µs "
                     f"| {r['p50_us'] / base['p50_us']:,.2f}x |")
    lines.append("")
    lines.append(f"Python runtime batch: {results['python_batch']['rows_per_s']:,.0f} rows/s "
                 f"({results['python_batch']['rows']:,} rows a call, one core).")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring_latency.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "scoring_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
