"""``dagster dev`` as an engineer starts it, owned by a test: its own process group (webserver, daemon, code
server and run workers all inherit it), stopped and checked by that group, and a GraphQL client for what the
UI alone does not say reliably (the run launched by a click, its status and its logs)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from daystosell_service.launcher import free_port

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
READY_TIMEOUT = 120.0
STOP_GRACE = 30.0
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class Member:
    """A process of the group as /proc shows it."""

    pid: int
    state: str
    command: str


@dataclass(frozen=True)
class DagsterDev:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    pgid: int

    def output_tail(self, lines: int = 80) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})},
                              timeout=60)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), f"GraphQL errors: {body['errors']}"
        data: dict[str, Any] = body["data"]
        return data


def instance_home(root: Path) -> tuple[Path, Path]:
    """A DAGSTER_HOME holding the repository's ``dagster.yaml`` (storage from DAYSTOSELL_DAGSTER_STORAGE) and
    that storage folder, both under ``root``: the test never touches the repository's own .state/dagster."""
    home, storage = root / "home", root / "storage"
    home.mkdir(parents=True)
    storage.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home, storage


def dev_environment(home: Path, storage: Path, lake_root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAYSTOSELL_DAGSTER_STORAGE": str(storage),
        "DAYSTOSELL_LAKE_ROOT": str(lake_root),
        # Sensors and the schedule start stopped: the daemon must not retrain and release by itself.
        "DAYSTOSELL_AUTOMATION": "off",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": str(VENV_BIN / "python"),
    }


def start(env: Mapping[str, str], log: Path, port: int | None = None) -> DagsterDev:
    port = port or free_port()
    with log.open("wb") as out:
        # A session of its own: every process dagster dev starts lands in one group we can signal and audit.
        process = subprocess.Popen(
            [str(VENV_BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    return DagsterDev(process=process, url=f"http://127.0.0.1:{port}", log=log, pgid=os.getpgid(process.pid))


def wait_ready(dev: DagsterDev, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {dev.process.returncode}:\n{dev.output_tail()}")
        try:
            if httpx.get(f"{dev.url}/server_info", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(1)
    raise TimeoutError(f"dagster dev not ready at {dev.url} after {timeout:.0f} s:\n{dev.output_tail()}")


def group_members(pgid: int) -> list[Member]:
    """Every live process whose process group is ``pgid``, read from /proc (zombies are dead already)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        # The command name in parentheses may hold spaces or parentheses: the fields follow the last ")".
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(Member(pid=int(entry.name), state=state, command=command))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # the whole group is gone
        os.killpg(pgid, sig)


def _wait_group(dev: DagsterDev, timeout: float) -> list[Member]:
    deadline = time.monotonic() + timeout
    while True:
        # Reaps our own child, which would otherwise linger as a zombie.
        with suppress(subprocess.TimeoutExpired):
            dev.process.wait(timeout=0.5)
        members = group_members(dev.pgid)
        if not members or time.monotonic() > deadline:
            return members
        time.sleep(0.5)


def stop(dev: DagsterDev, grace: float = STOP_GRACE) -> list[Member]:
    """SIGTERM to the group (dagster dev shuts its webserver, daemon and code server down), SIGKILL to whatever
    outlives ``grace``; returns the processes of the group still alive after that, which should be none."""
    _signal_group(dev.pgid, signal.SIGTERM)
    if not _wait_group(dev, grace):
        return []
    _signal_group(dev.pgid, signal.SIGKILL)
    return _wait_group(dev, 10)


@contextmanager
def running(env: Mapping[str, str], log: Path) -> Iterator[DagsterDev]:
    dev = start(env, log)
    try:
        wait_ready(dev)
        yield dev
    finally:
        survivors = stop(dev)
        assert not survivors, f"processes of dagster dev's group {dev.pgid} survived SIGKILL: {survivors}"


# --- runs, through the webserver's GraphQL API -------------------------------------------------------------

RUN_IDS = "query { runsOrError(limit: 50) { __typename ... on Runs { results { runId } } } }"
RUN = """query ($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { runId status assetSelection { path } }
  ... on PythonError { message } } }"""
LOGS = """query ($runId: ID!) { logsForRun(runId: $runId) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message level stepKey }
    ... on ExecutionStepFailureEvent { error { message stack } }
    ... on RunFailureEvent { error { message stack } } } }
  ... on PythonError { message } } }"""
SENSORS = """query { sensorsOrError(repositorySelector: {repositoryName: "__repository__",
  repositoryLocationName: "daystosell"}) { __typename
  ... on Sensors { results { name sensorState { status } } }
  ... on PythonError { message } } }"""


def run_ids(dev: DagsterDev) -> set[str]:
    runs = dev.graphql(RUN_IDS)["runsOrError"]
    assert runs["__typename"] == "Runs", runs
    return {r["runId"] for r in runs["results"]}


def wait_new_run(dev: DagsterDev, before: set[str], timeout: float = 60.0) -> str:
    """The one run launched since ``before`` was taken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = run_ids(dev) - before
        if new:
            assert len(new) == 1, f"expected one new run, got {sorted(new)}"
            return new.pop()
        time.sleep(1)
    raise TimeoutError(f"no run was launched within {timeout:.0f} s:\n{dev.output_tail()}")


def run_status(dev: DagsterDev, run_id: str) -> str:
    run = dev.graphql(RUN, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    status: str = run["status"]
    return status


def wait_run(dev: DagsterDev, run_id: str, timeout: float) -> str:
    """The run's final status, or its last one once ``timeout`` is over."""
    deadline = time.monotonic() + timeout
    status = run_status(dev, run_id)
    while status not in FINISHED and time.monotonic() < deadline:
        time.sleep(2)
        status = run_status(dev, run_id)
    return status


def run_logs(dev: DagsterDev, run_id: str, lines: int = 120) -> str:
    """The run's event log as text, newest last, with the errors' stacks: what a failure message needs."""
    logs = dev.graphql(LOGS, {"runId": run_id})["logsForRun"]
    if logs["__typename"] != "EventConnection":
        return str(logs)
    text = []
    for event in logs["events"]:
        text.append(f"{event.get('level', '')} {event.get('stepKey') or '-'} {event['__typename']}: "
                    f"{event.get('message', '')}")
        if error := event.get("error"):
            text.append(error["message"] + "".join(error.get("stack") or []))
    return "\n".join(text[-lines:])


def sensor_statuses(dev: DagsterDev) -> dict[str, str]:
    sensors = dev.graphql(SENSORS)["sensorsOrError"]
    assert sensors["__typename"] == "Sensors", sensors
    return {s["name"]: s["sensorState"]["status"] for s in sensors["results"]}
