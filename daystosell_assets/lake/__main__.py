"""``python -m daystosell_assets.lake [--adverts N] [--seed S] [--root PATH]``: seeds the raw zone."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake
from daystosell_assets.resources import DEFAULT_LAKE_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulate a used-car market into the lake's raw zone.")
    parser.add_argument("--adverts", type=int, default=MarketSpec.adverts)
    parser.add_argument("--seed", type=int, default=MarketSpec.seed)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT)))
    args = parser.parse_args()
    started = time.perf_counter()
    counts = write_raw_lake(LakeLayout(args.root), MarketSpec(adverts=args.adverts, seed=args.seed))
    took = time.perf_counter() - started
    print(f"seeded {args.root / 'raw'} in {took:.1f}s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
