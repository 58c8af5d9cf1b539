"""A real S3-compatible server on loopback for the lake's tests and local development: S3Proxy.

S3Proxy (Apache-2.0, from Maven Central: scripts/s3proxy/pom.xml, installed into .state/s3proxy/lib by
scripts/setup.sh) speaks the S3 REST API (SigV2/SigV4, multipart uploads, checksums) and keeps every bucket
as a folder on disk, so what Spark and boto3 write can be looked at with `ls`.

    python scripts/s3_server.py start [--port 9555] [--data DIR]   # detached; prints the endpoint as JSON
    python scripts/s3_server.py status [--data DIR]                # exit 0 when it answers, 1 otherwise
    python scripts/s3_server.py stop [--data DIR]

From Python::

    with running_s3_server(tmp_path) as server:
        s3 = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)

Layout of the data folder: buckets live in ``DIR/buckets/<bucket>/``; ``DIR/s3proxy.properties``,
``DIR/logback.xml``, ``DIR/s3proxy.log`` and ``DIR/s3proxy.json`` (the running server: endpoint, keys, pid)
sit beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

# Run as a script or loaded by path: either way its own folder holds server_processes.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_processes import alive, command_line, free_port, run_cli, spawn_until_ready, stop_process

ROOT = Path(__file__).resolve().parents[1]
S3PROXY_LIB = Path(os.environ.get("DAYSTOSELL_S3PROXY_LIB") or ROOT / ".state" / "s3proxy" / "lib")
DEFAULT_DATA_DIR = ROOT / ".state" / "s3"
DEFAULT_PORT = 9555
# Fixed test keys: the server only listens on loopback and holds throwaway data.
ACCESS_KEY = "daystosell"
SECRET_KEY = "daystosell-secret-key"
REGION = "us-east-1"
MAIN_CLASS = "org.gaul.s3proxy.Main"
STATE_FILE = "s3proxy.json"
LOG_FILE = "s3proxy.log"

# Without a configuration, logback logs at DEBUG: hundreds of Jetty lines a request.
LOGBACK_XML = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


@dataclass(frozen=True)
class S3Server:
    """A running S3Proxy: what a client needs to reach it, and the process to stop."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    pid: int
    data_dir: Path
    log_path: Path

    @property
    def buckets_dir(self) -> Path:
        return self.data_dir / "buckets"


class S3ServerError(RuntimeError):
    pass




def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise S3ServerError("no java on PATH (S3Proxy needs Java 17): run `make setup`")
    return java


