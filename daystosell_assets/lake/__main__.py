"""``python -m daystosell_assets.lake [--adverts N] [--seed S] [--root PATH]``: seeds the raw zone.

The root is a folder or an ``s3://bucket/prefix`` location; Spark runs in local mode on every core
unless ``DAYSTOSELL_SPARK_MASTER`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import time

from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake
from daystosell_assets.resources import DEFAULT_LAKE_ROOT, spark_config, spark_session


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulate a used-car market into the lake's raw zone.")
    parser.add_argument("--adverts", type=int, default=MarketSpec.adverts)
    parser.add_argument("--seed", type=int, default=MarketSpec.seed)
    parser.add_argument("--root", default=os.environ.get("DAYSTOSELL_LAKE_ROOT", str(DEFAULT_LAKE_ROOT)))
    args = parser.parse_args()

    spark = spark_session(spark_config(master=os.environ.get("DAYSTOSELL_SPARK_MASTER", "local[*]")))
    spark.sparkContext.setLogLevel("ERROR")
    layout = LakeLayout(args.root)
    started = time.perf_counter()
    counts = write_raw_lake(spark, layout, MarketSpec(adverts=args.adverts, seed=args.seed))
    took = time.perf_counter() - started
    print(f"seeded {layout.spark_uri('raw')} in {took:.1f} s ({counts['adverts'] / took:,.0f} advert rows/s): "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    spark.stop()


if __name__ == "__main__":
    main()
