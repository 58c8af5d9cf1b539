"""What the blocking data checks cost: the `adverts` contract checked at several lake sizes, three ways, in one
run: Pandera's pyspark backend on the frame as the asset check gets it (read from Parquet: every check a scan
of its columns), the same on the frame persisted first, and the one-pass rule diagnosis that explains a
failure. Then the source assets with all their checks through Dagster, as a run does them.

    .venv/bin/python benchmarks/check_cost.py [--sizes 20000 1000000]

Writes ``benchmarks/results/check_cost.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

from dagster import AssetSelection, DagsterInstance, materialize  # noqa: E402
from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402

from benchmarks.report import write_results  # noqa: E402
from daystosell_assets import schemas  # noqa: E402
from daystosell_assets.definitions import training_graph  # noqa: E402
from daystosell_assets.lake.layout import LakeLayout  # noqa: E402
from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake  # noqa: E402
from daystosell_assets.quality.checks import pandera_errors  # noqa: E402
from daystosell_assets.quality.diagnose import diagnose  # noqa: E402
from daystosell_assets.quality.rules import contract  # noqa: E402
from daystosell_assets.resources import lake_resources, spark_session  # noqa: E402

SOURCES = ("adverts", "taxonomy", "valuations", "geography")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def contract_ways(df: DataFrame) -> dict[str, float]:
    rules = contract(schemas.Adverts)
    timed(lambda: pandera_errors(schemas.Adverts, df))  # warm the JVM's code paths
    from_parquet = timed(lambda: pandera_errors(schemas.Adverts, df))
    diagnosis = timed(lambda: diagnose(df, rules, ("advert_id",)))
    persisted = df.persist(StorageLevel.MEMORY_AND_DISK)
    cache = timed(persisted.count)
    pandera = timed(lambda: pandera_errors(schemas.Adverts, persisted))
    persisted.unpersist()
    return {"pandera_from_parquet_s": from_parquet, "persist_s": cache, "pandera_persisted_s": pandera,
            "diagnosis_s": diagnosis}


def through_dagster(lake: Path) -> dict[str, Any]:
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        graph = training_graph()
        result = materialize(graph, instance=instance, selection=AssetSelection.assets(*SOURCES),
                             resources=lake_resources(str(lake)))
        wall = time.perf_counter() - started
    checks = {e.check_name: float(cast(float, e.metadata["seconds"].value))
              for e in result.get_asset_check_evaluations() if "seconds" in e.metadata}
    return {"sources_with_checks_wall_s": wall, "schema_check_s": checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 1_000_000])
    args = parser.parse_args()
    spark = spark_session()
    results: list[dict[str, Any]] = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="daystosell-checks-") as tmp:
            lake = Path(tmp) / "lake"
            print(f"seeding {size:,} adverts", flush=True)
            write_raw_lake(spark, LakeLayout(str(lake)), MarketSpec(adverts=size))
            adverts = spark.read.parquet(LakeLayout(str(lake)).raw("adverts")).dropDuplicates()
            adverts = adverts.withColumn("postcode_area", adverts["postcode_district"].substr(1, 2))
            curated = str(Path(tmp) / "adverts")
            adverts.write.parquet(curated)
            row = {"adverts": size, **contract_ways(spark.read.parquet(curated)), **through_dagster(lake)}
        print(json.dumps(row), flush=True)
        results.append(row)
    write(results)


def write(results: list[dict[str, Any]]) -> None:
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "spark": spark_session().version}
    rules = contract(schemas.Adverts)
    lines = [
        f"Cost of the `adverts` contract (Pandera model `Adverts`: {len(rules.types)} columns, {len(rules.rules)} "
        f"row rules and a unique key) on {meta['machine']}, Spark {meta['spark']} local mode; one run of "
        "`.venv/bin/python benchmarks/check_cost.py`.",
        "",
        "| adverts | Pandera on Parquet (as the check runs it) | Pandera, frame persisted first | ratio | "
        "one-pass diagnosis (on failure) | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        q, p, d, c = r["pandera_from_parquet_s"], r["pandera_persisted_s"], r["diagnosis_s"], r["persist_s"]
        lines.append(f"| {r['adverts']:,} | {q:.2f} s | {p:.2f} s + {c:.2f} s to persist | {(p + c) / q:.2f}x | "
                     f"{d:.2f} s | {d / q:.2f}x |")
    lines += ["", "The source assets and all their checks, materialised through Dagster (wall time of the run; "
              "seconds each schema check reported):", "",
              "| adverts | run wall time | " + " | ".join(f"{s}_schema" for s in SOURCES) + " |",
              "| --- | --- | " + " | ".join("---" for _ in SOURCES) + " |"]
    for r in results:
        checks = r["schema_check_s"]
        lines.append(f"| {r['adverts']:,} | {r['sources_with_checks_wall_s']:.1f} s | "
                     + " | ".join(f"{checks.get(f'{s}_schema', float('nan')):.1f} s" for s in SOURCES) + " |")
    write_results("check_cost", {"meta": meta, "results": results}, lines)


if __name__ == "__main__":
    main()
