"""Open-loop HTTP load with vegeta, and what a server process costs: the pieces the load benchmark, the soak and
its CI test share.

vegeta (``github.com/tsenart/vegeta/v12``, installed into ``.state/bin`` by ``scripts/setup.sh``) sends requests
at a fixed rate whatever the server's latency (open loop), so a slow server shows as latency and errors rather
than as a lower request rate. Where the machine has two CPUs or more, the server runs on CPU 0 and vegeta on
CPU 1 (``taskset``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
VEGETA_VERSION = "v12.13.0"
SERVER_CPU = 0
LOAD_CPU = 1
# vegeta's requests in flight at most. Holding p99 <= 10 ms at r requests/s needs about r x 10 ms of them (640 at
# 64,000/s), so the cap never fails a rate that could hold; it bounds the connections an overloaded server is
# left with (unbounded, they spill into the next rate). A rate the cap stops vegeta sending shows as a low
# achieved rate, and fails.
MAX_IN_FLIGHT = 1000


class LoadError(RuntimeError):
    pass


def vegeta_binary() -> Path:
    """vegeta from ``.state/bin`` (scripts/setup.sh), else from PATH."""
    local = ROOT / ".state" / "bin" / "vegeta"
    if local.exists():
        return local
    found = shutil.which("vegeta")
    if found is None:
        raise LoadError("vegeta is not installed: run scripts/setup.sh (it installs it into .state/bin)")
    return Path(found)


def can_pin() -> bool:
    """Whether this process may use CPUs 0 and 1, and taskset is there to pin to them."""
    return {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0) and shutil.which("taskset") is not None


def pinned(cmd: Sequence[str], cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if can_pin() else list(cmd)


@dataclass(frozen=True)
class Target:
    """One request, sent again and again."""

    url: str
    body: bytes
    method: str = "POST"
    content_type: str = "application/json"

    def as_vegeta_json(self) -> str:
        return json.dumps({"method": self.method, "url": self.url, "body": base64.b64encode(self.body).decode(),
                           "header": {"Content-Type": [self.content_type]}})


@dataclass(frozen=True)
class AttackResult:
    rate: float  # asked for, requests a second
    duration_s: float
    requests: int
    achieved_rate: float  # the rate vegeta actually sent at
    ok: int  # answered 2xx
    errors: int  # everything else: other statuses, timeouts, refused connections
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_codes: dict[str, int]
    error_samples: list[str] = field(default_factory=list)

    def holds(self, p99_ms: float) -> bool:
        """No errors, p99 within ``p99_ms``, and the rate was really sent (vegeta kept up)."""
        return self.errors == 0 and self.p99_ms <= p99_ms and self.achieved_rate >= 0.95 * self.rate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def attack(target: Target, rate: float, duration_s: float, *, timeout_s: float = 10.0) -> AttackResult:
    """vegeta at ``rate`` requests a second for ``duration_s``, pinned to the load CPU; blocks until done."""
    process, output = start_attack(target, rate, duration_s, timeout_s=timeout_s)
    return finish_attack(process, output, rate, duration_s, timeout_s=timeout_s)


def start_attack(target: Target, rate: float, duration_s: float, *,
                 timeout_s: float = 10.0) -> tuple[subprocess.Popen[bytes], Path]:
    """Starts vegeta in the background; ``finish_attack`` waits for it and reads its results."""
    work = Path(tempfile.mkdtemp(prefix="vegeta-"))
    (work / "target.json").write_text(target.as_vegeta_json() + "\n")
    output = work / "results.bin"
    cmd = pinned([str(vegeta_binary()), "attack", "-format=json", f"-targets={work / 'target.json'}",
                  f"-rate={max(1, round(rate))}/1s", f"-duration={duration_s}s", f"-timeout={timeout_s}s",
                  f"-max-workers={MAX_IN_FLIGHT}", f"-output={output}"], LOAD_CPU)
    with open(work / "attack.log", "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    return process, output


def finish_attack(process: subprocess.Popen[bytes], output: Path, rate: float, duration_s: float, *,
                  timeout_s: float = 10.0) -> AttackResult:
    try:
        code = process.wait(timeout=duration_s + timeout_s + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise LoadError("vegeta did not finish") from None
    if code != 0:
        raise LoadError(f"vegeta attack exited {code}: {(output.parent / 'attack.log').read_text()[-2000:]}")
    report = subprocess.run([str(vegeta_binary()), "report", "-type=json", str(output)],
                            capture_output=True, text=True, check=True)
    shutil.rmtree(output.parent, ignore_errors=True)
    return parse_report(json.loads(report.stdout), rate, duration_s)


def parse_report(report: Mapping[str, Any], rate: float, duration_s: float) -> AttackResult:
    codes = {str(k): int(v) for k, v in (report.get("status_codes") or {}).items()}
    requests = int(report["requests"])
    ok = sum(n for code, n in codes.items() if code.startswith("2"))
    lat = report["latencies"]
    ms = lambda key: float(lat[key]) / 1e6  # noqa: E731
    return AttackResult(rate=rate, duration_s=duration_s, requests=requests, achieved_rate=float(report["rate"]),
                        ok=ok, errors=requests - ok, p50_ms=ms("50th"), p90_ms=ms("90th"), p99_ms=ms("99th"),
                        max_ms=ms("max"), status_codes=codes, error_samples=list(report.get("errors") or [])[:5])


def settle(url: str, *, fast_s: float = 0.02, in_a_row: int = 3, timeout_s: float = 120.0) -> float:
    """Waits until ``url`` answers 200 within ``fast_s``, ``in_a_row`` times running: an overloaded server has
    drained the requests its clients gave up on. Returns the seconds waited."""
    started = time.monotonic()
    fast = 0
    while fast < in_a_row and time.monotonic() - started < timeout_s:
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                ok = response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            ok = False
        fast = fast + 1 if ok and time.monotonic() - sent <= fast_s else 0
        time.sleep(0.2)
    return time.monotonic() - started


def highest_rate(target: Target, *, p99_ms: float, start: float, step_s: float, ready_url: str,
                 floor: float = 1.0, ceiling: float = 64_000, bisections: int = 4, pause_s: float = 2.0,
                 timeout_s: float = 2.0, log: Any = print) -> dict[str, Any]:
    """The highest rate that ``holds`` (0 errors, p99 within ``p99_ms``): double from ``start`` until a rate
    fails (or halve until one holds), then bisect between the last that held and the first that failed. After
    each rate the server is given time to drain (``settle`` on ``ready_url``), so one overload does not spill
    into the next rate."""
    steps: list[dict[str, Any]] = []

    def trial(rate: float) -> bool:
        result = attack(target, rate, step_s, timeout_s=timeout_s)
        held = result.holds(p99_ms)
        steps.append({**result.as_dict(), "held": held})
        time.sleep(pause_s)
        waited = settle(ready_url)
        log(f"  {rate:8,.0f} req/s: p99 {result.p99_ms:9.2f} ms, errors {result.errors:6,}, "
            f"sent {result.achieved_rate:8,.0f}/s -> {'holds' if held else 'fails'} (settled in {waited:.1f} s)")
        return held

    good: float | None = None
    bad: float | None = None
    rate = start
    if trial(rate):
        good = rate
        while rate * 2 <= ceiling:
            rate *= 2
            if not trial(rate):
                bad = rate
                break
            good = rate
    else:
        bad = rate
        while rate / 2 >= floor:
            rate /= 2
            if trial(rate):
                good = rate
                break
            bad = rate
    if good is not None and bad is not None:
        for _ in range(bisections):
            mid = round((good + bad) / 2)
            if mid in (good, bad):
                break
            if trial(mid):
                good = mid
            else:
                bad = mid
    return {"p99_bound_ms": p99_ms, "step_s": step_s, "highest_rate": good, "lowest_failing_rate": bad,
            "steps": steps}


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a JVM under pyspark, granian's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (VmRSS, summed)."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@dataclass(frozen=True)
class ServerCommand:
    """How to start one server: its command line, where it is ready and where to send load."""

    name: str
    label: str
    cmd: list[str]
    ready_url: str
    target: Target
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class StartedServer:
    process: subprocess.Popen[bytes]
    cold_start_s: float


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadError(f"the server exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.02)
    raise LoadError(f"{url} was not ready within {timeout_s:.0f} s")


@contextmanager
def serving(server: ServerCommand, *, log: IO[bytes] | None = None,
            timeout_s: float = 180.0) -> Iterator[StartedServer]:
    """The server pinned to the server CPU, in its own process group; the cold start is the time from the
    process's start to the first 200 from its readiness URL. Stopped (SIGTERM, then SIGKILL) on exit."""
    started = time.monotonic()
    process = subprocess.Popen(pinned(server.cmd, SERVER_CPU), stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1", **server.env}, start_new_session=True)
    try:
        wait_ready(process, server.ready_url, timeout_s)
        yield StartedServer(process=process, cold_start_s=time.monotonic() - started)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
