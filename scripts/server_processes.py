"""Processes the project's local servers run in (S3Proxy, Spark Connect): liveness, stopping a server's whole
process group, the end of its log; free ports come from the service's launcher."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from daystosell_service.launcher import free_port

__all__ = ["alive", "command_line", "free_port", "log_tail", "run_cli", "spawn_until_ready", "stop_process"]


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


Handler = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], object]


def run_cli(doc: str | None, handlers: Mapping[str, Handler], common: AddArguments,
            extra: Mapping[str, AddArguments], error: type[Exception], argv: list[str] | None = None) -> int:
    """The command line every server script has: one subcommand per handler (``start``, ``stop``, ...), each
    with the ``common`` arguments (its data folder) and its own ``extra`` ones; the script's own error type
    is printed as a message, not a traceback, with exit status 1."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler in handlers.items():
        command = commands.add_parser(name)
        common(command)
        if name in extra:
            extra[name](command)
        command.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except error as failure:
        print(failure, file=sys.stderr)
        return 1


def spawn_until_ready(command: Sequence[str], log_path: Path, ready: Callable[[], bool], *, name: str, where: str,
                      error: type[Exception], timeout: float, on_timeout: Callable[[int], None] = stop_process,
                      poll: float = 0.1, env: Mapping[str, str] | None = None,
                      cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Starts ``command`` in its own process group with its output appended to ``log_path`` and returns once
    ``ready()``; raises ``error`` with the log's end if it exits first, or after ``on_timeout(pid)`` (stopping
    it) if ``timeout`` seconds pass."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=None if env is None else dict(env), cwd=cwd, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise error(f"{name} exited with {process.returncode} before answering on {where}; "
                        f"{log_path}:\n{log_tail(log_path)}")
        if time.monotonic() > deadline:
            on_timeout(process.pid)
            raise error(f"{name} did not answer on {where} within {timeout:.0f} s; {log_path}:\n{log_tail(log_path)}")
        time.sleep(poll)
    return process
