"""Kubernetes' rolling update, played locally: each environment is podman containers of the service
image on loopback ports behind an nginx on a stable port.

A rollout starts the new containers and waits until every one is ready, points nginx at them with a
graceful reload (old workers finish their requests in flight, new workers take new connections),
checks that the stable port now serves the new release, and only then stops the old containers.
A client polling the stable port throughout sees only answers, never a refused connection or a 502.

Two nginx per environment, because a reload closes every idle keep-alive connection of the old
workers at once: a client whose next request is already on its way then gets the connection reset
(with one nginx, 2 requests failed over 10 rollouts under four busy keep-alive clients). So the
*edge* nginx owns the stable port and its clients' connections and is never reloaded by a rollout;
it forwards to the *router* nginx, which a rollout reloads. A request the router drops that way
failed on a kept-alive upstream connection, which nginx retries on a new one without counting it
as a try: the client never notices.

State, per environment under the state folder (``.state/deploy`` by default)::

    <env>.lock             flock'ed for the whole of a rollout or teardown
    <env>/current.json     the running Release, its containers and their ports
    <env>/nginx/edge/      nginx.conf, nginx.pid, error.log, temp/ of the edge nginx
    <env>/nginx/router/    the same for the router nginx, and ``port``: where the edge finds it

The containers and the nginx outlive the Python process on purpose: they are the deployment.
``teardown`` stops them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from daystosell_assets.release.build_context import REPO_ROOT
from daystosell_assets.release.containers import (
    READY_PATH,
    container_state,
    remove_containers,
    start_container,
    stop_containers,
    wait_ready,
)
from daystosell_assets.release.errors import ContainerStartError, ReleaseError, ToolFailedError
from daystosell_assets.release.nginx import (
    ROLLOUT_HEADER,
    Nginx,
    edge_config,
    router_config,
    stop_nginx,
    tail,
    write_atomic,
)
from daystosell_assets.release.rollout import Deployment, Release, Superseded
from daystosell_assets.release.tools import ContainerTools, LineLog
from daystosell_service.launcher import free_port

log = logging.getLogger(__name__)

DEFAULT_STATE = REPO_ROOT / ".state/deploy"
DEFAULT_STABLE_PORTS: Mapping[str, int] = {"preprod": 18080, "prod": 18081}
# One label (podman ORs repeated label filters) naming the environment and the state folder: two
# state folders (the demo's and a test's) may both have a "prod" on this machine.
ROLLOUT_LABEL = "io.daystosell.rollout"
# Consecutive answers, each on a fresh connection, that must come from the new rollout before the
# old containers may go: a fresh connection may still land on a worker of the old config for a moment.
SWITCH_CONFIRMATIONS = 10


class RolloutError(ReleaseError):
    """A rollout that could not complete; the environment still runs what it ran before."""


@dataclass(frozen=True)
class ContainerSpec:
    """What a local rollout takes from the rendered Deployment; defaults where a field is absent."""

    replicas: int = 1
    readiness_path: str = READY_PATH
    read_only: bool = False
    user: str | None = None  # "uid" or "uid:gid"
    env: tuple[tuple[str, str], ...] = ()

    def podman_flags(self) -> list[str]:
        flags = ["--read-only"] if self.read_only else []
        if self.user:
            flags += ["--user", self.user]
        return flags + [flag for k, v in self.env for flag in ("--env", f"{k}={v}")]


def read_container_spec(manifests: Path) -> ContainerSpec:
    """The first Deployment in ``manifests`` (multi-document YAML, as ``kustomize build`` writes it):
    replicas, its first container's readiness probe path, security context and literal env."""
    try:
        documents = [d for d in yaml.safe_load_all(manifests.read_text()) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError) as e:
        raise RolloutError(f"cannot read the rendered manifests {manifests}: {e}") from e
    deployment = next((d for d in documents if d.get("kind") == "Deployment"), None)
    if deployment is None:
        kinds = ", ".join(str(d.get("kind")) for d in documents) or "nothing"
        raise RolloutError(f"{manifests} has no Deployment (it has {kinds}): is it the rendered overlay?")
    spec = _mapping(deployment.get("spec"))
    pod = _mapping(_mapping(spec.get("template")).get("spec"))
    containers = pod.get("containers") or [{}]
    container = _mapping(containers[0])
    replicas = int(spec.get("replicas", 1))
    if replicas < 1:
        raise RolloutError(f"{manifests}: replicas is {replicas}; a local rollout needs at least one")
    probe = _mapping(_mapping(container.get("readinessProbe")).get("httpGet"))
    # A container's securityContext overrides its pod's, as in Kubernetes.
    security = {**_mapping(pod.get("securityContext")), **_mapping(container.get("securityContext"))}
    uid, gid = security.get("runAsUser"), security.get("runAsGroup")
    user = None if uid is None else (f"{uid}:{gid}" if gid is not None else str(uid))
    # Literal values only (valueFrom needs a cluster); PORT is the rollout's to choose.
    env = tuple((str(e["name"]), str(e["value"])) for e in container.get("env") or []
                if isinstance(e, dict) and "name" in e and "value" in e and e["name"] != "PORT")
    return ContainerSpec(replicas=replicas, readiness_path=str(probe.get("path") or READY_PATH),
                         read_only=bool(security.get("readOnlyRootFilesystem", False)), user=user, env=env)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Running:
    """An environment's current.json: what its stable port serves."""

    release: Release
    containers: tuple[str, ...]
    ports: tuple[int, ...]
    stable_port: int
    rollout_id: str
    deployed_at: str

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release.to_json(), "containers": list(self.containers), "ports": list(self.ports),
                "stable_port": self.stable_port, "rollout_id": self.rollout_id, "deployed_at": self.deployed_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Running:
        return cls(release=Release.from_json(data["release"]), containers=tuple(data["containers"]),
                   ports=tuple(int(p) for p in data["ports"]), stable_port=int(data["stable_port"]),
                   rollout_id=str(data["rollout_id"]), deployed_at=str(data["deployed_at"]))