def write_config(data_dir: Path, port: int, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Path:
    """Writes S3Proxy's properties (and a quiet logback configuration) into ``data_dir``."""
    buckets = data_dir / "buckets"
    buckets.mkdir(parents=True, exist_ok=True)
    properties = data_dir / "s3proxy.properties"
    properties.write_text("\n".join([
        f"s3proxy.endpoint=http://127.0.0.1:{port}",
        # Both signatures: boto3 and the AWS SDK v2 inside S3A sign with V4, older tools with V2.
        "s3proxy.authorization=aws-v2-or-v4",
        f"s3proxy.identity={access_key}",
        f"s3proxy.credential={secret_key}",
        # S3Proxy 4's own on-disk store (it no longer uses jclouds; `filesystem-nio2` names the same): one
        # folder per bucket, one file per object, so data outlives the process and can be inspected.
        "jclouds.provider=filesystem",
        f"jclouds.filesystem.basedir={buckets}",
        "",
    ]))
    (data_dir / "logback.xml").write_text(LOGBACK_XML)
    return properties


def _answers(endpoint_url: str, timeout: float = 1.0) -> bool:
    """True once the server answers HTTP at all: an anonymous request gets 403, which is an answer."""
    # Straight to loopback, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(endpoint_url + "/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False






def _is_our_server(pid: int, data_dir: Path) -> bool:
    """Guards against a recycled pid: the process must be S3Proxy run on this data folder's properties."""
    cmdline = command_line(pid)
    properties = str(data_dir / "s3proxy.properties").encode()
    return MAIN_CLASS.encode() in cmdline and properties in cmdline


def start_server(data_dir: Path, port: int | None = None, timeout: float = 60.0,
                 lib_dir: Path | None = None) -> tuple[S3Server, subprocess.Popen[bytes]]:
    """Starts S3Proxy in its own process group and returns once it answers HTTP."""
    data_dir = Path(data_dir).resolve()
    lib_dir = lib_dir or S3PROXY_LIB
    if not any(lib_dir.glob("s3proxy-*.jar")):
        raise S3ServerError(f"S3Proxy is not installed in {lib_dir}: run `make setup` (scripts/setup.sh)")
    port = port or free_port()
    properties = write_config(data_dir, port)
    log_path = data_dir / LOG_FILE
    command = [
        java_executable(),
        # A test server: small heap, serial GC, quick start on 2 cores.
        "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        f"-Dlogback.configurationFile={data_dir / 'logback.xml'}",
        "-cp", f"{lib_dir}/*", MAIN_CLASS, "--properties", str(properties),
    ]
    endpoint_url = f"http://127.0.0.1:{port}"
    process = spawn_until_ready(command, log_path, lambda: _answers(endpoint_url, timeout=0.5), name="S3Proxy",
                                where=endpoint_url, error=S3ServerError, timeout=timeout)
    server = S3Server(endpoint_url=endpoint_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                      region=REGION, pid=process.pid, data_dir=data_dir, log_path=log_path)
    state = {**asdict(server), "data_dir": str(data_dir), "log_path": str(log_path)}
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return server, process




def read_server(data_dir: Path) -> S3Server | None:
    """The server recorded in ``data_dir``, if its state file is there (it may have died since)."""
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return S3Server(**{**state, "data_dir": Path(state["data_dir"]), "log_path": Path(state["log_path"])})


@contextlib.contextmanager
def running_s3_server(data_dir: Path, port: int | None = None) -> Iterator[S3Server]:
    """S3Proxy on ``127.0.0.1:port`` (a free port by default) over ``data_dir``, stopped on exit."""
    server, process = start_server(Path(data_dir), port)
    try:
        yield server
    finally:
        stop_process(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        (server.data_dir / STATE_FILE).unlink(missing_ok=True)


def _cli_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    existing = read_server(data_dir)
    if existing and alive(existing.pid) and _is_our_server(existing.pid, data_dir):
        print(f"already running (pid {existing.pid}) on {existing.endpoint_url}", file=sys.stderr)
        return 1
    started = time.monotonic()
    server, _ = start_server(data_dir, args.port)
    elapsed = time.monotonic() - started
    for bucket in args.bucket:
        create_bucket(server, bucket)
    print(json.dumps({**asdict(server), "data_dir": str(server.data_dir), "log_path": str(server.log_path),
                      "started_in_s": round(elapsed, 2)}, indent=2))
    return 0


def create_bucket(server: S3Server, bucket: str) -> None:
    """Creates ``bucket`` unless it exists (S3A writes into buckets; it does not make them)."""
    from daystosell_assets.lake.s3 import s3_client

    client = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def _cli_stop(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    server = read_server(data_dir)
    if server is None:
        print(f"no server recorded in {data_dir}", file=sys.stderr)
        return 1
    if alive(server.pid) and _is_our_server(server.pid, data_dir):
        stop_process(server.pid)
        print(f"stopped pid {server.pid}")
    else:
        print(f"pid {server.pid} is not running", file=sys.stderr)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    server = read_server(data_dir)
    running = (server is not None and alive(server.pid) and _is_our_server(server.pid, data_dir)
               and _answers(server.endpoint_url))
    status: dict[str, object] = {"running": running}
    if server is not None:
        status.update({"endpoint_url": server.endpoint_url, "pid": server.pid, "log_path": str(server.log_path)})
    print(json.dumps(status, indent=2))
    return 0 if running else 1


def _start_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=DEFAULT_PORT)
    command.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, {"start": _cli_start, "stop": _cli_stop, "status": _cli_status},
                   lambda c: c.add_argument("--data", default=str(DEFAULT_DATA_DIR),
                                            help="data folder (default: .state/s3)"),
                   {"start": _start_arguments}, S3ServerError, argv)

if __name__ == "__main__":
    sys.exit(main())
