"""A real PostgreSQL server on loopback for the production instance's tests and local use: Debian's
``postgresql`` (installed by scripts/setup.sh), run from its own binaries on a cluster of our own, never the
system's.

    python scripts/postgres.py start [--port 5455] [--data DIR] [--user NAME] [--db NAME]  # detached; JSON
    python scripts/postgres.py status [--data DIR]                                        # exit 0 when ready
    python scripts/postgres.py stop [--data DIR]

The password is read from ``DAGSTER_PG_PASSWORD`` when a cluster is created (a random one otherwise) and kept
in ``DIR/password`` (mode 600): a later start of the same folder reuses the cluster, its data and that
password. ``start`` prints the ``DAGSTER_PG_*`` variables deploy/dagster/dagster.yaml reads.

From Python::

    with running_postgres(tmp_path / "pg") as pg:
        os.environ.update(pg.dagster_env())

The data folder holds the cluster (``cluster/``), the server's unix socket (``socket/``, so it never touches
/var/run/postgresql), a self-signed TLS certificate (``server.crt``/``server.key``: clients may require TLS, as
against a managed PostgreSQL), ``postgres.log`` and ``postgres.json`` (the running server: port, user, pid).

PostgreSQL refuses to run as root: as root, initdb and the server run as Debian's ``postgres`` system user,
the data folder is handed to it and its parent folders are made searchable (not readable) by others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Run as a script or loaded by path: either way its own folder holds server_processes.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_processes import alive, command_line, free_port, run_cli, spawn_until_ready

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT / ".state" / "postgres"
# Not 5432: a system cluster may already listen there.
DEFAULT_PORT = 5455
DEFAULT_USER = "dagster"
DEFAULT_DB = "dagster"
HOST = "127.0.0.1"
PASSWORD_VARIABLE = "DAGSTER_PG_PASSWORD"
SYSTEM_USER = "postgres"  # created by Debian's postgresql-common
DEBIAN_ROOT = Path("/usr/lib/postgresql")
STATE_FILE = "postgres.json"
LOG_FILE = "postgres.log"
PASSWORD_FILE = "password"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db_name: str
    password: str
    pid: int  # the postmaster's, from postmaster.pid
    data_dir: Path
    log_path: Path

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.db_name}"

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster/dagster.yaml reads its connection from."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db_name}


class PostgresServerError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest Debian PostgreSQL's binaries (initdb and postgres are not on PATH there), else PATH's."""
    versions = [p for p in DEBIAN_ROOT.glob("*/bin") if (p / "initdb").exists() and p.parent.name.isdigit()]
    if versions:
        return max(versions, key=lambda p: int(p.parent.name))
    initdb = shutil.which("initdb")
    if initdb is None:
        raise PostgresServerError(f"no PostgreSQL server binaries (initdb) in {DEBIAN_ROOT}/*/bin or on PATH: "
                                  "install Debian's postgresql (`make setup`, or apt-get install postgresql)")
    return Path(initdb).resolve().parent


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgresServerError(f"running as root, PostgreSQL needs the {SYSTEM_USER!r} system user, which "
                                  "Debian's postgresql package creates: install postgresql (`make setup`)") from None


def _command(*args: str | Path) -> list[str]:
    """``args`` run as the postgres system user when we are root (the server refuses root), else as we are."""
    command = [str(a) for a in args]
    if not _as_root():
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresServerError("running as root needs runuser (util-linux) to drop to the postgres user")
    return [runuser, "-u", SYSTEM_USER, "--", *command]