@dataclass(frozen=True)
class LocalRollout:
    """``Rollout`` on this machine: podman containers behind an nginx per environment."""

    state: Path = DEFAULT_STATE
    stable_ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_STABLE_PORTS))
    tools: ContainerTools = field(default_factory=ContainerTools.from_env)
    tls_verify: bool = True  # for pulls; False only for a registry on this machine's loopback
    ready_timeout: float = 90.0  # per new container
    switch_timeout: float = 30.0  # for the stable port to serve the new release after the reload
    stop_timeout: int = 10  # seconds an old container gets to finish its requests before SIGKILL

    # -- Rollout protocol -------------------------------------------------------------------------

    def current(self, environment: str) -> Deployment | None:
        running = self._read_running(environment)
        return None if running is None else self._deployment(environment, running)

    def deploy(self, environment: str, release: Release, manifests: Path, *, allow_older: bool = False,
               logger: LineLog = log) -> Deployment:
        stable = self.stable_port(environment)
        with self._locked(environment):
            running = self._read_running(environment)
            if running and running.release.sequence > release.sequence and not allow_older:
                raise Superseded(environment, running.release, release)
            if running and running.release == release and self._still_serving(environment, running):
                logger.info(f"{environment} already runs model {release.model_version} ({release.image}) "
                            f"in {', '.join(running.containers)}: nothing to do")
                return self._deployment(environment, running)
            spec = read_container_spec(manifests)
            logger.info(f"{environment}: rolling out model {release.model_version} ({release.image}), "
                        f"sequence {release.sequence}, {spec.replicas} replica(s), behind 127.0.0.1:{stable}")
            self._clean_leftovers(environment, running, logger)
            with _timed(logger, f"{environment}: image {release.image} in local storage"):
                self._ensure_image(release.image, logger)
            rollout_id = secrets.token_hex(4)
            with _timed(logger, f"{environment}: {spec.replicas} new container(s) ready"):
                names, ports = self._start_replicas(environment, release, spec, rollout_id, running, logger)
            ready_at = time.monotonic()
            try:
                self._switch(environment, stable, rollout_id, ports, release, fresh=running is None, logger=logger)
            except BaseException:
                remove_containers(self.tools, names)
                raise
            switched_at = time.monotonic()
            new = Running(release=release, containers=tuple(names), ports=tuple(ports), stable_port=stable,
                          rollout_id=rollout_id, deployed_at=datetime.now(UTC).isoformat(timespec="seconds"))
            # Recorded before the old containers stop: from the switch on, the new ones are what serves,
            # and an old container that fails to stop is then a leftover the next rollout removes.
            write_atomic(self._current_file(environment), json.dumps(new.to_json(), indent=2) + "\n")
            if running:
                with _timed(logger, f"{environment}: old container(s) {', '.join(running.containers)} stopped"):
                    stop_containers(self.tools, running.containers, timeout=self.stop_timeout)
            stopped_at = time.monotonic()
            old = f"old stopped {stopped_at - switched_at:.2f} s" if running else "no old containers"
            logger.info(f"{environment}: switch timings: new ready -> nginx serving them "
                        f"{switched_at - ready_at:.2f} s -> {old}; "
                        f"{environment} serves model {release.model_version} at {self.url(environment)}")
            return self._deployment(environment, new)

    # -- beyond the protocol ----------------------------------------------------------------------

    def teardown(self, environment: str | None = None, *, logger: LineLog = log) -> None:
        """Stops ``environment``'s nginx and removes its containers (every environment's when None),
        leftovers of a crashed rollout included."""
        for env in [environment] if environment else self._known_environments():
            with self._locked(env):
                self._stop_nginx(env, logger)
                names = self._labelled_containers(env)
                if names:
                    logger.info(f"{env}: removing container(s) {', '.join(names)}")
                    stop_containers(self.tools, names, timeout=self.stop_timeout)
                self._current_file(env).unlink(missing_ok=True)

    def stable_port(self, environment: str) -> int:
        try:
            return self.stable_ports[environment]
        except KeyError:
            raise ValueError(f"unknown environment {environment!r}: expected one of "
                             f"{', '.join(self.stable_ports)}") from None

    def url(self, environment: str) -> str:
        return f"http://127.0.0.1:{self.stable_port(environment)}"

    # -- state ------------------------------------------------------------------------------------

    def _env_dir(self, environment: str) -> Path:
        return self.state / environment

    def _current_file(self, environment: str) -> Path:
        return self._env_dir(environment) / "current.json"

    def _edge(self, environment: str) -> Nginx:
        return Nginx(self._env_dir(environment) / "nginx/edge")

    def _router(self, environment: str) -> Nginx:
        return Nginx(self._env_dir(environment) / "nginx/router")

    @contextmanager
    def _locked(self, environment: str) -> Iterator[None]:
        """One rollout or teardown per environment at a time, across processes (Dagster runs each
        step in its own): the Superseded check and the switch must not interleave with another's."""
        self.stable_port(environment)  # an unknown environment is an error, not a new folder
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.state / f"{environment}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_running(self, environment: str) -> Running | None:
        path = self._current_file(environment)
        try:
            return Running.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as e:
            raise RolloutError(f"{path} is unreadable ({e}); `teardown('{environment}')` starts afresh") from e

    def _deployment(self, environment: str, running: Running) -> Deployment:
        return Deployment(environment=environment, release=running.release,
                          url=f"http://127.0.0.1:{running.stable_port}",
                          details={"containers": ", ".join(running.containers),
                                   "ports": ", ".join(str(p) for p in running.ports),
                                   "rollout": running.rollout_id, "deployed_at": running.deployed_at})

    def _known_environments(self) -> list[str]:
        return list(self.stable_ports)

    def _still_serving(self, environment: str, running: Running) -> bool:
        return (running.stable_port == self.stable_port(environment)
                and self._edge(environment).pid() is not None and self._router(environment).pid() is not None
                and all(container_state(self.tools, name) == "running" for name in running.containers))

    # -- containers -------------------------------------------------------------------------------

    def _label(self, environment: str) -> str:
        return f"{ROLLOUT_LABEL}={environment}@{self.state.resolve()}"

    def _labelled_containers(self, environment: str) -> list[str]:
        out = self.tools.run(self.tools.podman("ps", "--all", "--filter", f"label={self._label(environment)}",
                                               "--format", "{{.Names}}"))
        return out.split()

    def _clean_leftovers(self, environment: str, running: Running | None, logger: LineLog) -> None:
        """Containers and nginx of a rollout that crashed half-way: nothing current.json lists."""
        keep = set(running.containers) if running else set()
        leftovers = [n for n in self._labelled_containers(environment) if n not in keep]
        if leftovers:
            logger.info(f"{environment}: removing leftover container(s) {', '.join(leftovers)}")
            remove_containers(self.tools, leftovers)
        if running is None:
            self._stop_nginx(environment, logger)  # an nginx without a current.json serves nothing known

    def _ensure_image(self, image: str, logger: LineLog) -> None:
        try:
            self.tools.run(self.tools.podman("image", "exists", image))
            return
        except ToolFailedError:
            pass
        cmd = self.tools.podman("pull", f"--tls-verify={str(self.tls_verify).lower()}", image)
        rc, tail = self.tools.stream(cmd, logger, prefix="pull | ")
        if rc != 0:
            raise ContainerStartError(f"{image} is not in local storage and podman could not pull it "
                                      f"(exit {rc}):\n" + "\n".join(tail))

    def _start_replicas(self, environment: str, release: Release, spec: ContainerSpec, rollout_id: str,
                        running: Running | None, logger: LineLog) -> tuple[list[str], list[int]]:
        """Starts every replica at once (each loads the model: in parallel the wait is one load's),
        then waits for each. On any failure removes them all and raises; the old ones stay."""
        names = [f"daystosell-{environment}-{rollout_id}-{i}" for i in range(spec.replicas)]
        ports = _free_ports(spec.replicas)
        # The service binds all interfaces by default; with the host's network that is the host's.
        args = ["--host", "127.0.0.1"]
        flags = ["--label", self._label(environment), *spec.podman_flags()]
        try:
            for name, port in zip(names, ports, strict=True):
                start_container(release.image, name, port, tools=self.tools, flags=flags, args=args)
                logger.info(f"{environment}: started {name} on 127.0.0.1:{port}")
            for name, port in zip(names, ports, strict=True):
                wait_ready(self.tools, name, f"http://127.0.0.1:{port}", self.ready_timeout, spec.readiness_path)
        except ContainerStartError as e:
            remove_containers(self.tools, names)
            before = (f"still runs model {running.release.model_version} in {', '.join(running.containers)}"
                      if running else "runs nothing, as before")
            raise ContainerStartError(f"{environment}: model {release.model_version} ({release.image}) did not "
                                      f"start, so {environment} {before}. {e}") from e
        except BaseException:
            remove_containers(self.tools, names)
            raise
        return names, ports

    # -- nginx ------------------------------------------------------------------------------------

    def _switch(self, environment: str, stable: int, rollout_id: str, ports: Sequence[int], release: Release,
                *, fresh: bool, logger: LineLog) -> None:
        """Points the router at ``ports`` (the edge at the router, on a first rollout) and returns once
        the stable port answers from them; on failure puts the router's previous config back, so the
        old containers keep serving."""
        edge, router = self._edge(environment), self._router(environment)
        previous = None if fresh or not router.conf.exists() else router.conf.read_text()
        router_port = self._router_port(environment)
        try:
            with _timed(logger, f"{environment}: nginx on 127.0.0.1:{stable} switched to ports "
                                f"{', '.join(map(str, ports))}"):
                router.apply(router_config(router.folder, router_port, ports, rollout_id))
                edge.ensure(edge_config(edge.folder, stable, router_port))
                self._await_switch(environment, stable, rollout_id, release)
        except BaseException:
            if previous is not None:
                router.write(previous)
                if router.pid() is not None:
                    router.run("-s", "reload")
            else:
                self._stop_nginx(environment, logger)
            raise

    def _router_port(self, environment: str) -> int:
        """The router's port stays while either nginx runs (the edge's config names it), else a new one."""
        file = self._router(environment).folder / "port"
        if file.exists() and (self._edge(environment).pid() or self._router(environment).pid()):
            return int(file.read_text())
        port = free_port()
        write_atomic(file, f"{port}\n")
        return port

    def _await_switch(self, environment: str, stable: int, rollout_id: str, release: Release) -> None:
        url = f"http://127.0.0.1:{stable}/v1/model"
        deadline = time.monotonic() + self.switch_timeout
        confirmed, last = 0, "no answer yet"
        # No keep-alive: each check is a new connection, which any edge worker may take.
        with httpx.Client(timeout=5.0, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while confirmed < SWITCH_CONFIRMATIONS:
                if time.monotonic() > deadline:
                    raise RolloutError(
                        f"{url} did not serve model {release.model_version} from rollout {rollout_id} within "
                        f"{self.switch_timeout:.0f} s (last: {last}); the edge nginx's log:\n"
                        + tail(self._edge(environment).folder / "error.log") + "\nthe router's:\n"
                        + tail(self._router(environment).folder / "error.log")
                    )
                try:
                    response = client.get(url)
                    served = response.json().get("model_version") if response.status_code == 200 else None
                    rollout = response.headers.get(ROLLOUT_HEADER)
                    last = f"HTTP {response.status_code}, rollout {rollout}, model {served}"
                    ok = rollout == rollout_id and served == release.model_version
                except (httpx.HTTPError, ValueError) as e:
                    ok, last = False, f"{type(e).__name__}: {e}"
                confirmed = confirmed + 1 if ok else 0
                if not ok:
                    time.sleep(0.05)

    def _stop_nginx(self, environment: str, logger: LineLog) -> None:
        """The edge first: it stops taking connections before the router behind it goes."""
        for nginx in (self._edge(environment), self._router(environment)):
            pid = nginx.pid()
            if pid is not None:
                logger.info(f"{environment}: stopping nginx {nginx.folder.name} (pid {pid})")
                stop_nginx(pid)
            nginx.pid_file.unlink(missing_ok=True)


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@contextmanager
def _timed(logger: LineLog, what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    logger.info(f"{what} in {time.monotonic() - started:.2f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m daystosell_assets.release.local_rollout status|stop``: what the local environments
    run, or stop them (`make stop`)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=("status", "stop"))
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE)
    args = parser.parse_args(argv)
    rollout = LocalRollout(state=args.state)
    if args.command == "stop":
        rollout.teardown()
        print(f"stopped the environments of {args.state}")
        return 0
    for environment in ("preprod", "prod"):
        current = rollout.current(environment)
        print(f"{environment}: " + (f"model {current.release.model_version} at {current.url} ({current.release.image})"
                                    if current else "not deployed"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
