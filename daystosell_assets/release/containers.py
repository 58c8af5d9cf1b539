"""Runs the service image with podman for as long as a ``with`` block needs it."""

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


@contextmanager
def run_container(image: str, port: int | None = None, *, tools: ContainerTools | None = None,
                  ready_timeout: float = 90.0, env: Mapping[str, str] | None = None,
                  logger: LineLog = log) -> Iterator[str]:
    """Starts ``image`` detached, waits until ``GET /health/ready`` answers 200 and yields the base
    URL (``http://127.0.0.1:PORT``). The container is removed on exit, whatever happened."""
    tools = tools or ContainerTools.from_env()
    # The container shares the host's network (see ContainerTools.network): the port must be free there.
    port = port or free_port()
    name = f"daystosell-{uuid.uuid4().hex[:12]}"
    variables = {"PORT": str(port), **(env or {})}
    env_flags = [flag for k, v in variables.items() for flag in ("--env", f"{k}={v}")]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        try:
            tools.run(tools.podman_run("--detach", "--name", name, *env_flags, image))
        except ToolFailedError as e:
            raise ContainerStartError(f"podman could not start {image}: {e}") from e
        logger.info(f"container {name} from {image}: waiting for {url}{READY_PATH}")
        _wait_ready(tools, name, url, ready_timeout)
        logger.info(f"container {name} ready in {time.monotonic() - started:.1f} s at {url}")
        yield url
    finally:
        tools.run(tools.podman("rm", "--force", "--time", "5", name), check=False)


def _wait_ready(tools: ContainerTools, name: str, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(READY_PATH)
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as e:
                response, last = None, f"{type(e).__name__}: {e}"
            # Checked after the probe too: with the host's network, a 200 could come from another
            # process on that port while our container died failing to bind it.
            inspect = tools.podman("inspect", "--format", "{{.State.Status}}", name)
            state = tools.run(inspect, check=False).strip()
            if state not in ("running", "created", "configured", "initialized"):
                raise ContainerStartError(
                    f"container {name} stopped ({state or 'gone'}) before {READY_PATH} answered 200 "
                    f"(last: {last}); its logs:\n" + container_logs(tools, name)
                )
            if response is not None and response.status_code == 200 and state == "running":
                return
            time.sleep(0.25)
    raise ContainerStartError(
        f"{url}{READY_PATH} did not answer 200 within {timeout:.0f} s (last: {last}); "
        f"container {name} logs:\n"
        + container_logs(tools, name)
    )


def container_logs(tools: ContainerTools, name: str, tail: int = 60) -> str:
    out = tools.run(tools.podman("logs", "--tail", str(tail), name), check=False, merge_stderr=True)
    return out.strip() or "(no output)"


def run_once(image: str, command: Sequence[str], *, entrypoint: str | None = None,
             tools: ContainerTools | None = None) -> str:
    """Runs a one-off command in ``image`` (e.g. ``id -u`` with ``entrypoint="id"``) and returns stdout."""
    tools = tools or ContainerTools.from_env()
    flags = ["--rm", *(["--entrypoint", entrypoint] if entrypoint else [])]
    return tools.run(tools.podman_run(*flags, image, *command))
