"""Processes the project's local servers run in (S3Proxy, Spark Connect): liveness, stopping a server's whole
process group, the end of its log; free ports come from the service's launcher."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from daystosell_service.launcher import free_port

__all__ = ["alive", "command_line", "free_port", "log_tail", "run_cli", "stop_process"]


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
