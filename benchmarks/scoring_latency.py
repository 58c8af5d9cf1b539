"""How fast is scoring: the Python MLeap runtime against Spark local mode and MLeap's own JVM runtime,
on the same bundle, in one run: one advert (latency percentiles) and batches (rows per second).

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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_results  # noqa: E402
from daystosell_assets.mleap.reference import jvm_dir, leap_frame  # noqa: E402
from daystosell_assets.resources import DEFAULT_LAKE_ROOT  # noqa: E402
from daystosell_service.golden import GOLDEN_FILE, read_golden  # noqa: E402
from daystosell_service.mleap import load_bundle  # noqa: E402


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


def repeated(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return (rows * (n // len(rows) + 1))[:n]


def rate(n: int, runs: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    result = {"rows": n, "rows_per_s": n / statistics.median(runs), "runs": len(runs)}
    if cpu is not None:
        result["rows_per_cpu_s"] = n / statistics.median(cpu)
    return result


def python_rows_batch(model: Any, rows: list[dict[str, Any]], n: int, repeats: int) -> dict[str, float]:
    """The row path (``transform``) over a list of n adverts."""
    batch = repeated(rows, n)
    model.transform(batch[:100], select=["prediction"])
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.transform(batch, select=["prediction"])
        runs.append(time.perf_counter() - start)
    return rate(n, runs)


def python_columnar_batch(model: Any, rows: list[dict[str, Any]], n: int, repeats: int) -> dict[str, float]:
    """The columnar path (``transform_columns``) over n adverts held as numpy columns, one thread."""
    batch = repeated(rows, n)
    columns = {c: np.array([r[c] for r in batch], dtype=object if kind == "string" else np.float64)
               for c, kind in model.input_schema.items()}
    model.transform_columns({c: v[:100] for c, v in columns.items()}, select=["prediction"])  # compiles
    runs, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.transform_columns(columns, select=["prediction"])
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return rate(n, runs, cpu)


def spark(model_path: Path, rows: list[dict[str, Any]], row: dict[str, Any], warmup: int, n: int,
          batch_rows: int, batch_repeats: int) -> dict[str, dict[str, float]]:
    """Spark local[1]: one advert (a one-row DataFrame, transform, collect), and a cached DataFrame of
    ``batch_rows`` adverts transformed and collected."""
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

    def values_of(r: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(r[f.name] if f.dataType.typeName() == "string" else float(r[f.name]) for f in INPUT_SCHEMA.fields)

    values = values_of(row)

    def once() -> None:
        model.transform(spark.createDataFrame([values], INPUT_SCHEMA)).select("prediction").collect()

    for _ in range(warmup):
        once()
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        once()
        timings.append(time.perf_counter() - start)
    frame = spark.createDataFrame([values_of(r) for r in repeated(rows, batch_rows)], INPUT_SCHEMA).cache()
    frame.count()
    model.transform(frame).select("prediction").collect()
    runs = []
    for _ in range(batch_repeats):
        start = time.perf_counter()
        model.transform(frame).select("prediction").collect()
        runs.append(time.perf_counter() - start)
    spark.stop()
    return {"single": percentiles(timings), "batch": rate(batch_rows, runs)}


def mleap_jvm(bundle: Path, rows: list[dict[str, Any]], schema: dict[str, str], warmup: int,
             n: int) -> dict[str, float]:
    """MLeap's runtime transforming a LeapFrame of ``rows`` (latency percentiles of one transform)."""
    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "frame.json"
        frame.write_text(json.dumps(leap_frame(rows, schema)))
        root = jvm_dir()
        out = subprocess.run(["java", "-cp", f"{root / 'classes'}:{root / 'lib'}/*", "MleapBench", str(bundle),
                              str(frame), str(warmup), str(n)], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def ratio(value: float, base: float) -> str:
    return f"{value / base:,.2f}x"


def tables(results: dict[str, Any]) -> list[str]:
    single = results["single"]
    base = single["python"]["p50_us"]
    lines = ["| one advert | p50 | p90 | p99 | p50 vs Python runtime |", "| --- | --- | --- | --- | --- |"]
    for key, label in (("python", "Python MLeap runtime, row path (in-process)"),
                       ("mleap_jvm", "MLeap JVM runtime 0.20.0 (in-process, warm)"),
                       ("spark", "Spark 4.1 local[1] `transform` + `collect`")):
        r = single[key]
        lines.append(f"| {label} | {r['p50_us']:,.1f} µs | {r['p90_us']:,.1f} µs | {r['p99_us']:,.1f} µs "
                     f"| {ratio(r['p50_us'], base)} |")
    batch = results["batch"]
    top = batch["python_columnar"]["rows_per_s"]
    lines += ["", "| batch | rows a call | rows/s | Python columnar vs this |", "| --- | --- | --- | --- |"]
    for key, label in (("python_columnar", "Python MLeap runtime, columnar (`transform_columns`, one thread)"),
                       ("python_rows", "Python MLeap runtime, row path (`transform`)"),
                       ("mleap_jvm", "MLeap JVM runtime 0.20.0 (one LeapFrame)"),
                       ("spark", "Spark 4.1 local[1] `transform` + `collect` (cached DataFrame)")):
        r = batch[key]
        lines.append(f"| {label} | {r['rows']:,} | {r['rows_per_s']:,.0f} | {ratio(top, r['rows_per_s'])} |")
    cpu = batch["python_columnar"]["rows_per_cpu_s"]
    lines += ["", f"Columnar path per CPU second (process time): {cpu:,.0f} rows/s."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT)))
    parser.add_argument("--iterations", type=int, default=5_000)
    parser.add_argument("--spark-iterations", type=int, default=100)
    parser.add_argument("--batch-rows", type=int, default=1_000_000, help="rows a call for the columnar path")
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
        "single": {}, "batch": {},
    }
    single, batch = results["single"], results["batch"]
    print("Python runtime, one advert ...", flush=True)
    single["python"] = python_single(model, row, 500, args.iterations)
    print(f"Python runtime, columnar, {args.batch_rows:,} adverts ...", flush=True)
    batch["python_columnar"] = python_columnar_batch(model, rows, args.batch_rows, 5)
    print("Python runtime, row path, 10,000 adverts ...", flush=True)
    batch["python_rows"] = python_rows_batch(model, rows, 10_000, 5)
    print("MLeap JVM runtime, one advert and 10,000 adverts ...", flush=True)
    single["mleap_jvm"] = mleap_jvm(bundle, [row], model.input_schema, 20_000, args.iterations)
    jvm_batch = mleap_jvm(bundle, repeated(rows, 10_000), model.input_schema, 20, 30)
    batch["mleap_jvm"] = {"rows": 10_000, "rows_per_s": 10_000 / (jvm_batch["p50_us"] / 1e6), "runs": 30}
    print("Spark local[1], one advert and 100,000 adverts ...", flush=True)
    spark_results = spark(args.lake / "models" / "fitted_model", rows, row, 10, args.spark_iterations, 100_000, 3)
    single["spark"], batch["spark"] = spark_results["single"], spark_results["batch"]

    lines = tables(results)
    write_results("scoring_latency", results, lines)


if __name__ == "__main__":
    main()
