"""The nginx pair in front of each local environment (see ``local_rollout``): the *edge* owns the stable
port and its clients' keep-alive connections and is never reloaded by a rollout; the *router* behind it
points at the current containers and is reloaded gracefully to switch them. Every file of an nginx
(config, pid, logs, temp) lives in its own folder, so any number of environments coexist.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from daystosell_assets.release.errors import ReleaseError

# nginx stamps every answer with the rollout whose config produced it: the proof that every worker
# has switched, even when the new release serves the same model version as the old one.
ROLLOUT_HEADER = "X-Daystosell-Rollout"


class NginxError(ReleaseError):
    pass


def _preamble(folder: Path, what: str) -> str:
    """What both nginx share: daemon, files under ``folder`` only, access log off."""
    # Workers as whoever runs the rollout (root here): nginx would drop to nobody, who cannot reach
    # temp/ when the state folder sits in a private directory (pytest's tmp_path). Loopback only.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temp = folder / "temp"
    return f"""# {what}: written by daystosell_assets.release.local_rollout, rewritten by rollouts.
daemon on;
worker_processes 2;
{user}
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {temp / "client_body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    client_max_body_size 32m;
    client_body_buffer_size 1m;
"""


_PROXY = """            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;"""


def edge_config(folder: Path, stable: int, router_port: int) -> str:
    """The stable port, forwarding to the router over kept-alive connections. A request that fails
    on one (the router's old workers closing it at a reload) is retried on a new one: predictions
    have no side effects, so POSTs too (``non_idempotent``)."""
    return _preamble(folder, f"edge on 127.0.0.1:{stable}") + f"""
    upstream router {{
        server 127.0.0.1:{router_port};
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{stable};
        location / {{
            proxy_pass http://router;
{_PROXY}
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout non_idempotent;
            proxy_next_upstream_timeout 30s;
        }}
    }}
}}
"""


def router_config(folder: Path, port: int, ports: Sequence[int], rollout_id: str) -> str:
    """The router on ``port``, spreading requests over the containers on ``ports``."""
    upstreams = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    return _preamble(folder, f"router on 127.0.0.1:{port}, rollout {rollout_id}") + f"""
    upstream daystosell {{
{upstreams}
        keepalive 32;
        # Below uvicorn's 5 s keep-alive, so nginx drops an idle connection before the service does.
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://daystosell;
{_PROXY}
            # A request whose replica refused it or answered 502/503 goes to another replica.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            add_header {ROLLOUT_HEADER} {rollout_id} always;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    """One nginx master whose every file is under ``folder``."""

    folder: Path

    @property
    def conf(self) -> Path:
        return self.folder / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.folder / "nginx.pid"

    def pid(self) -> int | None:
        """The pid file's process if it is an nginx master; a stale pid file (a crashed nginx, a
        reused pid) counts as none."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_nginx_master(pid) else None

    def write(self, config: str) -> None:
        (self.folder / "temp").mkdir(parents=True, exist_ok=True)
        write_atomic(self.conf, config)

    def apply(self, config: str) -> None:
        """Writes ``config`` and starts nginx on it, or checks it and reloads gracefully."""
        self.write(config)
        if self.pid() is None:
            self.run()
        else:
            self.run("-t")
            self.run("-s", "reload")

    def ensure(self, config: str) -> None:
        """Like ``apply``, but leaves a running nginx alone when its config is already ``config``."""
        if self.pid() is None or not self.conf.exists() or self.conf.read_text() != config:
            self.apply(config)

    def run(self, *args: str) -> None:
        """``nginx -p FOLDER -c FOLDER/nginx.conf ARGS``; without ARGS it starts and daemonizes.
        ``-e`` so that nothing goes to the compiled-in error log before the config is read."""
        cmd = [_nginx_binary(), "-p", str(self.folder), "-c", str(self.conf), "-e",
               str(self.folder / "error.log"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0:
            raise NginxError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{proc.stderr.strip()}\n"
                               "nginx's log:\n" + tail(self.folder / "error.log"))


def _nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _is_nginx_master(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return cmdline.startswith(b"nginx: master process") and state != "Z"


def stop_nginx(pid: int) -> None:
    """SIGQUIT (nginx's graceful stop: requests in flight finish), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _is_nginx_master(pid):
                return
            time.sleep(0.05)
    raise NginxError(f"nginx (pid {pid}) did not stop")


def write_atomic(path: Path, text: str) -> None:
    """Readers (``current``, nginx) see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"
    except OSError:
        return "(none)"
