"""Runs the scoring service as a child process and waits until it is ready: one place for the demo,
the end-to-end tests and the benchmarks to start a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class ServiceStartError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunningService:
    process: subprocess.Popen[bytes]
    url: str


def start_service(bundle: Path, *, port: int, host: str = "127.0.0.1", args: Sequence[str] = (),
                  log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """``python -m daystosell_service`` in a child process. Its output goes to ``log`` (a file, never
    an unread pipe, which would stall the server once full), or to this process's own."""
    return subprocess.Popen(
        [sys.executable, "-m", "daystosell_service", "--bundle", str(bundle), "--host", host,
         "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT if log is not None else None,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> None:
    """Polls ``GET /health/ready`` until it answers 200; fails if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceStartError(f"the service exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise ServiceStartError(f"the service at {url} was not ready within {timeout:.0f} s")


@contextmanager
def running_service(bundle: Path, *, port: int | None = None, args: Sequence[str] = (),
                    log: IO[bytes] | None = None, timeout: float = 60.0) -> Iterator[RunningService]:
    """A ready service on 127.0.0.1, stopped (SIGTERM, then SIGKILL) on exit whatever happened."""
    port = port or free_port()
    process = start_service(bundle, port=port, args=args, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url, timeout)
        yield RunningService(process=process, url=url)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
