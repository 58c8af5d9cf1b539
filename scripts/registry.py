"""A real OCI registry on loopback for the release chain's local default and tests: Debian's
``docker-registry`` (the CNCF Distribution registry), installed by scripts/setup.sh.

    python scripts/registry.py start [--port 5055] [--data DIR] [--user NAME]  # detached; prints it as JSON
    python scripts/registry.py ensure                                           # start unless it runs
    python scripts/registry.py status [--data DIR]                              # exit 0 when it answers
    python scripts/registry.py stop [--data DIR]

``--user`` turns on basic authentication (htpasswd, bcrypt); the password is read from
``DAYSTOSELL_REGISTRY_PASSWORD``, never from the command line. Pushes then need the same pair in
``DAYSTOSELL_REGISTRY_USERNAME`` / ``DAYSTOSELL_REGISTRY_PASSWORD`` (see daystosell_assets.release.registry).

From Python::

    with running_registry(tmp_path, username="ci", password="...") as registry:
        push_image(image, f"docker://{registry.address}/daystosell/service:v1", tls_verify=False)

The data folder holds ``config.yml``, ``htpasswd``, ``registry.log``, ``registry.json`` (the running
server: address, pid) and the blobs under ``storage/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Run as a script or loaded by path: either way its own folder holds server_processes.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_processes import alive, command_line, free_port, run_cli, spawn_until_ready, stop_process

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT / ".state" / "registry"
DEFAULT_PORT = 5055
STATE_FILE = "registry.json"
LOG_FILE = "registry.log"
PASSWORD_VARIABLE = "DAYSTOSELL_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Registry:
    address: str  # host:port, as image references name it
    pid: int
    data_dir: Path
    log_path: Path
    username: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}"


class RegistryServerError(RuntimeError):
    pass


def write_config(data_dir: Path, port: int, username: str | None, password: str | None) -> Path:
    auth = ""
    if username:
        if not password:
            raise RegistryServerError(f"a user needs a password: set {PASSWORD_VARIABLE}")
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            raise RegistryServerError("htpasswd is missing (Debian's apache2-utils): run `make setup`")
        # -i: the password on stdin, not in the process list; -B: bcrypt, the only scheme the registry takes.
        done = subprocess.run([htpasswd, "-iBn", username], input=password, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RegistryServerError(f"htpasswd failed: {done.stderr.strip()}")
        (data_dir / "htpasswd").write_text(done.stdout)
        auth = f"auth:\n  htpasswd:\n    realm: daystosell\n    path: {data_dir / 'htpasswd'}\n"
    config = data_dir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data_dir / 'storage'}\n  delete:\n    enabled: true\n"
        # A fixed secret: the registry otherwise makes one per start and warns about it.
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: daystosell-local-{port}\n"
        + auth
    )
    return config


def answers(address: str, timeout: float = 1.0) -> bool:
    """True once ``GET /v2/`` answers: 200, or 401 when authentication is on."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{address}/v2/", timeout=timeout):
            return True
    except urllib.error.HTTPError as error:
        return error.code == 401
    except (urllib.error.URLError, OSError):
        return False


def _is_our_server(pid: int, data_dir: Path) -> bool:
    return str(data_dir / "config.yml").encode() in command_line(pid)


def start_registry(data_dir: Path, port: int | None = None, *, username: str | None = None,
                   password: str | None = None, timeout: float = 30.0) -> tuple[Registry, subprocess.Popen[bytes]]:
    """Starts the registry in its own process group and returns once it answers."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RegistryServerError("docker-registry is missing (Debian's docker-registry): run `make setup`")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = write_config(data_dir, port, username, password)
    log_path = data_dir / LOG_FILE
    address = f"127.0.0.1:{port}"
    process = spawn_until_ready([binary, "serve", str(config)], log_path, lambda: answers(address, timeout=0.5),
                                name="docker-registry", where=f"http://{address}", error=RegistryServerError,
                                timeout=timeout)
    registry = Registry(address=address, pid=process.pid, data_dir=data_dir, log_path=log_path, username=username)
    state = {"address": registry.address, "pid": registry.pid, "data_dir": str(data_dir),
             "log_path": str(log_path), "username": username}
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return registry, process


def read_registry(data_dir: Path) -> Registry | None:
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return Registry(**{**state, "data_dir": Path(state["data_dir"]), "log_path": Path(state["log_path"])})


def stop_registry(registry: Registry) -> None:
    if alive(registry.pid) and _is_our_server(registry.pid, registry.data_dir):
        stop_process(registry.pid)
    (registry.data_dir / STATE_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def running_registry(data_dir: Path, port: int | None = None, *, username: str | None = None,
                     password: str | None = None) -> Iterator[Registry]:
    """The registry on ``127.0.0.1:port`` (a free port by default) over ``data_dir``, stopped on exit."""
    registry, process = start_registry(Path(data_dir), port, username=username, password=password)
    try:
        yield registry
    finally:
        stop_registry(registry)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def ensure_registry(data_dir: Path = DEFAULT_DATA_DIR, port: int = DEFAULT_PORT) -> Registry:
    """The registry recorded in ``data_dir`` if it still answers, else a new one on ``port``: what
    `make demo` and `make ui` call so the release chain has somewhere to push."""
    existing = read_registry(data_dir)
    if existing and alive(existing.pid) and _is_our_server(existing.pid, existing.data_dir) \
            and answers(existing.address):
        return existing
    registry, _ = start_registry(data_dir, port)
    return registry


def _cli_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.data).resolve()
    existing = read_registry(data_dir)
    if existing and alive(existing.pid) and _is_our_server(existing.pid, data_dir):
        print(f"already running (pid {existing.pid}) on {existing.url}", file=sys.stderr)
        return 1
    registry, _ = start_registry(data_dir, args.port, username=args.user,
                                 password=os.environ.get(PASSWORD_VARIABLE))
    print(json.dumps({"address": registry.address, "pid": registry.pid, "log_path": str(registry.log_path),
                      "username": registry.username}, indent=2))
    return 0


def _cli_ensure(args: argparse.Namespace) -> int:
    registry = ensure_registry(Path(args.data).resolve(), args.port)
    print(f"registry at {registry.address} (pid {registry.pid})")
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    registry = read_registry(Path(args.data).resolve())
    if registry is None:
        print(f"no registry recorded in {args.data}", file=sys.stderr)
        return 1
    stop_registry(registry)
    print(f"stopped pid {registry.pid}")
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    registry = read_registry(Path(args.data).resolve())
    running = registry is not None and alive(registry.pid) and answers(registry.address)
    print(json.dumps({"running": running, **({"address": registry.address, "pid": registry.pid}
                                              if registry else {})}, indent=2))
    return 0 if running else 1


def _port_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=DEFAULT_PORT)


def _start_arguments(command: argparse.ArgumentParser) -> None:
    _port_argument(command)
    command.add_argument("--user", help=f"require this user, password from {PASSWORD_VARIABLE}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, {"start": _cli_start, "ensure": _cli_ensure, "stop": _cli_stop, "status": _cli_status},
                   lambda c: c.add_argument("--data", default=str(DEFAULT_DATA_DIR),
                                            help="data folder (default: .state/registry)"),
                   {"start": _start_arguments, "ensure": _port_argument}, RegistryServerError, argv)

if __name__ == "__main__":
    sys.exit(main())