def _hand_over(data_dir: Path) -> None:
    """As root: gives ``data_dir`` to the postgres user and lets it reach it. Folders such as pytest's
    /tmp/pytest-of-root are 700; they get search permission for others (o+x: names can be followed, not
    listed), the least that lets another user reach a folder inside."""
    if not _as_root():
        return
    user = _system_user()
    for folder in reversed(data_dir.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
    for path in [data_dir, *data_dir.rglob("*")]:
        if not path.is_symlink() and path.lstat().st_uid != user.pw_uid:
            os.chown(path, user.pw_uid, user.pw_gid)


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise PostgresServerError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _password(data_dir: Path, password: str | None) -> str:
    """The cluster's password: the stored one for an existing cluster, else ``password`` or a random one."""
    stored = data_dir / PASSWORD_FILE
    if stored.exists():
        existing = stored.read_text().strip()
        if password and password != existing:
            raise PostgresServerError(f"the cluster in {data_dir} has another password (see {stored})")
        return existing
    chosen = password or secrets.token_urlsafe(24)
    stored.touch(mode=0o600)
    stored.write_text(chosen + "\n")
    return chosen


def init_cluster(data_dir: Path, user: str, password: str) -> None:
    """initdb with ``user`` as the superuser; every connection, socket or TCP, needs the password."""
    cluster = data_dir / "cluster"
    if (cluster / "PG_VERSION").exists():
        return
    # initdb reads the password from a file: never on a command line, where ps would show it.
    pwfile = data_dir / "initdb.pw"
    pwfile.touch(mode=0o600)
    pwfile.write_text(password + "\n")
    _hand_over(data_dir)
    try:
        _run(_command(bin_dir() / "initdb", "-D", cluster, "-U", user, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions"),
             "initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def ensure_certificate(data_dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made once: the server speaks TLS as a managed PostgreSQL does,
    so a client configured with ``sslmode=require`` (deploy/dagster/dagster.yaml) connects here unchanged."""
    cert, key = data_dir / "server.crt", data_dir / "server.key"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise PostgresServerError("openssl is missing (Debian's openssl, a dependency of postgresql): run `make setup`")
    _run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", f"/CN={HOST}",
          "-keyout", str(key), "-out", str(cert)], "openssl req")
    # The server refuses a key others can read.
    key.chmod(0o600)
    return cert, key


def _postmaster_pid(cluster: Path) -> int | None:
    """The server's pid from the first line of postmaster.pid (the launching runuser is only its parent)."""
    try:
        return int((cluster / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int, cluster: Path) -> bool:
    """Guards against a recycled pid: the process must be a postgres run on this cluster."""
    cmdline = command_line(pid)
    return bool(cmdline) and cmdline[0].endswith(b"postgres") and str(cluster).encode() in cmdline


def is_ready(port: int, timeout: int = 1) -> bool:
    done = subprocess.run([str(bin_dir() / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", str(timeout)],
                          check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode == 0


def _psql(pg: Postgres, database: str, sql: str) -> str:
    return _run([str(bin_dir() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", pg.host,
                 "-p", str(pg.port), "-U", pg.user, "-d", database, "-c", sql],
                f"psql {sql!r}", env={"PGPASSWORD": pg.password})


def ensure_database(pg: Postgres) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", pg.db_name):
        raise PostgresServerError(f"not a plain database name: {pg.db_name!r}")
    exists = _psql(pg, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{pg.db_name}'").strip()
    if not exists:
        _psql(pg, "postgres", f'CREATE DATABASE "{pg.db_name}"')


def _server_command(data_dir: Path, port: int) -> list[str]:
    cert, key = data_dir / "server.crt", data_dir / "server.key"
    return _command(
        bin_dir() / "postgres", "-D", data_dir / "cluster",
        # Loopback only, and the unix socket inside the data folder rather than Debian's /var/run/postgresql.
        "-c", f"listen_addresses={HOST}", "-c", f"port={port}",
        "-c", f"unix_socket_directories={data_dir / 'socket'}",
        "-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}",
        # A commit returns before its WAL reaches the disk: a crash may lose the last moments, never corrupts
        # the cluster, and Dagster's many small event writes stop queueing behind fsync on a shared disk.
        "-c", "synchronous_commit=off",
        "-c", "shared_buffers=64MB", "-c", "max_connections=100")


def start_postgres(data_dir: Path, port: int | None = None, *, user: str = DEFAULT_USER,
                   db_name: str = DEFAULT_DB, password: str | None = None,
                   timeout: float = 60.0) -> tuple[Postgres, subprocess.Popen[bytes]]:
    """Starts PostgreSQL over ``data_dir`` (creating the cluster and the database unless they exist) in its
    own process group and returns once it accepts connections."""
    bin_dir()  # before any folder is made: fails naming the Debian package to install
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    cluster, socket_dir = data_dir / "cluster", data_dir / "socket"
    running = _postmaster_pid(cluster)
    if running and alive(running) and _is_our_server(running, cluster):
        raise PostgresServerError(f"a server already runs on {cluster} (pid {running}): stop it first")
    password = _password(data_dir, password)
    init_cluster(data_dir, user, password)
    socket_dir.mkdir(exist_ok=True)
    ensure_certificate(data_dir)
    log_path = data_dir / LOG_FILE
    log_path.touch()
    _hand_over(data_dir)
    port = port or free_port()
    process = spawn_until_ready(_server_command(data_dir, port), log_path, lambda: is_ready(port), name="PostgreSQL",
                                where=f"{HOST}:{port}", error=PostgresServerError, timeout=timeout,
                                on_timeout=lambda _pid: _stop_cluster(cluster))
    pid = _postmaster_pid(cluster)
    if pid is None:
        raise PostgresServerError(f"PostgreSQL answers on {HOST}:{port} but {cluster}/postmaster.pid is unreadable")
    pg = Postgres(host=HOST, port=port, user=user, db_name=db_name, password=password, pid=pid,
                  data_dir=data_dir, log_path=log_path)
    try:
        ensure_database(pg)
    except PostgresServerError:
        _stop_cluster(cluster)  # not left running behind an error nobody will stop it after
        raise
    # The password stays in its own 600 file, not in the state file.
    state = {"host": pg.host, "port": pg.port, "user": pg.user, "db_name": pg.db_name, "pid": pg.pid,
             "data_dir": str(data_dir), "log_path": str(log_path)}
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return pg, process


def read_postgres(data_dir: Path) -> Postgres | None:
    """The server recorded in ``data_dir``, if its state file is there (it may have died since)."""
    data_dir = Path(data_dir).resolve()
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        password = (data_dir / PASSWORD_FILE).read_text().strip()
    except (OSError, ValueError):
        return None
    return Postgres(**{**state, "password": password, "data_dir": Path(state["data_dir"]),
                       "log_path": Path(state["log_path"])})


def _stop_cluster(cluster: Path, timeout: float = 30.0) -> None:
    """Stops the postmaster of ``cluster``: pg_ctl's fast shutdown (clients disconnected, a clean
    checkpoint), the same SIGINT sent directly if pg_ctl could not, then SIGQUIT (immediate) if it still
    runs. Only ever a pid that is this cluster's postgres."""
    pid = _postmaster_pid(cluster)
    if pid is None or not alive(pid) or not _is_our_server(pid, cluster):
        return
    deadline = time.monotonic() + timeout
    done = subprocess.run(_command(bin_dir() / "pg_ctl", "stop", "-D", cluster, "-m", "fast", "-w",
                                   "-t", str(int(timeout))),
                          check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=cluster.parent)
    if done.returncode != 0:
        # Kept where the server's own messages are, for whoever wonders why the shutdown was not pg_ctl's.
        with open(cluster.parent / LOG_FILE, "a") as log:
            log.write(f"scripts/postgres.py: pg_ctl stop exited with {done.returncode}: "
                      f"{(done.stderr or done.stdout).strip()}\n")
        _signal_if_ours(pid, cluster, signal.SIGINT)
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_if_ours(pid, cluster, signal.SIGQUIT)


def _signal_if_ours(pid: int, cluster: Path, sig: signal.Signals) -> None:
    if alive(pid) and _is_our_server(pid, cluster):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_postgres(pg: Postgres) -> None:
    _stop_cluster(pg.cluster_dir)
    (pg.data_dir / STATE_FILE).unlink(missing_ok=True)


def server_running(pg: Postgres) -> bool:
    pid = _postmaster_pid(pg.cluster_dir)
    return pid is not None and alive(pid) and _is_our_server(pid, pg.cluster_dir) and is_ready(pg.port)


@contextlib.contextmanager
def running_postgres(data_dir: Path, port: int | None = None, *, user: str = DEFAULT_USER,
                     db_name: str = DEFAULT_DB, password: str | None = None) -> Iterator[Postgres]:
    """PostgreSQL on ``127.0.0.1:port`` (a free port by default) over ``data_dir``, stopped on exit."""
    pg, process = start_postgres(Path(data_dir), port, user=user, db_name=db_name, password=password)
    try:
        yield pg
    finally:
        stop_postgres(pg)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def _cli_start(args: argparse.Namespace) -> int:
    pg, _ = start_postgres(Path(args.data), args.port, user=args.user, db_name=args.db,
                           password=os.environ.get(PASSWORD_VARIABLE))
    env = {k: v for k, v in pg.dagster_env().items() if k != PASSWORD_VARIABLE}
    print(json.dumps({"pid": pg.pid, "log_path": str(pg.log_path),
                      "password_file": str(pg.data_dir / PASSWORD_FILE), "env": env}, indent=2))
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    pg = read_postgres(Path(args.data))
    if pg is None:
        print(f"no server recorded in {args.data}", file=sys.stderr)
        return 1
    stop_postgres(pg)
    print(f"stopped pid {pg.pid}")
    return 0


def _cli_status(args: argparse.Namespace) -> int:
    pg = read_postgres(Path(args.data))
    running = pg is not None and server_running(pg)
    print(json.dumps({"running": running, **({"host": pg.host, "port": pg.port, "pid": pg.pid} if pg else {})},
                     indent=2))
    return 0 if running else 1


def _start_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=DEFAULT_PORT)
    command.add_argument("--user", default=DEFAULT_USER, help="the cluster's superuser")
    command.add_argument("--db", default=DEFAULT_DB, help="the database to create")


def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, {"start": _cli_start, "stop": _cli_stop, "status": _cli_status},
                   lambda c: c.add_argument("--data", default=str(DEFAULT_DATA_DIR),
                                            help="data folder (default: .state/postgres)"),
                   {"start": _start_arguments}, PostgresServerError, argv)

if __name__ == "__main__":
    sys.exit(main())
