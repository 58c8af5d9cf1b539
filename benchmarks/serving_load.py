"""Serving under load, side by side in one run: the scoring service (uvicorn and granian), MLeap's own runtime
behind an HTTP server, and a Spark local-mode service, each scoring the same model one advert a request.

    .venv/bin/python benchmarks/serving_load.py [--lake .state/lake] [--only uvicorn,mleap] [--duration 60]

Each server runs pinned to CPU 0 and the load generator, vegeta (``github.com/tsenart/vegeta/v12`` v12.13.0 from
the Go module proxy, installed by ``scripts/setup.sh``), pinned to CPU 1. vegeta is open-loop: it sends at the
rate asked whatever the latency. For each server, after a warm-up at the rate:

- a fixed 1,000 requests/s for ``--duration`` seconds (60): p50/p90/p99/max and errors (anything but a 2xx,
  timeouts included); the target is p99 <= 2 ms with 0 errors;
- the highest rate held with p99 <= 10 ms and 0 errors: doubling from 1,000 until a rate fails, then bisecting,
  ``--step`` seconds (12) a rate;
- cold start (process start to the first 200 from its readiness URL), resident memory (the process and its
  children) after the fixed-rate run and after the search, and the serving image's size where there is one.

mleap-spring-boot (MLeap's own Spring Boot server) is not on Maven Central for any version or Scala build (see
``MLEAP_SPRING_BOOT``), so MLeap's runtime 0.20.0 (the jars in ``.state/jvm/lib``) is served by
``servers/MleapHttpServer.java`` behind the JDK's ``com.sun.net.httpserver.HttpServer``, compiled here into
``.state/bench``, taking a LeapFrame body as mleap-spring-boot's LeapFrame endpoint does. Spark scores one advert
in ~0.6 s, so its 1,000 requests/s run is shorter (``--spark-duration``) and reported as it happened.

Writes ``benchmarks/results/serving_load.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.loadgen import (  # noqa: E402
    MAX_IN_FLIGHT,
    VEGETA_VERSION,
    AttackResult,
    ServerCommand,
    Target,
    attack,
    can_pin,
    highest_rate,
    rss_bytes,
    serving,
    vegeta_binary,
)
from benchmarks.report import write_results  # noqa: E402
from daystosell_assets.mleap.reference import jvm_dir, leap_frame  # noqa: E402
from daystosell_assets.resources import DEFAULT_LAKE_ROOT  # noqa: E402
from daystosell_service.golden import GOLDEN_FILE, read_golden  # noqa: E402
from daystosell_service.launcher import free_port  # noqa: E402

BENCH_STATE = ROOT / ".state" / "bench"
TARGET_RATE = 1_000
TARGET_P99_MS = 2.0
SEARCH_P99_MS = 10.0
MIB = 1024 * 1024

# What was asked of Maven Central for MLeap's Spring Boot server, and what it answered (recorded in the results).
MLEAP_SPRING_BOOT = [
    f"https://repo1.maven.org/maven2/ml/combust/mleap/{artifact}/maven-metadata.xml"
    for artifact in ("mleap-spring-boot_2.12", "mleap-spring-boot_2.13")
] + [
    f"https://repo1.maven.org/maven2/ml/combust/mleap/mleap-spring-boot_{scala}/{v}/mleap-spring-boot_{scala}-{v}.pom"
    for scala in ("2.12", "2.13") for v in ("0.20.0", "0.25.3")
]
MLEAP_LABEL = "MLeap runtime 0.20.0 behind JDK HttpServer (stand-in: mleap-spring-boot not served)"


@dataclass(frozen=True)
class Plan:
    """One server and how hard to push it."""

    server: ServerCommand
    warmup_rate: float
    warmup_s: float
    fixed_s: float
    fixed_timeout_s: float
    search_start: float
    search_step_s: float
    search_timeout_s: float = 2.0
    # Search before the 1,000/s run: a server that cannot keep up is left with a backlog of requests whose
    # clients have given up, and would still be working through it when the search starts.
    search_first: bool = False
    image: str | None = None
    footprint: Callable[[], tuple[str, int]] | None = None  # what it needs on disk, where it has no image


def http_status(url: str) -> str:
    done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "20", url],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or f"curl exit {done.returncode}"


def compile_mleap_server() -> Path:
    classes = BENCH_STATE / "classes"
    classes.mkdir(parents=True, exist_ok=True)
    source = ROOT / "benchmarks" / "servers" / "MleapHttpServer.java"
    subprocess.run(["javac", "-d", str(classes), "-cp", f"{jvm_dir() / 'lib'}/*", str(source)], check=True)
    return classes


def du(*paths: Path) -> int:
    return sum(f.stat().st_size for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())


def plans(bundle: Path, model_path: Path, inputs: dict[str, Any], schema: dict[str, str], args: argparse.Namespace,
          only: set[str]) -> list[Plan]:
    golden = bundle.parent / GOLDEN_FILE
    body = json.dumps({"adverts": [{"advert_id": "load-1", **inputs}]}).encode()
    image = f"localhost/daystosell/service:{bundle.parent.name}"
    result: list[Plan] = []

    def ours(name: str, label: str, cmd: list[str], env: dict[str, str] | None = None) -> Plan:
        port = int(cmd[cmd.index("--port") + 1])
        url = f"http://127.0.0.1:{port}"
        server = ServerCommand(name, label, cmd, f"{url}/health/ready", Target(f"{url}/v1/predictions", body),
                               env or {})
        return Plan(server, TARGET_RATE, args.warmup, args.duration, 10.0, TARGET_RATE, args.step, image=image)

    service = [sys.executable, "-m", "daystosell_service", "--bundle", str(bundle), "--golden", str(golden),
               "--log-level", "WARNING"]
    if "uvicorn" in only:
        result.append(ours("uvicorn", "daystosell, uvicorn 1 worker (httptools + uvloop)",
                           [*service, "--http", "httptools", "--loop", "uvloop", "--port", str(free_port())]))
    if "uvicorn-logged" in only:
        # As the image runs it: INFO logs, one JSON access line a request (written to a file here).
        result.append(ours("uvicorn-logged", "daystosell as shipped: uvicorn (httptools + uvloop), access log on",
                           [*service[:-2], "--http", "httptools", "--loop", "uvloop", "--port", str(free_port())]))
    if "uvicorn-h11" in only:
        result.append(ours("uvicorn-h11",
                           "daystosell, uvicorn 1 worker "
                           "(h11 + asyncio: uvicorn without extras)",
                           [*service, "--http", "h11", "--loop", "asyncio", "--port", str(free_port())]))
    if "granian" in only:
        result.append(ours("granian", "daystosell, granian 1 worker, 1 runtime thread (uvloop)",
                           [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--host",
                            "127.0.0.1", "--port", str(free_port()), "--workers", "1", "--runtime-threads", "1",
                            "--runtime-mode", "st", "--loop", "uvloop", "--no-ws", "--log-level", "warning",
                            "--factory", "benchmarks.servers.granian_app:app"],
                           {"DAYSTOSELL_BUNDLE": str(bundle), "DAYSTOSELL_GOLDEN": str(golden),
                            "PYTHONPATH": str(ROOT)}))
    if "mleap" in only:
        classes = compile_mleap_server()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        frame = json.dumps(leap_frame([inputs], schema)).encode()
        server = ServerCommand("mleap", MLEAP_LABEL,
                               # TCP_NODELAY, as Spring Boot's Tomcat sets it: without it every keep-alive
                               # response waits ~40 ms (Nagle's algorithm against the client's delayed ACK).
                               ["java", "-Xss8m", "-Dsun.net.httpserver.nodelay=true",
                                "-cp", f"{classes}:{jvm_dir() / 'lib'}/*", "MleapHttpServer", str(bundle), str(port),
                                "4"],
                               f"{url}/health/ready", Target(f"{url}/models/days_to_sell/transform", frame))
        lib = jvm_dir() / "lib"
        result.append(Plan(server, TARGET_RATE, args.warmup, args.duration, 10.0, TARGET_RATE, args.step,
                           footprint=lambda: ("MLeap 0.20.0 jars + server class (no image; JDK not counted)",
                                              du(lib, classes))))
    if "spark" in only:
        import pyspark

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = ServerCommand("spark", "Spark 4.1 local[1], PipelineModel.transform a request (stdlib HTTP)",
                               [sys.executable, str(ROOT / "benchmarks" / "servers" / "spark_service.py"),
                                "--model", str(model_path), "--port", str(port)],
                               f"{url}/health/ready", Target(f"{url}/v1/predictions", body),
                               {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"})
        spark_home = Path(pyspark.__file__).parent
        result.append(Plan(server, 1, 5, args.spark_duration, 5.0, 2, args.spark_step, search_timeout_s=5.0,
                           search_first=True,
                           footprint=lambda: ("pyspark package (no image; JDK not counted)", du(spark_home))))
    return result


def image_size(image: str | None) -> int | None:
    if image is None:
        return None
    try:
        from daystosell_assets.release.images import image_size as podman_size

        return podman_size(image)
    except Exception as exc:
        print(f"  no image size for {image}: {exc}", flush=True)
        return None


def measure(plan: Plan) -> dict[str, Any]:
    server = plan.server
    print(f"{server.label}: starting", flush=True)
    BENCH_STATE.mkdir(parents=True, exist_ok=True)
    with open(BENCH_STATE / f"{server.name}.log", "wb") as log, serving(server, log=log) as running:
        pid = running.process.pid
        print(f"  ready in {running.cold_start_s:.2f} s; warm-up {plan.warmup_rate:,.0f} req/s for "
              f"{plan.warmup_s:.0f} s", flush=True)
        rss_ready = rss_bytes(pid)
        warmup = attack(server.target, plan.warmup_rate, plan.warmup_s, timeout_s=plan.fixed_timeout_s)
        time.sleep(2)

        def fixed_rate() -> tuple[AttackResult, int]:
            print(f"  {TARGET_RATE:,} req/s for {plan.fixed_s:.0f} s", flush=True)
            fixed = attack(server.target, TARGET_RATE, plan.fixed_s, timeout_s=plan.fixed_timeout_s)
            rss = rss_bytes(pid)
            print(f"  p50 {fixed.p50_ms:.2f} ms, p90 {fixed.p90_ms:.2f} ms, p99 {fixed.p99_ms:.2f} ms, "
                  f"errors {fixed.errors:,} of {fixed.requests:,}; RSS {rss / MIB:.0f} MiB", flush=True)
            time.sleep(2)
            return fixed, rss

        def search_rate() -> dict[str, Any]:
            print(f"  highest rate with p99 <= {SEARCH_P99_MS:g} ms, {plan.search_step_s:.0f} s a step:", flush=True)
            return highest_rate(server.target, p99_ms=SEARCH_P99_MS, start=plan.search_start,
                                step_s=plan.search_step_s, timeout_s=plan.search_timeout_s,
                                ready_url=server.ready_url)

        if plan.search_first:
            search = search_rate()
            fixed, rss_fixed = fixed_rate()
        else:
            fixed, rss_fixed = fixed_rate()
            search = search_rate()
        rss_after = rss_bytes(pid)
    footprint = plan.footprint() if plan.footprint else None
    return {
        "name": server.name, "label": server.label, "cmd": server.cmd, "target_url": server.target.url,
        "cold_start_s": round(running.cold_start_s, 3),
        "rss_ready_mib": round(rss_ready / MIB, 1), "rss_after_fixed_mib": round(rss_fixed / MIB, 1),
        "rss_end_mib": round(rss_after / MIB, 1),
        "warmup": warmup.as_dict(), "fixed": fixed.as_dict(),
        "meets_target": fixed.holds(TARGET_P99_MS), "search": search,
        "image": plan.image, "image_bytes": image_size(plan.image),
        "footprint": {"what": footprint[0], "bytes": footprint[1]} if footprint else None,
    }


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "-"
    return f"{value / base:,.2f}x"


def tables(results: dict[str, Any]) -> list[str]:
    servers = results["servers"]
    base = servers[0]
    lines = [
        f"One advert a request; server pinned to CPU 0, vegeta {results['vegeta']} (open loop) to CPU 1; "
        f"ratios against **{base['label']}**. Machine: {results['machine']['cpus']} CPUs, load average "
        f"{results['machine']['loadavg_before']} before the run and {results['machine']['loadavg_after']} after "
        "(shared with other work).",
        "",
        f"**{TARGET_RATE:,} requests/s** (target: p99 <= {TARGET_P99_MS:g} ms, 0 errors), after warm-up:",
        "",
        "| server | duration | requests | rate sent | errors | p50 | p90 | p99 | max | target met | p99 vs ours |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in servers:
        f = s["fixed"]
        lines.append(
            f"| {s['label']} | {f['duration_s']:.0f} s | {f['requests']:,} | {f['achieved_rate']:,.0f}/s "
            f"| {f['errors']:,} | {f['p50_ms']:,.2f} ms "
            f"| {f['p90_ms']:,.2f} ms | {f['p99_ms']:,.2f} ms | {f['max_ms']:,.1f} ms "
            f"| {'yes' if s['meets_target'] else 'no'} | {ratio(f['p99_ms'], base['fixed']['p99_ms'])} |")
    lines += [
        "",
        f"**Highest rate held** (p99 <= {SEARCH_P99_MS:g} ms, 0 errors, the rate really sent), cold start, memory, "
        "image:",
        "",
        "| server | highest rate | vs ours | first failing rate | cold start | vs ours | RSS ready / after 1,000/s "
        "/ at the end | vs ours (after 1,000/s) | serving image |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in servers:
        search = s["search"]
        top, bad = search["highest_rate"], search["lowest_failing_rate"]
        if s["image_bytes"]:
            image = f"{s['image_bytes'] / 1e6:,.0f} MB (`{s['image']}`)"
        elif s["footprint"]:
            image = f"none built; {s['footprint']['what']}: {s['footprint']['bytes'] / 1e6:,.0f} MB"
        else:
            image = "-"
        lines.append(
            f"| {s['label']} | {f'{top:,.0f} req/s' if top else 'none (fails at the lowest rate tried)'} "
            f"| {ratio(top, base['search']['highest_rate'])} | {f'{bad:,.0f} req/s' if bad else '-'} "
            f"| {s['cold_start_s']:,.2f} s | {ratio(s['cold_start_s'], base['cold_start_s'])} "
            f"| {s['rss_ready_mib']:,.0f} / {s['rss_after_fixed_mib']:,.0f} / {s['rss_end_mib']:,.0f} MiB "
            f"| {ratio(s['rss_after_fixed_mib'], base['rss_after_fixed_mib'])} | {image} |")
    lines += ["", "Rates tried in the search (p99, errors, rate sent):", ""]
    for s in servers:
        steps = ", ".join(f"{st['rate']:,.0f}/s: {st['p99_ms']:,.1f} ms, {st['errors']:,} err"
                          f"{'' if st['held'] else ' ✗'}" for st in s["search"]["steps"])
        lines.append(f"- {s['label']} ({s['search']['step_s']:.0f} s a step): {steps}")
    spring = ", ".join(f"{url.rsplit('/', 2)[-2]}/{url.rsplit('/', 1)[-1]}: HTTP {code}"
                       for url, code in results["mleap_spring_boot_checked"].items())
    lines += [
        "", f"mleap-spring-boot on Maven Central ({results['date']}): {spring}.",
        "",
        "Notes: vegeta keeps at most "
        f"{results.get('max_in_flight', 1000):,} requests in flight, so a server that cannot keep up is sent less than "
        "asked (the rate sent), and a rate counts as held only if it was really sent. Errors are vegeta's: any "
        "status but 2xx, and timeouts (10 s at 1,000/s, 5 s for Spark, 2 s in the search). Our service's cold start "
        "includes scoring the bundle's golden rows (row and columnar paths) before it reports ready; the others check "
        "nothing. RSS is the server process and its children (Spark's JVM and Python workers, granian's worker).",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT)))
    parser.add_argument("--only", default="uvicorn,uvicorn-logged,uvicorn-h11,granian,mleap,spark",
                        help="servers to run, comma-separated, in this order; the first is the base of the ratios")
    parser.add_argument("--duration", type=float, default=60, help="seconds at 1,000 requests/s")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of warm-up at 1,000 requests/s")
    parser.add_argument("--step", type=float, default=12, help="seconds a rate in the search")
    parser.add_argument("--spark-duration", type=float, default=10, help="Spark's seconds at 1,000 requests/s")
    parser.add_argument("--spark-step", type=float, default=10, help="Spark's seconds a rate in the search")
    parser.add_argument("--output", default="serving_load", help="results file name, without extension")
    args = parser.parse_args()

    bundles = sorted((args.lake / "bundles").glob("*/bundle.zip"))
    if not bundles:
        raise SystemExit(f"no bundle under {args.lake / 'bundles'}: run `make demo` first")
    bundle = bundles[-1]
    from daystosell_service.mleap import load_bundle

    schema = load_bundle(bundle).input_schema
    inputs = dict(read_golden(bundle.parent / GOLDEN_FILE)[0].inputs)
    order = [name.strip() for name in args.only.split(",") if name.strip()]
    todo = plans(bundle, args.lake / "models" / "fitted_model", inputs, schema, args, set(order))
    todo.sort(key=lambda p: order.index(p.server.name))
    vegeta = vegeta_binary()
    print(f"bundle {bundle}; vegeta {vegeta}; pinned: {can_pin()}", flush=True)
    results: dict[str, Any] = {
        "bundle": str(bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle),
        "date": time.strftime("%Y-%m-%d"),
        "vegeta": f"github.com/tsenart/vegeta/v12@{VEGETA_VERSION}",
        "pinned": {"server_cpu": 0, "load_cpu": 1} if can_pin() else None,
        "max_in_flight": MAX_IN_FLIGHT,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg())},
        "mleap_spring_boot_checked": {url: http_status(url) for url in MLEAP_SPRING_BOOT},
        "servers": [],
    }
    for plan in todo:
        results["servers"].append(measure(plan))
    results["machine"]["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = tables(results)
    write_results(args.output, results, lines)


if __name__ == "__main__":
    main()
