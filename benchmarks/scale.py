"""What a retrain costs as the lake grows: the `retrain` job (every asset and every check) at several lake
sizes, each size in its own process (a fresh JVM, so memory figures belong to that size), with wall time,
CPU, resident memory, heap and spill per step; then, at one size and in the same run, the same heavy steps
under alternative Spark settings (shuffle partitions, driver memory), as ratios to the project's settings.

    .venv/bin/python benchmarks/scale.py [--adverts 100000 1000000 3000000] [--max-minutes 25]
                                         [--settings-at 1000000] [--settings-assets training_set fitted_model]

Per size: the raw zone is seeded into a temporary lake by the seeding CLI (its own process, timed apart),
then a worker process starts the Spark session with the project's resources (``lake_resources``), and runs
the `retrain` job in-process against a temporary Dagster instance, while a sampler thread reads every
~100 ms the RSS of this Python process and of the Spark JVM and the PSS of Spark's Python workers
(descendants of the JVM), and ``jstat -gc`` reports the JVM's heap and GC time. Each sample is charged to
the step that was running then (STEP_START to STEP_SUCCESS/FAILURE in the run's event log); spill comes
from Spark's event log (task metrics, charged by task end time).

A size is not started when the last two, extrapolated, say it would take more than ``--max-minutes`` or end
after ``--deadline``; a size (or setting) still running at either is stopped; larger sizes are then skipped,
with the reason recorded. Writes ``benchmarks/results/scale.json`` and ``.md`` (after every size and
setting, so a stopped run leaves what it measured); ``--render`` rewrites the Markdown from the JSON.
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import RESULTS, write_results  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
SAMPLE_S = 0.1
# jstat prints one line per interval; a quarter of a second resolves GC bursts without a busy JVM of its own.
JSTAT_MS = 250
# The process tree (which Python workers Spark has forked) changes slowly; reading all of /proc every
# 100 ms would cost a good part of a core on this 2-core machine.
RESCAN_S = 1.0
OUTSIDE = "(outside steps)"
# The project's settings, from daystosell_assets/resources.py: the baseline of the settings comparison.
PROJECT = {"partitions": "8", "memory": "4g"}


# ---------------------------------------------------------------------------------------------------------
# Worker: one process, one JVM, one run of the job.


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid: int) -> int:
    """Proportional set size: Spark's Python workers are forks of one daemon and share most of their pages,
    so the sum of their RSS would count those pages once per worker."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces: fields are counted after its closing bracket.
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def parents() -> dict[int, int]:
    tree: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    tree[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return tree


def descendants(pid: int, tree: dict[int, int]) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in tree.items() if parent in frontier]
        found += children
        frontier = children
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def spark_jvm() -> int:
    """The Spark driver JVM that PySpark started: a descendant of this process running SparkSubmit (jstat
    is a Java process too, but not Spark's)."""
    for pid in descendants(os.getpid(), parents()):
        line = cmdline(pid)
        if "java" in line and "SparkSubmit" in line:
            return pid
    raise RuntimeError("no Spark JVM among this process's children: was the session started?")


