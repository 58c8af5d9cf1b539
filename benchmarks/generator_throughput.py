"""How fast does the market simulator fill the raw zone: Spark on one core against Spark on every core,
each in its own process (a Spark session is one per process), in one run.

    .venv/bin/python benchmarks/generator_throughput.py [--adverts 1000000] [--repeats 3]

Each process starts a session, writes ``--adverts`` adverts (with taxonomy, valuations, geography)
into a temporary lake ``--repeats`` times, and reports the first run (what the CLI costs) and the
median of the later ones (warm JVM). Writes ``benchmarks/results/generator_throughput.json`` and ``.md``.
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

from benchmarks.report import write_results  # noqa: E402

MASTERS = ("local[1]", "local[*]")


def measure(master: str, adverts: int, repeats: int) -> dict[str, Any]:
    """In this process: a session on ``master``, then ``repeats`` full writes of the raw zone."""
    from daystosell_assets.lake.layout import LakeLayout
    from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake
    from daystosell_assets.resources import spark_config, spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    started = time.perf_counter()
    spark = spark_session(spark_config(master=master))
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - started
    cores = spark.sparkContext.defaultParallelism
    runs, counts, files = [], {}, 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as lake:
            layout = LakeLayout(lake)
            start = time.perf_counter()
            counts = write_raw_lake(spark, layout, MarketSpec(adverts=adverts))
            runs.append(time.perf_counter() - start)
            files = len(list(Path(layout.raw("adverts")).glob("*.parquet")))
    spark.stop()
    warm = statistics.median(runs[1:]) if len(runs) > 1 else runs[0]
    return {"master": master, "cores": cores, "session_start_s": session_s, "runs_s": runs,
            "first_s": runs[0], "warm_s": warm, "rows": counts, "advert_files": files,
            "first_rows_per_s": counts["adverts"] / runs[0], "warm_rows_per_s": counts["adverts"] / warm}


def in_subprocess(master: str, adverts: int, repeats: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--worker", master, "--adverts", str(adverts),
                          "--repeats", str(repeats)], capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(results: dict[str, Any]) -> list[str]:
    runs = results["runs"]
    base = runs["local[1]"]["warm_rows_per_s"]
    lines = [f"{results['adverts']:,} adverts (+ valuations, taxonomy, geography) into a local lake, Parquet; "
             f"{results['machine']['cpus']} CPUs.", "",
             "| Spark | cores | session start | first run | warm run (median) | advert rows/s, warm "
             "| advert rows/s, first | warm vs local[1] |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for master in MASTERS:
        r = runs[master]
        lines.append(f"| `{master}` | {r['cores']} | {r['session_start_s']:.1f} s | {r['first_s']:.1f} s "
                     f"| {r['warm_s']:.1f} s | {r['warm_rows_per_s']:,.0f} | {r['first_rows_per_s']:,.0f} "
                     f"| {r['warm_rows_per_s'] / base:.2f}x |")
    rows = runs["local[*]"]["rows"]
    machine = results["machine"]
    lines += ["", "Rows written: " + ", ".join(f"{k} {v:,}" for k, v in rows.items())
              + f"; adverts in {runs['local[*]']['advert_files']} file(s). 1-minute load average "
              f"{machine['load_average_before']:.1f} before, {machine['load_average_after']:.1f} after."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adverts", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.adverts, args.repeats)))
        return

    results: dict[str, Any] = {
        "adverts": args.adverts, "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_before": os.getloadavg()[0]},
        "runs": {},
    }
    for master in MASTERS:
        print(f"Spark {master}, {args.adverts:,} adverts x {args.repeats} ...", flush=True)
        results["runs"][master] = in_subprocess(master, args.adverts, args.repeats)
    # Other processes on the machine slow both rows alike: the 1-minute load average says how busy it was.
    results["machine"]["load_average_after"] = os.getloadavg()[0]

    lines = table(results)
    write_results("generator_throughput", results, lines)


if __name__ == "__main__":
    main()
