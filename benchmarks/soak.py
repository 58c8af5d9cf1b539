"""Soak: the scoring service at a fixed rate for a while, its resident memory sampled every second.

    .venv/bin/python benchmarks/soak.py [--rate 1000] [--duration 60] [--lake .state/lake]

Serves the newest bundle in the lake (``make demo`` makes it) with ``python -m daystosell_service`` (uvicorn, one
worker) pinned to CPU 0, warms it up at the rate, then sends one advert a request with vegeta (pinned to CPU 1)
at ``--rate`` for ``--duration`` seconds. It passes when every request was answered 200 and memory did not grow:
the median RSS of the last third of the samples exceeds that of the first third by less than ``--growth-mib``.
Writes ``benchmarks/results/soak.{json,md}``. ``daystosell_tests/service/test_soak.py`` runs the same code in CI,
shorter and at a lower rate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import (  # noqa: E402
    AttackResult,
    ServerCommand,
    Target,
    attack,
    can_pin,
    finish_attack,
    rss_bytes,
    serving,
    start_attack,
)
from benchmarks.report import write_results  # noqa: E402

MIB = 1024 * 1024


@dataclass(frozen=True)
class SoakResult:
    rate: float
    duration_s: float
    warmup_s: float
    growth_bound_mib: float
    load: AttackResult
    rss_samples_mib: list[float]  # one a second while the load ran, after warm-up
    growth_mib: float  # median of the last third minus median of the first third
    passed: bool

    def failures(self) -> list[str]:
        problems = []
        if self.load.errors:
            problems.append(f"{self.load.errors} of {self.load.requests} requests failed: "
                            f"{self.load.status_codes} {self.load.error_samples}")
        if self.growth_mib >= self.growth_bound_mib:
            problems.append(f"RSS grew {self.growth_mib:.1f} MiB (bound {self.growth_bound_mib} MiB): "
                            f"{self.rss_samples_mib}")
        if len(self.rss_samples_mib) < 3:
            problems.append("fewer than 3 memory samples")
        return problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "load": self.load.as_dict(), "failures": self.failures()}


def growth(samples: list[float]) -> float:
    third = max(1, len(samples) // 3)
    return statistics.median(samples[-third:]) - statistics.median(samples[:third])


def soak(pid: int, target: Target, *, rate: float, duration_s: float, warmup_s: float, growth_bound_mib: float,
         interval_s: float = 1.0, timeout_s: float = 10.0) -> SoakResult:
    """Warm-up at ``rate`` for ``warmup_s``, then ``rate`` for ``duration_s`` while the RSS of ``pid`` (and its
    children) is sampled every ``interval_s``."""
    if warmup_s > 0:
        attack(target, rate, warmup_s, timeout_s=timeout_s)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval_s):
            samples.append(rss_bytes(pid) / MIB)

    process, output = start_attack(target, rate, duration_s, timeout_s=timeout_s)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        load = finish_attack(process, output, rate, duration_s, timeout_s=timeout_s)
    finally:
        done.set()
        sampler.join()
    # Samples taken after the load stopped (vegeta waits for late answers) are not under load: drop them.
    samples = samples[: max(1, int(duration_s / interval_s))]
    grew = growth(samples) if samples else float("inf")
    result = SoakResult(rate=rate, duration_s=duration_s, warmup_s=warmup_s, growth_bound_mib=growth_bound_mib,
                        load=load, rss_samples_mib=[round(s, 2) for s in samples], growth_mib=round(grew, 2),
                        passed=False)
    return SoakResult(**{**asdict(result), "load": load, "passed": not result.failures()})


def advert_body(inputs: dict[str, Any]) -> bytes:
    return json.dumps({"adverts": [{"advert_id": "soak-1", **inputs}]}).encode()


def service_command(bundle: Path, port: int, *args: str) -> ServerCommand:
    url = f"http://127.0.0.1:{port}"
    return ServerCommand(
        name="uvicorn", label="daystosell service (uvicorn, 1 worker)",
        cmd=[sys.executable, "-m", "daystosell_service", "--bundle", str(bundle), "--port", str(port),
             "--log-level", "WARNING", *args],
        ready_url=f"{url}/health/ready", target=Target(f"{url}/v1/predictions", b""))


def markdown(result: SoakResult, bundle: str) -> list[str]:
    load = result.load
    rss = result.rss_samples_mib
    return [
        f"Soak of `python -m daystosell_service` (uvicorn, one worker) on `{bundle}`: {result.rate:,.0f} req/s for "
        f"{result.duration_s:.0f} s after {result.warmup_s:.0f} s of warm-up, one advert a request, vegeta "
        f"{'pinned to CPU 1, the service to CPU 0' if can_pin() else '(not pinned: fewer than 2 CPUs)'}.",
        "",
        "| requests | 200s | errors | p50 | p90 | p99 | max | RSS first / last sample | growth (bound) | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {load.requests:,} | {load.ok:,} | {load.errors:,} | {load.p50_ms:.2f} ms | {load.p90_ms:.2f} ms "
        f"| {load.p99_ms:.2f} ms | {load.max_ms:.1f} ms | {rss[0]:.1f} / {rss[-1]:.1f} MiB "
        f"| {result.growth_mib:+.2f} MiB (< {result.growth_bound_mib:g} MiB) | {'pass' if result.passed else 'FAIL'} |",
        "",
        f"RSS samples (MiB, one a second): min {min(rss):.1f}, max {max(rss):.1f}; growth is the median of the last "
        "third of the samples minus the median of the first third.",
    ]


def main() -> None:
    from daystosell_assets.resources import DEFAULT_LAKE_ROOT
    from daystosell_service.golden import GOLDEN_FILE, read_golden
    from daystosell_service.launcher import free_port

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT)))
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--growth-mib", type=float, default=8.0)
    args = parser.parse_args()

    bundles = sorted((args.lake / "bundles").glob("*/bundle.zip"))
    if not bundles:
        raise SystemExit(f"no bundle under {args.lake / 'bundles'}: run `make demo` first")
    bundle = bundles[-1]
    inputs = read_golden(bundle.parent / GOLDEN_FILE)[0].inputs
    server = service_command(bundle, free_port())
    target = Target(server.target.url, advert_body(dict(inputs)))
    with serving(server) as running:
        started = time.monotonic()
        result = soak(running.process.pid, target, rate=args.rate, duration_s=args.duration,
                      warmup_s=args.warmup, growth_bound_mib=args.growth_mib)
        print(f"soak done in {time.monotonic() - started:.0f} s", flush=True)
    name = str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle)
    lines = markdown(result, name)
    write_results("soak", {"bundle": name, **result.as_dict()}, lines)
    if not result.passed:
        raise SystemExit("soak failed: " + "; ".join(result.failures()))


if __name__ == "__main__":
    main()
