"""Processes the project's local servers run in (S3Proxy, Spark Connect): liveness, stopping a server's whole
process group, the end of its log; free ports come from the service's launcher."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from daystosell_service.launcher import free_port

__all__ = ["alive", "command_line", "free_port", "log_tail", "stop_process"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still takes signals: look at its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> list[bytes]:
    """The process's arguments; empty when it is gone (so a recycled pid can be told from a server's)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def stop_process(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM to the process group ``pid`` leads (the server's own, from start_new_session), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