@dataclass
class Sampler:
    """RSS and CPU of this process, of the JVM and of the JVM's Python workers, and the JVM's heap from
    jstat, in threads beside the run."""

    jvm: int
    samples: list[tuple[float, int, int, int, float, float]] = field(default_factory=list)
    heap: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    heap_source: str = "jstat -gc"
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _jstat: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._sample, daemon=True)]
        try:
            self._jstat = subprocess.Popen(["jstat", "-gc", str(self.jvm), str(JSTAT_MS)],
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._threads.append(threading.Thread(target=self._read_jstat, daemon=True))
        except OSError as e:
            self.heap_source = f"none: jstat not available ({e}); RSS only"
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._jstat is not None:
            self._jstat.terminate()
            self._jstat.wait()
        for thread in self._threads:
            thread.join()

    def _sample(self) -> None:
        me, workers, rescanned = os.getpid(), [], 0.0
        while not self._stop.is_set():
            now = time.time()
            if now - rescanned >= RESCAN_S:
                workers, rescanned = descendants(self.jvm, parents()), now
            self.samples.append((now, rss(me), rss(self.jvm), sum(pss(w) for w in workers),
                                 cpu_seconds(self.jvm), cpu_seconds(me)))
            self._stop.wait(SAMPLE_S)

    def _read_jstat(self) -> None:
        assert self._jstat is not None and self._jstat.stdout is not None
        header: list[str] = []
        for line in self._jstat.stdout:
            values = line.split()
            if not values:
                continue
            if not values[0][0].isdigit():
                header = values
                continue
            row = dict(zip(header, (float(v) if v != "-" else 0.0 for v in values), strict=False))
            used = sum(row.get(k, 0.0) for k in ("S0U", "S1U", "EU", "OU")) * 1024
            committed = sum(row.get(k, 0.0) for k in ("S0C", "S1C", "EC", "OC")) * 1024
            self.heap.append((time.time(), used, committed, row.get("OU", 0.0) * 1024, row.get("GCT", 0.0)))


def step_intervals(logs: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Step key -> start, end and outcome, from the run's event log."""
    steps: dict[str, dict[str, Any]] = {}
    for entry in logs:
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        kind = event.event_type_value
        step = steps.setdefault(entry.step_key, {"status": "not started"})
        if kind == "STEP_START":
            step.update(start=entry.timestamp, status="running")
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            step.update(end=entry.timestamp, status="success" if kind == "STEP_SUCCESS" else "failure")
        elif kind == "STEP_SKIPPED":
            step["status"] = "skipped"
        elif kind == "ASSET_CHECK_EVALUATION":
            step["kind"] = "check"
            step["name"] = event.event_specific_data.asset_check_key.name
            step["check_passed"] = event.event_specific_data.passed
        elif kind == "ASSET_MATERIALIZATION":
            step["kind"] = "asset"
            metadata = event.event_specific_data.materialization.metadata
            if "rows" in metadata:
                step["rows"] = int(metadata["rows"].value)
    return steps


def spark_task_metrics(event_dir: Path) -> list[tuple[float, float, float, float]]:
    """(end time, memory spilled, disk spilled, GC seconds) of every task in Spark's event log."""
    tasks = []
    for path in event_dir.rglob("*"):
        if not path.is_file() or path.name.startswith((".", "appstatus")):
            continue
        with path.open() as f:
            for line in f:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                event = json.loads(line)
                metrics = event.get("Task Metrics") or {}
                tasks.append((event["Task Info"]["Finish Time"] / 1000, float(metrics.get("Memory Bytes Spilled", 0)),
                              float(metrics.get("Disk Bytes Spilled", 0)), metrics.get("JVM GC Time", 0) / 1000))
    return tasks


def at(series: Sequence[tuple[float, ...]], t: float, column: int) -> float:
    """The value of ``column`` in the last sample at or before ``t`` (the first sample when none is)."""
    value = series[0][column] if series else 0.0
    for row in series:
        if row[0] > t:
            break
        value = row[column]
    return value


def charge(steps: dict[str, dict[str, Any]], sampler: Sampler, tasks: list[tuple[float, float, float, float]],
           run_start: float, run_end: float) -> dict[str, dict[str, Any]]:
    """Per step, and for the time between steps: wall, CPU, peak memory, GC and spill."""
    windows = {key: (s["start"], s["end"]) for key, s in steps.items() if "start" in s and "end" in s}

    def owner(t: float) -> str | None:
        for key, (start, end) in windows.items():
            if start <= t <= end:
                return key
        return OUTSIDE if run_start <= t <= run_end else None

    figures: dict[str, dict[str, Any]] = {key: {"peak_python_rss_mb": 0.0, "peak_jvm_rss_mb": 0.0,
                                                "peak_workers_pss_mb": 0.0, "peak_total_rss_mb": 0.0,
                                                "peak_heap_used_mb": None, "peak_old_gen_mb": None,
                                                "memory_spilled_mb": 0.0, "disk_spilled_mb": 0.0,
                                                "task_gc_s": 0.0}
                                          for key in [*windows, OUTSIDE]}
    for t, python, jvm, workers, _, _ in sampler.samples:
        if (key := owner(t)) is not None:
            f = figures[key]
            f["peak_python_rss_mb"] = max(f["peak_python_rss_mb"], python / MB)
            f["peak_jvm_rss_mb"] = max(f["peak_jvm_rss_mb"], jvm / MB)
            f["peak_workers_pss_mb"] = max(f["peak_workers_pss_mb"], workers / MB)
            f["peak_total_rss_mb"] = max(f["peak_total_rss_mb"], (python + jvm + workers) / MB)
    for t, used, _, old, _ in sampler.heap:
        if (key := owner(t)) is not None:
            f = figures[key]
            f["peak_heap_used_mb"] = max(f["peak_heap_used_mb"] or 0.0, used / MB)
            f["peak_old_gen_mb"] = max(f["peak_old_gen_mb"] or 0.0, old / MB)
    for t, memory, disk, gc in tasks:
        if (key := owner(t)) is not None:
            f = figures[key]
            f["memory_spilled_mb"] += memory / MB
            f["disk_spilled_mb"] += disk / MB
            f["task_gc_s"] += gc
    for key, (start, end) in windows.items():
        f = figures[key]
        f.update(wall_s=end - start, order=start - run_start, status=steps[key]["status"],
                 kind=steps[key].get("kind", "asset"),
                 jvm_cpu_s=at(sampler.samples, end, 4) - at(sampler.samples, start, 4),
                 python_cpu_s=at(sampler.samples, end, 5) - at(sampler.samples, start, 5),
                 jvm_gc_s=(at(sampler.heap, end, 4) - at(sampler.heap, start, 4)) if sampler.heap else None)
        if "rows" in steps[key]:
            f["rows"] = steps[key]["rows"]
        for copied in ("check_passed", "name"):
            if copied in steps[key]:
                f[copied] = steps[key][copied]
    in_steps = sum(end - start for start, end in windows.values())
    figures[OUTSIDE].update(wall_s=run_end - run_start - in_steps, status="", kind="run")
    for key, s in steps.items():
        if key not in windows:
            figures[key] = {"status": s["status"], "kind": s.get("kind", "?")}
    return figures


def timeline(sampler: Sampler, start: float) -> list[list[float]]:
    """Per second since ``start``: the highest Python, JVM and worker RSS and heap used, in MB."""
    seconds: dict[int, list[float]] = {}
    for t, python, jvm, workers, _, _ in sampler.samples:
        row = seconds.setdefault(int(t - start), [0.0, 0.0, 0.0, 0.0])
        row[0], row[1], row[2] = max(row[0], python / MB), max(row[1], jvm / MB), max(row[2], workers / MB)
    for t, used, *_ in sampler.heap:
        if (second := seconds.get(int(t - start))) is not None:
            second[3] = max(second[3], used / MB)
    return [[second, *(round(v, 1) for v in row)] for second, row in sorted(seconds.items())]


def worker(out: Path, work: Path, assets: list[str] | None) -> None:
    """In this process: the Spark session, then the `retrain` job (or the steps of ``assets``)."""
    # The job's resources are read from the environment when the definitions are imported: the parent set
    # DAYSTOSELL_LAKE_ROOT and the Spark settings for this run.
    from dagster import AssetKey, DagsterInstance

    from daystosell_assets.resources import lake_resources, spark_session

    event_dir = work / f"spark-events-{os.getpid()}"
    event_dir.mkdir()
    config = dict(lake_resources()["pyspark"].spark_config)
    started = time.time()
    # The same settings PySparkResource will ask for (it then gets this session), plus Spark's event log,
    # which is where the task metrics (spill, GC) can be read after the fact.
    # Uncompressed and in one file (Spark 4 compresses with zstd and rolls by default) for the standard library
    # to read.
    spark = spark_session({**config, "spark.eventLog.enabled": "true", "spark.eventLog.dir": event_dir.as_uri(),
                           "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"})
    session_s = time.time() - started
    spark.sparkContext.setLogLevel("WARN")
    jvm = spark_jvm()
    sampler = Sampler(jvm)
    sampler.start()

    from daystosell_assets.definitions import defs

    job = defs.resolve_job_def("retrain")
    selection = [AssetKey(a) for a in assets] if assets else None
    # One instance per size, kept across the settings runs: the gate then finds the bundle of the full run as
    # the deployed model and compares against it, as every retrain after the first one does.
    (work / "dagster").mkdir(exist_ok=True)
    try:
        with DagsterInstance.local_temp(tempdir=str(work / "dagster")) as instance:
            run_start = time.time()
            result = job.execute_in_process(instance=instance, raise_on_error=False, asset_selection=selection)
            run_end = time.time()
            logs = instance.all_logs(result.run_id)
        time.sleep(3 * SAMPLE_S)
    finally:
        sampler.stop()
    spark.stop()  # closes the event log
    steps = step_intervals(logs)
    figures = charge(steps, sampler, spark_task_metrics(event_dir), run_start, run_end)
    peak = {name: max((s[i] for s in sampler.samples), default=0) / MB
            for name, i in (("python", 1), ("jvm", 2), ("workers", 3))}
    peak["total"] = max((s[1] + s[2] + s[3] for s in sampler.samples), default=0) / MB
    peak["heap_used"] = max((h[1] for h in sampler.heap), default=0) / MB
    peak["heap_committed"] = max((h[2] for h in sampler.heap), default=0) / MB
    out.write_text(json.dumps({
        "success": result.success, "run_id": result.run_id, "session_start_s": session_s,
        "run_wall_s": run_end - run_start, "spark_config": {k: str(v) for k, v in config.items()},
        "jvm_cmdline_xmx": (re.findall(r"-Xmx\S+", cmdline(jvm)) or ["?"])[-1], "heap_source": sampler.heap_source,
        "samples": len(sampler.samples), "heap_samples": len(sampler.heap),
        "jvm_cpu_s": at(sampler.samples, run_end, 4) - at(sampler.samples, run_start, 4),
        "peak_mb": peak, "steps": figures, "timeline": timeline(sampler, run_start),
    }))


# ---------------------------------------------------------------------------------------------------------
# Parent: seeding, one worker per size and per setting, and the report.


def run_child(command: list[str], env: dict[str, str], log: Path, timeout_s: float) -> tuple[int | None, float]:
    """Runs ``command`` in its own process group, output to ``log``; on timeout the whole group goes (the
    JVM and its Python workers with it). Returns the exit code (None on timeout) and the wall time."""
    started = time.perf_counter()
    code: int | None = None
    pending = ""
    with log.open("w") as out, log.open() as progress:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        while code is None:
            try:
                code = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                if time.perf_counter() - started > timeout_s:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    break
            # A large size runs for many minutes: each step as it ends says how far it got.
            pending += progress.read()
            *lines, pending = pending.split("\n")
            for line in lines:
                if " - STEP_SUCCESS - " in line or " - STEP_FAILURE - " in line:
                    print(f"    {line[11:19]} {line.split(' - ')[-1].strip()}", flush=True)
    return code, time.perf_counter() - started


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def child_env(lake: Path, partitions: str, memory: str) -> dict[str, str]:
    return {**os.environ, "DAYSTOSELL_LAKE_ROOT": str(lake), "DAYSTOSELL_SPARK_SHUFFLE_PARTITIONS": partitions,
            "DAYSTOSELL_SPARK_DRIVER_MEMORY": memory, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}


def seed(lake: Path, adverts: int, work: Path, timeout_s: float) -> dict[str, Any]:
    log = work / "seed.log"
    code, wall = run_child([sys.executable, "-m", "daystosell_assets.lake", "--adverts", str(adverts),
                            "--root", str(lake)], child_env(lake, PROJECT["partitions"], PROJECT["memory"]),
                           log, timeout_s)
    if code != 0:
        raise RuntimeError(f"seeding {adverts:,} adverts failed ({code}):\n{tail(log)}")
    text = log.read_text()
    match = re.search(r"in ([\d.]+) s", text)
    # The CLI's last line: "seeded <root> in <s> s (...): adverts 20,040, taxonomy 715, ..."
    counts = {k: int(v.replace(",", ""))
              for k, v in re.findall(r"(\w+) ([\d,]+)(?:,|$)", text.splitlines()[-1].rsplit(": ", 1)[-1])}
    return {"wall_s": wall, "write_s": float(match.group(1)) if match else None, "rows": counts}


def measure(lake: Path, work: Path, partitions: str, memory: str, assets: list[str] | None, timeout_s: float,
            label: str) -> dict[str, Any]:
    out, log = work / f"{label}.json", work / f"{label}.log"
    command = [sys.executable, __file__, "--worker", str(out), "--work", str(work)]
    if assets:
        command += ["--assets", *assets]
    load = os.getloadavg()[0]
    code, wall = run_child(command, child_env(lake, partitions, memory), log, timeout_s)
    base = {"shuffle_partitions": partitions, "driver_memory": memory, "process_wall_s": wall,
            "load_average_before": load, "load_average_after": os.getloadavg()[0]}
    if code is None:
        return {**base, "outcome": f"stopped after {timeout_s / 60:.0f} min"}
    if code != 0 or not out.exists():
        return {**base, "outcome": f"worker failed (exit {code})", "log_tail": tail(log)}
    figures: dict[str, Any] = json.loads(out.read_text())
    failed = [name(k, s) for k, s in figures["steps"].items() if s.get("status") not in ("success", "")]
    # A check that fails says why in an ERROR line of the Dagster log (the step failure that follows does not).
    errors = [line.split(" - ")[-1] for line in log.read_text(errors="replace").splitlines()
              if " - dagster - ERROR - " in line and "STEP_FAILURE" not in line and "RUN_FAILURE" not in line]
    outcome = "success" if figures["success"] else (
        f"run failed: {', '.join(failed)}" + (f" ({errors[0]})" if errors else ""))
    if not figures["success"]:
        figures["log_tail"] = tail(log, 60)
    return {**base, **figures, "outcome": outcome}


def predicted_minutes(done: list[dict[str, Any]], adverts: int) -> float | None:
    """The next size's minutes from the last two sizes done: a straight line, a fixed cost plus a cost per
    advert. Not from one size alone: the fixed costs (JVM, model selection on a capped sample) dominate the
    small end, and scaling them up in proportion would skip sizes that fit."""
    timed = [(r["adverts"], r["total_s"]) for r in done if r.get("outcome") == "success"]
    if len(timed) < 2:
        return None
    (n0, t0), (n1, t1) = timed[-2:]
    return float((t1 + max(0.0, (t1 - t0) / (n1 - n0)) * (adverts - n1)) / 60)


def settings_variants(cores: int) -> list[tuple[str, str, str]]:
    """(label, shuffle partitions, driver memory): the project's, then one change at a time."""
    return [("project (8 partitions, 4g)", PROJECT["partitions"], PROJECT["memory"]),
            ("Spark default 200 partitions", "200", PROJECT["memory"]),
            (f"2 x cores = {2 * cores} partitions", str(2 * cores), PROJECT["memory"]),
            ("driver memory 2g", PROJECT["partitions"], "2g"),
            ("driver memory 8g", PROJECT["partitions"], "8g")]


def compare_settings(lake: Path, work: Path, results: dict[str, Any], limit_s: float, deadline: float,
                     repeats: int) -> None:
    """Each variant on the lake of the size just run, ``repeats`` rounds of all variants in turn (so a change
    in the machine's load falls on every variant alike), written out as it goes; a variant that would not end
    before ``deadline`` (judged by the ones done, or by the full run's same steps) is skipped."""
    assets: list[str] = results["settings_assets"]
    full = results["sizes"][-1]
    chosen = [s["wall_s"] for k, s in full["steps"].items()
              if "wall_s" in s and k != OUTSIDE and any(k == a or k.startswith(f"{a}_") for a in assets)]
    guess = sum(chosen) + full.get("session_start_s", 0.0) + 30
    rows: list[dict[str, Any]] = []
    results["settings"] = rows
    for round_ in range(1, repeats + 1):
        for i, (label, partitions, memory) in enumerate(settings_variants(os.cpu_count() or 1)):
            done = [r["process_wall_s"] for r in rows if "process_wall_s" in r]
            expected = max(done) if done else guess
            if time.time() + expected > deadline:
                rows.append({"label": label, "round": round_, "shuffle_partitions": partitions,
                             "driver_memory": memory,
                             "outcome": f"skipped: about {expected / 60:.0f} min expected, "
                                        f"{(deadline - time.time()) / 60:.0f} min left before --deadline"})
                print(f"  settings, round {round_}: {label}: {rows[-1]['outcome']}", flush=True)
                continue
            print(f"  settings, round {round_}: {label}: {' + '.join(assets)} ...", flush=True)
            row = {"label": label, "round": round_,
                   **measure(lake, work, partitions, memory, assets, min(limit_s, deadline - time.time()),
                             f"settings-{round_}-{i}")}
            print(f"    {row['outcome']}, run {row.get('run_wall_s', float('nan')):.0f} s", flush=True)
            rows.append(row)
            write(results)


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        memory_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    import pyspark

    return {"cores": os.cpu_count(), "memory_gib": round(memory_kb / 1024 / 1024, 1),
            "java": java[0] if java else "?", "java_vm": java[-1] if java else "?", "spark": pyspark.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adverts", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--max-minutes", type=float, default=25.0,
                        help="per size: a size predicted or found to take longer ends the series")
    parser.add_argument("--settings-at", type=int, default=1_000_000,
                        help="the size at which the settings are compared (0: not compared)")
    parser.add_argument("--settings-assets", nargs="+", default=["training_set", "fitted_model"],
                        help="the assets (with their checks) run under each setting, on the lake of that size")
    parser.add_argument("--settings-repeats", type=int, default=1,
                        help="rounds of the settings comparison (every variant once per round)")
    parser.add_argument("--deadline", help="HH:MM UTC: nothing predicted to end later is started, and whatever "
                        "still runs then is stopped")
    parser.add_argument("--reuse", type=Path, help="a scale.json of an earlier run: its successful sizes are "
                        "taken as they are rather than run again (marked with that run's start)")
    parser.add_argument("--render", action="store_true", help="only rewrite the Markdown from the last JSON")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--assets", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.work, args.assets)
        return

    if args.render:
        write(json.loads((RESULTS / "scale.json").read_text()))
        return

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    deadline = utc_today(args.deadline) if args.deadline else math.inf
    results: dict[str, Any] = {"machine": machine(), "max_minutes": args.max_minutes, "deadline": args.deadline,
                               "sizes": [], "settings": None, "settings_assets": args.settings_assets,
                               "settings_at": args.settings_at,
                               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    limit_s = args.max_minutes * 60
    stop_reason: str | None = None
    earlier: dict[int, dict[str, Any]] = {}
    if args.reuse:
        previous = json.loads(args.reuse.read_text())
        earlier = {r.get("adverts"): {**r, "reused_from_run_started": r.get("reused_from_run_started",
                                                                              previous["started"])}
                   for r in previous["sizes"] if r.get("outcome") == "success"}
        if previous.get("settings") and args.settings_at not in args.adverts:
            # The comparison is kept whole: all its variants come from that one earlier run.
            results.update(settings=previous["settings"], settings_at=previous["settings_at"],
                           settings_assets=previous["settings_assets"],
                           settings_from_run_started=previous["started"])
    for adverts in sorted(args.adverts):
        if adverts in earlier and adverts != args.settings_at:
            print(f"{adverts:,} adverts: taken from the run started {earlier[adverts]['reused_from_run_started']}")
            results["sizes"].append(earlier[adverts])
            continue
        guess = predicted_minutes(results["sizes"], adverts)
        if stop_reason is None and guess is not None and guess > args.max_minutes:
            stop_reason = f"predicted {guess:.0f} min from the smaller sizes, over --max-minutes {args.max_minutes:g}"
        if stop_reason is None and guess is not None and time.time() + guess * 60 > deadline:
            stop_reason = (f"predicted {guess:.0f} min from the smaller sizes, "
                           f"{(deadline - time.time()) / 60:.0f} min left before --deadline {args.deadline}")
        if stop_reason is not None:
            print(f"{adverts:,} adverts: skipped ({stop_reason})", flush=True)
            results["sizes"].append({"adverts": adverts, "outcome": f"skipped: {stop_reason}"})
            continue
        with tempfile.TemporaryDirectory(prefix="daystosell-scale-") as tmp:
            work, lake = Path(tmp), Path(tmp) / "lake"
            print(f"{adverts:,} adverts: seeding {lake} ...", flush=True)
            seeded = seed(lake, adverts, work, min(limit_s, deadline - time.time()))
            print(f"  seeded in {seeded['wall_s']:.0f} s; running retrain ...", flush=True)
            row = {"adverts": adverts, "seed": seeded,
                   **measure(lake, work, PROJECT["partitions"], PROJECT["memory"], None,
                             min(limit_s - seeded["wall_s"], deadline - time.time()), "retrain")}
            row["total_s"] = seeded["wall_s"] + row["process_wall_s"]
            print(f"  {row['outcome']}: run {row.get('run_wall_s', float('nan')):.0f} s, "
                  f"{row['total_s'] / 60:.1f} min with seeding and JVM start", flush=True)
            if "log_tail" in row:
                print(row["log_tail"], flush=True)
            results["sizes"].append(row)
            write(results)  # as it goes: a run stopped later still leaves the sizes done
            if row["outcome"] != "success":
                stop_reason = f"{adverts:,} adverts: {row['outcome']}"
            elif adverts == args.settings_at:
                try:
                    compare_settings(lake, work, results, limit_s, deadline, args.settings_repeats)
                except Exception as e:  # the sizes still to come are worth more than a traceback here
                    results["settings_error"] = repr(e)
                    print(f"  settings comparison failed: {e!r}", flush=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    write(results)


def utc_today(hh_mm: str) -> float:
    """``HH:MM`` UTC today as a Unix time."""
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    now = time.gmtime()
    return float(calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, hours, minutes, 0, 0, 0, 0)))


# ---------------------------------------------------------------------------------------------------------
# Tables.


def steps_in_order(row: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    steps = row.get("steps", {})
    timed = sorted(((k, s) for k, s in steps.items() if "wall_s" in s and k != OUTSIDE),
                   key=lambda item: item[1].get("order", 0))
    yield from timed
    yield from ((k, s) for k, s in steps.items() if "wall_s" not in s)
    if OUTSIDE in steps:
        yield OUTSIDE, steps[OUTSIDE]


def name(key: str, step: dict[str, Any]) -> str:
    """A check by its own name (its step key prefixes the asset's)."""
    return str(step.get("name", key))


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def size_table(row: dict[str, Any]) -> list[str]:
    seeded, peak = row.get("seed", {}), row.get("peak_mb", {})
    nan = float("nan")
    rows = ", ".join(f"{k} {v:,}" for k, v in seeded.get("rows", {}).items())
    xmx = row.get("jvm_cmdline_xmx", "?").removeprefix("-Xmx")
    earlier = row.get("reused_from_run_started")
    reused = f", measured in the run started {earlier}" if earlier else ""
    lines = [f"**{row['adverts']:,} adverts** ({rows}{reused}): seeding {seeded.get('wall_s', nan):.0f} s (of "
             f"which writing {seeded.get('write_s') or nan:.0f} s), Spark session start "
             f"{row.get('session_start_s', nan):.0f} s, retrain run {row.get('run_wall_s', nan):.0f} s "
             f"({row['outcome']}, 1-minute load average {row.get('load_average_before', nan):.1f} before, "
             f"{row.get('load_average_after', nan):.1f} after); peak RSS JVM {mb(peak.get('jvm'))} "
             f"MB (heap used {mb(peak.get('heap_used'))} MB of -Xmx {xmx}), Python {mb(peak.get('python'))} MB, "
             f"Spark's Python workers {mb(peak.get('workers'))} MB, all together {mb(peak.get('total'))} MB.",
             "",
             "| step | kind | wall s | JVM CPU s | Python CPU s | peak JVM RSS MB | peak heap used MB | GC s "
             "| peak Python RSS MB | peak workers PSS MB | spilled MB (disk) | rows |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, s in steps_in_order(row):
        if "wall_s" not in s:
            lines.append(f"| {name(key, s)} | {s.get('kind', '')} | {s['status']} | | | | | | | | | |")
            continue
        gc, count = s.get("jvm_gc_s"), s.get("rows")
        lines.append(f"| {name(key, s)} | {s['kind']}{'' if s.get('check_passed', True) else ' (failed)'} | "
                     f"{s['wall_s']:.1f} | {s.get('jvm_cpu_s', 0):.0f} | {s.get('python_cpu_s', 0):.0f} | "
                     f"{mb(s['peak_jvm_rss_mb'])} | "
                     f"{mb(s['peak_heap_used_mb'])} | {'-' if gc is None else f'{gc:.1f}'} | "
                     f"{mb(s['peak_python_rss_mb'])} | {mb(s['peak_workers_pss_mb'])} | "
                     f"{s['memory_spilled_mb']:,.0f} ({s['disk_spilled_mb']:,.0f}) | "
                     f"{'' if count is None else f'{count:,}'} |")
    return lines


def cost_curve(sizes: list[dict[str, Any]]) -> list[str]:
    done = [r for r in sizes if "steps" in r]
    if not done:
        return []
    base = done[0]
    keys = [(k, name(k, s)) for k, s in steps_in_order(done[-1])]
    lines = [f"Cost curve: per step, wall seconds and the JVM's CPU seconds, each with its ratio to "
             f"{base['adverts']:,} adverts. Other work shared the 2 cores (load averages above), which stretches "
             "wall time but not CPU time: CPU is the steadier measure of cost.", "",
             "| step | " + " | ".join(f"{r['adverts']:,}: wall s | {r['adverts']:,}: JVM CPU s" for r in done) + " |",
             "| --- |" + " --- | --- |" * len(done)]

    def cell(value: float | None, reference: float | None) -> str:
        if value is None:
            return "-"
        ratio = f" ({value / reference:.1f}x)" if reference and reference >= 0.5 else ""
        return f"{value:,.1f}{ratio}"

    def row(label: str, wall: list[float | None], cpu: list[float | None]) -> str:
        return (f"| {label} | " + " | ".join(f"{cell(w, wall[0])} | {cell(c, cpu[0])}" for w, c in zip(wall, cpu,
                                                                                                        strict=True))
                + " |")

    for key, label in keys:
        steps = [r["steps"].get(key, {}) for r in done]
        lines.append(row(label, [s.get("wall_s") for s in steps],
                         [s.get("jvm_cpu_s") if key != OUTSIDE else None for s in steps]))
    lines.append(row("**retrain run**", [r.get("run_wall_s") for r in done], [r.get("jvm_cpu_s") for r in done]))
    lines.append(row("**seeding (own JVM)**", [r["seed"]["wall_s"] for r in done], [None for _ in done]))
    lines += ["", "| peak, whole run (MB) | " + " | ".join(f"{r['adverts']:,}" for r in done) + " |",
              "| --- |" + " --- |" * len(done)]
    for label, key in (("JVM RSS", "jvm"), ("JVM heap used", "heap_used"), ("Python RSS", "python"),
                       ("Spark's Python workers PSS", "workers"), ("all processes", "total")):
        values = [r["peak_mb"].get(key) for r in done]
        lines.append(f"| {label} | " + " | ".join(
            f"{mb(v)}" + (f" ({v / values[0]:.1f}x)" if v is not None and values[0] else "") for v in values) + " |")
    skipped = [r for r in sizes if "steps" not in r]
    if skipped:
        lines += ["", *(f"{r['adverts']:,} adverts: {r['outcome']}" for r in skipped)]
    return lines


def settings_table(results: dict[str, Any]) -> list[str]:
    rows = results.get("settings")
    if not rows:
        return []
    assets = results["settings_assets"]
    project = rows[0]["label"]
    # Each round's rows against that round's run with the project's settings.
    bases = {r.get("round", 1): r for r in rows if r["label"] == project}
    first = next((r for r in rows if "steps" in r), rows[0])
    keys = [(k, name(k, s)) for k, s in steps_in_order(first)
            if k != OUTSIDE and s.get("wall_s", 0) >= 1.0]

    def ratio(value: float | None, reference: float | None) -> float | None:
        return value / reference if value is not None and reference else None

    def cell(value: float | None, reference: float | None, digits: int = 1) -> str:
        if value is None:
            return "-"
        r = ratio(value, reference)
        return f"{value:,.{digits}f}" + (f" ({r:.2f}x)" if r is not None else "")

    lines = [f"Spark settings at {results['settings_at']:,} adverts: {' + '.join(assets)} with their checks, each "
             "setting in its own process (fresh JVM) on the same lake and Dagster instance, the variants one after "
             "another in rounds; in brackets the ratio to the same round's run with the project's settings. The "
             "gate there compares against the deployed model (the bundle of the full run)"
             + (f"; measured in the run started {results['settings_from_run_started']}."
                if results.get("settings_from_run_started") else "."), "",
             "| round | setting | partitions | driver memory | " + " | ".join(f"{label} s" for _, label in keys)
             + " | run s | JVM CPU s | peak JVM RSS MB | peak heap used MB | GC s | spilled MB (disk) | outcome |",
             "| --- | --- | --- | --- | " + "--- | " * len(keys) + "--- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        base = bases.get(r.get("round", 1), {})
        steps, base_steps = r.get("steps", {}), base.get("steps", {})
        timed = [s for k, s in steps.items() if "wall_s" in s]
        gc = sum(s.get("jvm_gc_s") or 0.0 for k, s in steps.items() if k != OUTSIDE and "wall_s" in s)
        spill = sum(s.get("memory_spilled_mb", 0.0) for s in timed)
        disk = sum(s.get("disk_spilled_mb", 0.0) for s in timed)
        lines.append(f"| {r.get('round', 1)} | {r['label']} | {r['shuffle_partitions']} | {r['driver_memory']} | "
                     + " | ".join(cell(steps.get(k, {}).get("wall_s"), base_steps.get(k, {}).get("wall_s"))
                                  for k, _ in keys)
                     + f" | {cell(r.get('run_wall_s'), base.get('run_wall_s'))} | "
                     f"{cell(r.get('jvm_cpu_s'), base.get('jvm_cpu_s'), 0)} | "
                     f"{mb(r.get('peak_mb', {}).get('jvm'))} | {mb(r.get('peak_mb', {}).get('heap_used'))} | "
                     f"{gc:.1f} | {spill:,.0f} ({disk:,.0f}) | {r['outcome']} |")

    labels = list(dict.fromkeys(r["label"] for r in rows))
    if max(r.get("round", 1) for r in rows) > 1:
        lines += ["", "Per setting, the ratios to the project's settings over the rounds (median, and the range):",
                  "", "| setting | rounds | " + " | ".join(f"{label}" for _, label in keys)
                  + " | run wall | JVM CPU |", "| --- | --- | " + "--- | " * len(keys) + "--- | --- |"]

        def spread(values: list[float | None]) -> str:
            known = sorted(v for v in values if v is not None)
            if not known:
                return "-"
            middle = statistics.median(known)
            return f"{middle:.2f}x" + (f" ({known[0]:.2f}-{known[-1]:.2f})" if len(known) > 1 else "")

        for label in labels:
            mine = [r for r in rows if r["label"] == label and "steps" in r]
            pairs = [(r, bases.get(r.get("round", 1), {})) for r in mine]
            lines.append(f"| {label} | {len(mine)} | "
                         + " | ".join(spread([ratio(r["steps"].get(k, {}).get("wall_s"),
                                                    b.get("steps", {}).get(k, {}).get("wall_s")) for r, b in pairs])
                                      for k, _ in keys)
                         + f" | {spread([ratio(r.get('run_wall_s'), b.get('run_wall_s')) for r, b in pairs])} | "
                         f"{spread([ratio(r.get('jvm_cpu_s'), b.get('jvm_cpu_s')) for r, b in pairs])} |")
    return lines


def write(results: dict[str, Any]) -> None:
    m = results["machine"]
    lines = [f"Cost of the `retrain` job (every asset and check) by lake size, on {m['cores']} cores and "
             f"{m['memory_gib']} GiB, {m['java']}, Spark {m['spark']} local mode, shared with other work (load "
             "averages in the JSON); one run of `.venv/bin/python benchmarks/scale.py`, started "
             f"{results['started']}. Each size and each setting in its own process (fresh JVM). Heap from "
             "`jstat -gc` (used = survivors + eden + old, sampled every 250 ms); RSS sampled every 100 ms and "
             "charged to the step running then; GC s = the JVM's GC time during the step; spill from Spark's task "
             "metrics.", ""]
    try:
        for row in results["sizes"]:
            if "steps" in row:
                lines += [*size_table(row), ""]
        lines += [*cost_curve(results["sizes"]), ""]
        lines += settings_table(results)
    except Exception as e:  # the figures must reach the JSON whatever the tables make of them; --render retries
        lines.append(f"(tables failed: {e!r})")
    write_results("scale", results, lines)


if __name__ == "__main__":
    main()
