"""Runs the service image with podman: for as long as a ``with`` block needs it (``run_container``),
or as pieces a rollout composes (``start_container``, ``wait_ready``, ``stop_containers``), since
a rollout's containers must outlive the call that started them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

from daystosell_assets.release.errors import ContainerStartError, ToolFailedError
from daystosell_assets.release.tools import ContainerTools, LineLog
from daystosell_service.launcher import free_port

log = logging.getLogger(__name__)

READY_PATH = "/health/ready"
# What `podman inspect` says of a container that may still come up; anything else has stopped.
_STARTING_STATES = ("running", "created", "configured", "initialized")


@contextmanager
def run_container(image: str, port: int | None = None, *, tools: ContainerTools | None = None,
                  ready_timeout: float = 90.0, env: Mapping[str, str] | None = None,
                  flags: Sequence[str] = (), logger: LineLog = log) -> Iterator[str]:
    """Starts ``image`` detached (``flags`` go to ``podman run``), waits until ``GET /health/ready``
    answers 200 and yields the base URL (``http://127.0.0.1:PORT``). The container is removed on
    exit, whatever happened."""
    tools = tools or ContainerTools.from_env()
    # The container shares the host's network (see ContainerTools.network): the port must be free there.
    port = port or free_port()
    name = f"daystosell-{uuid.uuid4().hex[:12]}"
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        start_container(image, name, port, tools=tools, env=env, flags=flags)
        logger.info(f"container {name} from {image}: waiting for {url}{READY_PATH}")
        wait_ready(tools, name, url, ready_timeout)
        logger.info(f"container {name} ready in {time.monotonic() - started:.1f} s at {url}")
        yield url
    finally:
        remove_containers(tools, [name])


def start_container(image: str, name: str, port: int, *, tools: ContainerTools,
                    env: Mapping[str, str] | None = None, flags: Sequence[str] = (),
                    args: Sequence[str] = ()) -> None:
    """``podman run --detach`` of ``image`` as ``name``, listening on ``port`` (its ``PORT``
    variable). ``flags`` go to podman (``--read-only``, ``--user``, ``--label``), ``args`` to the
    image's entrypoint. Returns once podman has started it, not once it is ready."""
    variables = {"PORT": str(port), **(env or {})}
    env_flags = [flag for k, v in variables.items() for flag in ("--env", f"{k}={v}")]
    try:
        tools.run(tools.podman_run("--detach", "--name", name, *env_flags, *flags, image, *args))
    except ToolFailedError as e:
        raise ContainerStartError(f"podman could not start {image}: {e}") from e


def wait_ready(tools: ContainerTools, name: str, url: str, timeout: float, path: str = READY_PATH) -> None:
    """Returns once ``url + path`` answers 200 while container ``name`` runs; raises
    ``ContainerStartError`` with the container's logs as soon as it stops, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(path)
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as e:
                response, last = None, f"{type(e).__name__}: {e}"
            # Checked after the probe too: with the host's network, a 200 could come from another
            # process on that port while our container died failing to bind it.
            state = container_state(tools, name)
            if state not in _STARTING_STATES:
                raise ContainerStartError(
                    f"container {name} stopped ({state or 'gone'}) before {path} answered 200 "
                    f"(last: {last}); its logs:\n" + container_logs(tools, name)
                )
            if response is not None and response.status_code == 200 and state == "running":
                return
            time.sleep(0.25)
    raise ContainerStartError(
        f"{url}{path} did not answer 200 within {timeout:.0f} s (last: {last}); "
        f"container {name} logs:\n"
        + container_logs(tools, name)
    )


def container_state(tools: ContainerTools, name: str) -> str:
    """``running``, ``exited``, ...; empty when there is no such container."""
    return tools.run(tools.podman("inspect", "--format", "{{.State.Status}}", name), check=False).strip()


def container_logs(tools: ContainerTools, name: str, tail: int = 60) -> str:
    out = tools.run(tools.podman("logs", "--tail", str(tail), name), check=False, merge_stderr=True)
    return out.strip() or "(no output)"


def stop_containers(tools: ContainerTools, names: Sequence[str], *, timeout: int = 10) -> None:
    """Stops ``names`` gracefully (SIGTERM: the service finishes its requests in flight; SIGKILL
    after ``timeout`` seconds), all at once, then removes them. Names already gone are no error."""
    if names:
        tools.run(tools.podman("stop", "--ignore", "--time", str(timeout), *names), check=False,
                  timeout=timeout + 60)
        remove_containers(tools, names, check=True)


def remove_containers(tools: ContainerTools, names: Sequence[str], *, check: bool = False) -> None:
    """Removes ``names`` at once, stopping them with a short grace period if they still run."""
    if names:
        tools.run(tools.podman("rm", "--force", "--ignore", "--time", "5", *names), check=check)


def run_once(image: str, command: Sequence[str], *, entrypoint: str | None = None,
             tools: ContainerTools | None = None) -> str:
    """Runs a one-off command in ``image`` (e.g. ``id -u`` with ``entrypoint="id"``) and returns stdout."""
    tools = tools or ContainerTools.from_env()
    flags = ["--rm", *(["--entrypoint", entrypoint] if entrypoint else [])]
    return tools.run(tools.podman_run(*flags, image, *command))
