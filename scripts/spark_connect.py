"""A Spark Connect server on loopback, started from pyspark's own launcher, for tests and local development.

The pip package of pyspark has no ``sbin/start-connect-server.sh``, but it ships the server itself
(``pyspark/jars/spark-connect_2.13-<version>.jar``) and ``bin/spark-submit``: the server is
``spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer``, which is what
``start-connect-server.sh`` runs in a full Spark distribution. Clients reach it with
``SparkSession.builder.remote("sc://127.0.0.1:PORT")``.

    python scripts/spark_connect.py start [--port 15002] [--master local[2]] [--driver-memory 2g]
    python scripts/spark_connect.py status    # exit 0 when it accepts connections, 1 otherwise
    python scripts/spark_connect.py stop

From Python::

    with running_connect_server() as server:
        spark = SparkSession.builder.remote(server.remote).getOrCreate()

The server's state (``spark-connect.json``: remote URL, pid, log) and its log sit in ``.state/spark-connect``
unless another folder is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

# Run as a script or loaded by path: either way its own folder holds server_processes.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_processes import alive, command_line, free_port, run_cli, spawn_until_ready, stop_process

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = ROOT / ".state" / "spark-connect"
# Spark Connect's own default port.
DEFAULT_PORT = 15002
MAIN_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
STATE_FILE = "spark-connect.json"
LOG_FILE = "spark-connect.log"
# Printed by SparkConnectServer once its gRPC service is bound.
READY_LINE = "Spark Connect server started"

# Settings the server needs before its JVM starts, or that every client would otherwise have to repeat.
SERVER_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    # As for the project's local sessions: generated stages above HotSpot's 8 KB limit would run interpreted.
    "spark.driver.extraJavaOptions": "-XX:-DontCompileHugeMethods",
}


@dataclass(frozen=True)
class ConnectServer:
    """A running Spark Connect server: the URL a client connects to, and the process to stop."""

    remote: str
    port: int
    pid: int
    master: str
    log_path: Path
    state_dir: Path


# A JVM with running Spark jobs can take a while to wind down cleanly.
STOP_TIMEOUT_S = 30.0


class ConnectServerError(RuntimeError):
    pass




def spark_home() -> Path:
    """The pip package is itself a Spark home: bin/, jars/ (the Connect server's jar included)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def connect_jar(home: Path | None = None) -> Path:
    jars = sorted((home or spark_home()).glob("jars/spark-connect_*.jar"))
    if not jars:
        raise ConnectServerError(f"no spark-connect jar in {(home or spark_home()) / 'jars'}: this pyspark cannot "
                                 "serve Spark Connect")
    return jars[-1]


def _accepts(port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=timeout):
        return True
    return False




def _ready(log_path: Path, port: int) -> bool:
    # The port alone is not enough: another process may hold it, and then our server fails to bind.
    try:
        logged = READY_LINE in log_path.read_text(errors="replace")
    except OSError:
        return False
    return logged and _accepts(port)




def _is_our_server(pid: int, port: int) -> bool:
    """Guards against a recycled pid: the process must be a Connect server bound to this port."""
    cmdline = command_line(pid)
    return MAIN_CLASS.encode() in cmdline and f"spark.connect.grpc.binding.port={port}".encode() in cmdline


def server_command(port: int, master: str, driver_memory: str, conf: Mapping[str, str] | None = None) -> list[str]:
    home = spark_home()
    connect_jar(home)
    settings = {**SERVER_CONF, **(conf or {}),
                "spark.connect.grpc.binding.address": "127.0.0.1",
                "spark.connect.grpc.binding.port": str(port)}
    command = [str(home / "bin" / "spark-submit"), "--class", MAIN_CLASS, "--name", "Spark Connect server",
               "--master", master, "--driver-memory", driver_memory]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command


def start_server(port: int | None = None, *, master: str = "local[2]", driver_memory: str = "2g",
                 conf: Mapping[str, str] | None = None, state_dir: Path | None = None,
                 timeout: float = 120.0) -> tuple[ConnectServer, subprocess.Popen[bytes]]:
    """Starts the server in its own process group and returns once it accepts connections."""
    state_dir = Path(state_dir or DEFAULT_STATE_DIR).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = state_dir / LOG_FILE
    log_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        # Python UDFs (MathBinary's Arrow UDF) run in workers the server starts: this interpreter, so they see
        # the same packages as the client that pickled them.
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        # As sbin/spark-daemon.sh sets it for start-connect-server.sh: this JVM is the server, not a client.
        "SPARK_CONNECT_MODE": "0",
    }
    env.pop("SPARK_REMOTE", None)
    process = spawn_until_ready(server_command(port, master, driver_memory, conf), log_path,
                                lambda: _ready(log_path, port), name="the Spark Connect server",
                                where=f"port {port}", error=ConnectServerError, timeout=timeout,
                                on_timeout=lambda pid: stop_process(pid, timeout=STOP_TIMEOUT_S), poll=0.2,
                                env=env, cwd=state_dir)
    server = ConnectServer(remote=f"sc://127.0.0.1:{port}", port=port, pid=process.pid, master=master,
                           log_path=log_path, state_dir=state_dir)
    (state_dir / STATE_FILE).write_text(json.dumps(_state(server), indent=2) + "\n")
    return server, process


