"""From a bundle materialised to production serving it: the ``release`` run step by step.

    .venv/bin/python benchmarks/release_time.py [--bundle-dir DIR] [--warm 3]

Runs the real chain (sensor, buildah, podman golden test, push to a local docker-registry with a
password, kustomize render and validation, local rollout of pre-production then production behind
nginx) in one process and times, per release, every step from the instance's event log plus the sensor
tick and the wait for production to answer with the new version. Releases, in order:

- ``first``: into empty environments (nothing to replace);
- ``warm`` (``--warm`` times): a new bundle while the previous one serves, the base and dependency
  layers cached: what every retrain does;
- ``no-cache``: the same with ``buildah bud --no-cache``, every layer rebuilt (the alternative a
  pipeline without a layer cache pays).

The bundle is ``--bundle-dir`` (default: the newest under ``.state/lake/bundles``, made by ``make demo``),
copied under a new model version for each release; without one, the tests' pipeline bundle.
Writes ``benchmarks/results/release_time.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from benchmarks.report import write_results
from daystosell_assets.defs.release import ImageBuilderResource
from daystosell_assets.release import ContainerTools, ensure_base_image
from daystosell_tests.release.chain import Chain, open_chain

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 90.0
STEPS = ("sensor tick", "service_image", "golden_test", "published_image", "preprod_deployment",
         "preprod_smoke_test", "prod_deployment", "prod_smoke_test", "run overhead", "prod answers")


def newest_bundle() -> Path | None:
    bundles = sorted((ROOT / ".state" / "lake" / "bundles").glob("*/bundle.zip"), key=lambda p: p.stat().st_mtime)
    return bundles[-1].parent if bundles else None


def bundle_copy(source: Path, dest: Path, version: str) -> Path:
    shutil.copytree(source, dest)
    sidecar = dest / "model.json"
    meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    sidecar.write_text(json.dumps({**meta, "model_version": version}))
    return dest


def step_seconds(chain: Chain, run_id: str) -> dict[str, float]:
    """Wall seconds per step, from STEP_START to its end, out of the instance's event log."""
    starts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in chain.instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            seconds[event.step_key] = entry.timestamp - starts[event.step_key]
    # A check's step is "<asset>_<check>": keep the check's name.
    checks = [step for step in STEPS if step.endswith("_test")]
    return {next((c for c in checks if key.endswith(f"_{c}")), key): value for key, value in seconds.items()}


def release_once(chain: Chain, label: str, version: str, source: Path | None, **resources: Any) -> dict[str, Any]:
    folder = chain.tmp / "bundles" / version
    started = time.monotonic()
    if source is not None:
        chain.record(bundle_copy(source, folder, version), version)
    else:
        chain.land(version, intercept=4.0 + len(chain.versions))
    landed = time.monotonic()
    [request] = chain.tick()
    ticked = time.monotonic()
    result = chain.release(request, **resources)
    ran = time.monotonic()
    if not result.success:
        raise SystemExit(f"the {label} release failed: see the log above")
    while chain.serving("prod") != version:
        time.sleep(0.05)
    answered = time.monotonic()
    steps = step_seconds(chain, result.run_id)
    row = {"release": label, "version": version, "total_s": answered - started,
           "record_s": landed - started, "sensor tick": ticked - landed, **steps,
           "run overhead": (ran - ticked) - sum(steps.values()), "prod answers": answered - ran}
    print(f"{label:<9} {row['total_s']:6.1f} s  " + "  ".join(f"{k} {row.get(k, 0):.1f}" for k in STEPS), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle-dir", type=Path, default=None)
    parser.add_argument("--warm", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    source = args.bundle_dir or newest_bundle()
    tools = ContainerTools.from_env()
    base = ensure_base_image(tools)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="daystosell-release-bench-") as tmp, \
            open_chain(Path(tmp), base, tools) as chain:
        stamp = time.strftime("%H%M%S")
        rows.append(release_once(chain, "first", f"bench-{stamp}-0", source))
        for i in range(args.warm):
            rows.append(release_once(chain, "warm", f"bench-{stamp}-{i + 1}", source))
        builder = ImageBuilderResource(base_image=base, repository=chain.resources["image_builder"].repository,
                                       no_cache=True)
        rows.append(release_once(chain, "no-cache", f"bench-{stamp}-nc", source, image_builder=builder))
        size_mb = float(tools.run(tools.podman("image", "inspect", "--format", "{{.Size}}",
                                               f"{builder.repository}:bench-{stamp}-1")).strip()) / 1e6
        ready = httpx.get(f"http://127.0.0.1:{chain.ports['prod']}/health/ready", timeout=5).json()
    report(rows, source, size_mb, ready)


def report(rows: list[dict[str, Any]], source: Path | None, size_mb: float, ready: dict[str, Any]) -> None:
    warm = [r for r in rows if r["release"] == "warm"]
    median = {k: statistics.median(r.get(k, 0.0) for r in warm) for k in ("total_s", *STEPS)}
    lines = [
        "# Release time: bundle materialised to production serving it",
        "",
        f"Bundle: {source or 'the tests pipeline bundle'}; image {size_mb:.0f} MB. Target {TARGET_SECONDS:.0f} s.",
        "Command: `.venv/bin/python benchmarks/release_time.py`",
        "",
        "| step | " + " | ".join(r["release"] for r in rows) + " | warm median |",
        "| --- | " + " | ".join("---" for _ in rows) + " | --- |",
    ]
    for step in STEPS:
        lines.append(f"| {step} | " + " | ".join(f"{r.get(step, 0.0):.1f} s" for r in rows)
                     + f" | {median[step]:.1f} s |")
    lines.append("| **total** | " + " | ".join(f"**{r['total_s']:.1f} s**" for r in rows)
                 + f" | **{median['total_s']:.1f} s** |")
    lines.append("| vs warm median | " + " | ".join(f"{r['total_s'] / median['total_s']:.2f}x" for r in rows)
                 + " | 1.00x |")
    lines += ["", f"Warm median {median['total_s']:.1f} s: "
              + ("within" if median["total_s"] <= TARGET_SECONDS else "OVER") + f" the {TARGET_SECONDS:.0f} s target."]
    write_results("release_time", {"rows": rows, "warm_median": median, "image_mb": size_mb,
                                   "bundle": str(source) if source else None, "prod_ready": ready}, lines)


if __name__ == "__main__":
    main()
