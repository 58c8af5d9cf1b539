"""One place that knows how buildah, podman and skopeo must be called on our machines.

No Docker engine here: buildah builds and podman runs, rootful, with runc (crun fails here). The
three tools only see each other's images when they agree on the storage driver and its folders, so
every command line is built by ``ContainerTools``; ``deploy/containers/base-image.sh`` applies the
same defaults and reads the same environment variables (DAYSTOSELL_STORAGE_DRIVER, _ROOT, _RUNROOT).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from daystosell_assets.release.errors import ToolFailedError, ToolMissingError

# Debian's (and so python:3.11-slim's) CA bundle path, on the host and in the image alike.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class LineLog(Protocol):
    """Where tool output goes: a ``logging.Logger`` and Dagster's ``context.log`` both qualify."""

    def info(self, msg: str) -> None: ...


def default_storage_driver() -> str:
    """overlay where the kernel has it: with vfs, buildah 1.28 copies the whole rootfs for every
    Containerfile step, cached or not, and deletes the copies after (a service build took 285 s on
    vfs, 23 s on overlay; a fully cached one 139 s against 1 s)."""
    try:
        return "overlay" if "overlay" in Path("/proc/filesystems").read_text().split() else "vfs"
    except OSError:
        return "vfs"


@dataclass(frozen=True)
class ContainerTools:
    # Our own store, one per driver: podman refuses a store that was first used with another
    # driver, and the default store may be anyone's.
    storage_driver: str = "vfs"
    graph_root: str = "/var/lib/containers/daystosell-vfs"
    run_root: str = "/run/containers/daystosell-vfs"
    isolation: str = "chroot"  # buildah RUN steps: no user namespaces or cgroups needed
    runtime: str = "runc"
    cgroup_manager: str = "cgroupfs"  # no systemd in our containers or CI
    network: str = "host"  # podman's bridge networking needs netavark/iptables we do not have
    # podman's defaults copy the host's limits, which runc rejects when they exceed the hard limit.
    ulimits: tuple[str, ...] = ("nofile=1024:1024", "nproc=1024:1024")
    # The host's CA bundle, bind-mounted (read-only, never committed) over the image's during RUN
    # steps: where egress to PyPI passes a TLS-inspecting proxy, only the host trusts its CA.
    build_ca_bundle: str | None = None
    # Registry credentials for push and pull (containers-auth.json, 0600, outside the image): every
    # tool reads REGISTRY_AUTH_FILE, so none needs the secret on its command line.
    auth_file: str | None = None

    @classmethod
    def from_env(cls) -> ContainerTools:
        """Defaults overridden by the variables deploy/containers/base-image.sh reads too."""
        env = os.environ
        ca = env.get("DAYSTOSELL_BUILD_CA_BUNDLE", HOST_CA_BUNDLE)
        driver = env.get("DAYSTOSELL_STORAGE_DRIVER") or default_storage_driver()
        return cls(
            storage_driver=driver,
            graph_root=env.get("DAYSTOSELL_STORAGE_ROOT", f"/var/lib/containers/daystosell-{driver}"),
            run_root=env.get("DAYSTOSELL_STORAGE_RUNROOT", f"/run/containers/daystosell-{driver}"),
            isolation=env.get("DAYSTOSELL_BUILDAH_ISOLATION", cls.isolation),
            build_ca_bundle=ca if ca and Path(ca).is_file() else None,
        )

    def _storage(self) -> list[str]:
        return ["--storage-driver", self.storage_driver,
                "--root", self.graph_root, "--runroot", self.run_root]

    def buildah(self, *args: str) -> list[str]:
        return ["buildah", *self._storage(), *args]

    def buildah_bud(self, *args: str) -> list[str]:
        mounts = ["--volume", f"{self.build_ca_bundle}:{HOST_CA_BUNDLE}:ro"] if self.build_ca_bundle else []
        return self.buildah("bud", "--isolation", self.isolation, *mounts, *args)

    def podman(self, *args: str) -> list[str]:
        return [
            "podman", *self._storage(),
            "--runtime", self.runtime, "--cgroup-manager", self.cgroup_manager, *args,
        ]

    def podman_run(self, *args: str) -> list[str]:
        """``podman run`` with the network and limits every container here needs."""
        limits = [flag for limit in self.ulimits for flag in ("--ulimit", limit)]
        return self.podman("run", "--network", self.network, *limits, *args)

    def skopeo(self, *args: str) -> list[str]:
        return ["skopeo", *args]

    def storage_ref(self, image: str) -> str:
        """skopeo's name for an image in our store: it has no --storage-driver flag, and without
        the driver in the reference it opens the default (overlay) store."""
        return f"containers-storage:[{self.storage_driver}@{self.graph_root}+{self.run_root}]{image}"

    def env(self) -> dict[str, str]:
        """The environment for deploy/containers/base-image.sh, so it uses this same store."""
        return {
            **os.environ,
            "DAYSTOSELL_STORAGE_DRIVER": self.storage_driver,
            "DAYSTOSELL_STORAGE_ROOT": self.graph_root,
            "DAYSTOSELL_STORAGE_RUNROOT": self.run_root,
            "DAYSTOSELL_BUILDAH_ISOLATION": self.isolation,
            **({"REGISTRY_AUTH_FILE": self.auth_file} if self.auth_file else {}),
        }

    def require(self, *tools: str) -> None:
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            raise ToolMissingError(
                f"{', '.join(missing)} not found on PATH: run scripts/setup.sh, which installs "
                "buildah, podman, skopeo, runc and debootstrap from Debian"
            )

    def run(self, cmd: Sequence[str], *, timeout: float | None = 300, check: bool = True,
            merge_stderr: bool = False) -> str:
        """Runs a short command and returns its stdout (with stderr interleaved if ``merge_stderr``,
        e.g. for a container's logs); on failure raises with its stderr."""
        self.require(cmd[0])
        proc = subprocess.run(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True, timeout=timeout, check=False, env=self.env(),
        )
        if check and proc.returncode != 0:
            why = (proc.stderr or "").strip() or proc.stdout.strip()
            raise ToolFailedError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{why}")
        return proc.stdout

    def stream(self, cmd: Sequence[str], log: LineLog, *, prefix: str = "",
               keep: int = 40) -> tuple[int, list[str]]:
        """Runs a long command, sending each output line to ``log`` as it comes (a build can take
        minutes; a silent log looks hung). Returns the exit code and the last ``keep`` lines."""
        self.require(cmd[0])
        tail: deque[str] = deque(maxlen=keep)
        with subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=self.env(),
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip()
                if line:
                    tail.append(line)
                    log.info(f"{prefix}{line}")
            rc = proc.wait()
        return rc, list(tail)