def _state(server: ConnectServer) -> dict[str, object]:
    return {**asdict(server), "log_path": str(server.log_path), "state_dir": str(server.state_dir)}




def read_server(state_dir: Path) -> ConnectServer | None:
    """The server recorded in ``state_dir``, if its state file is there (it may have died since)."""
    try:
        state = json.loads((Path(state_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return ConnectServer(**{**state, "log_path": Path(state["log_path"]), "state_dir": Path(state["state_dir"])})


@contextlib.contextmanager
def running_connect_server(port: int | None = None, *, master: str = "local[2]", driver_memory: str = "2g",
                           conf: Mapping[str, str] | None = None,
                           state_dir: Path | None = None) -> Iterator[ConnectServer]:
    """A Spark Connect server on ``127.0.0.1:port`` (a free port by default), stopped on exit."""
    server, process = start_server(port, master=master, driver_memory=driver_memory, conf=conf,
                                   state_dir=state_dir)
    try:
        yield server
    finally:
        stop_process(process.pid, timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        (server.state_dir / STATE_FILE).unlink(missing_ok=True)


def _cli_start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state).resolve()
    existing = read_server(state_dir)
    if existing and alive(existing.pid) and _is_our_server(existing.pid, existing.port):
        print(f"already running (pid {existing.pid}) at {existing.remote}", file=sys.stderr)
        return 1
    conf = dict(item.split("=", 1) for item in args.conf)
    started = time.monotonic()
    server, _ = start_server(args.port, master=args.master, driver_memory=args.driver_memory, conf=conf,
                             state_dir=state_dir)
    print(json.dumps({**_state(server), "started_in_s": round(time.monotonic() - started, 2)}, indent=2))
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state).resolve()
    server = read_server(state_dir)
    if server is None:
        print(f"no server recorded in {state_dir}", file=sys.stderr)
        return 1
    if alive(server.pid) and _is_our_server(server.pid, server.port):
        stop_process(server.pid, timeout=STOP_TIMEOUT_S)
        print(f"stopped pid {server.pid}")
    else:
        print(f"pid {server.pid} is not running", file=sys.stderr)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    server = read_server(Path(args.state).resolve())
    running = (server is not None and alive(server.pid) and _is_our_server(server.pid, server.port)
               and _accepts(server.port))
    status: dict[str, object] = {"running": running}
    if server is not None:
        status.update({"remote": server.remote, "pid": server.pid, "master": server.master,
                       "log_path": str(server.log_path)})
    print(json.dumps(status, indent=2))
    return 0 if running else 1


def _start_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=DEFAULT_PORT)
    command.add_argument("--master", default="local[2]")
    command.add_argument("--driver-memory", default="2g")
    command.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                         help="a Spark setting for the server (repeatable)")


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, {"start": _cli_start, "stop": _cli_stop, "status": _cli_status},
                   lambda c: c.add_argument("--state", default=str(DEFAULT_STATE_DIR),
                                            help="folder for the state file and log (default: .state/spark-connect)"),
                   {"start": _start_arguments}, ConnectServerError, argv)

if __name__ == "__main__":
    sys.exit(main())
