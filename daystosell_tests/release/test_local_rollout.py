"""The local rollout on real podman containers and a real nginx: an environment serves the release it
was given, switches to the next one without a failed request, refuses to go back unless asked, stays
as it was when a release cannot start, and leaves the other environment alone.

The tests share one LocalRollout (a state folder of their own, free stable ports) and build on what
the previous one left, but each first puts prod in the state it needs, so any one runs alone.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from daystosell_assets.release import (
    BuiltImage,
    ContainerStartError,
    ContainerTools,
    ImageLabels,
    ToolFailedError,
    build_image,
    push_image,
    remove_image,
)
from daystosell_assets.release.local_rollout import LocalRollout, read_container_spec
from daystosell_assets.release.nginx import ROLLOUT_HEADER
from daystosell_assets.release.rollout import Deployment, Release, Superseded
from daystosell_service.api.scorer import bundle_digest
from daystosell_service.launcher import free_port
from daystosell_tests.conftest import load_script
from daystosell_tests.service.support import MODEL_VERSION, advert, expected_prediction

from .conftest import SOURCE_COMMIT, with_model, write_bundle_folder

pytestmark = pytest.mark.container

log = logging.getLogger("daystosell_tests.release")

V2_MODEL_VERSION = "days-to-sell-test-8"

MANIFESTS = """\
apiVersion: v1
kind: Service
metadata:
  name: daystosell
spec:
  selector:
    app: daystosell
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: daystosell
spec:
  replicas: 2
  selector:
    matchLabels:
      app: daystosell
  template:
    metadata:
      labels:
        app: daystosell
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: service
          image: registry.example/daystosell/service:placeholder
          ports:
            - containerPort: 8080
          env:
            - name: PORT
              value: "8080"
            - name: DAYSTOSELL_ENVIRONMENT
              value: test
          readinessProbe:
            httpGet:
              path: /health/ready
              port: 8080
          livenessProbe:
            httpGet:
              path: /health/live
              port: 8080
          securityContext:
            readOnlyRootFilesystem: true
            runAsUser: 10001
            allowPrivilegeEscalation: false
"""


@dataclass(frozen=True)
class Releases:
    v1: Release
    v2: Release
    broken: Release


def _built(tools: ContainerTools, base_image: str, service_context: Path, folder: Path, tag: str,
           model_version: str, work: Path) -> BuiltImage:
    context = with_model(service_context, folder, work / "context")
    labels = ImageLabels(model_version=model_version, bundle_digest=bundle_digest(folder / "bundle.zip"),
                         source_commit=SOURCE_COMMIT)
    return build_image(context, tag, base_image, labels, tools=tools, logger=log)


@pytest.fixture(scope="module")
def v2_image(tools: ContainerTools, base_image: str, service_context: Path, image_tag_prefix: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    work = tmp_path_factory.mktemp("rollout-v2")
    folder = write_bundle_folder(work / "bundle", model_version=V2_MODEL_VERSION)
    image = _built(tools, base_image, service_context, folder, f"{image_tag_prefix}-rollout-v2", V2_MODEL_VERSION,
                   work)
    yield image
    remove_image(image.tag, tools)


@pytest.fixture(scope="module")
def broken_image(tools: ContainerTools, base_image: str, service_context: Path, image_tag_prefix: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    """An image whose service exits at start: its bundle is not a zip."""
    work = tmp_path_factory.mktemp("rollout-broken")
    folder = write_bundle_folder(work / "bundle", model_version="days-to-sell-test-broken")
    (folder / "bundle.zip").write_bytes(b"this is not a zip")
    image = _built(tools, base_image, service_context, folder, f"{image_tag_prefix}-rollout-broken",
                   "days-to-sell-test-broken", work)
    yield image
    remove_image(image.tag, tools)


@pytest.fixture(scope="module")
def releases(service_image: BuiltImage, image_labels: ImageLabels, v2_image: BuiltImage,
             broken_image: BuiltImage) -> Releases:
    labels_v2 = f"sha256:{v2_image.image_id}"  # any digest: the rollout only carries it
    return Releases(
        v1=Release(image=service_image.tag, model_version=MODEL_VERSION, bundle_digest=image_labels.bundle_digest,
                   sequence=1),
        v2=Release(image=v2_image.tag, model_version=V2_MODEL_VERSION, bundle_digest=labels_v2, sequence=2),
        broken=Release(image=broken_image.tag, model_version="days-to-sell-test-broken",
                       bundle_digest="sha256:" + "0" * 64, sequence=3),
    )


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "rendered.yaml"
    path.write_text(MANIFESTS)
    return path


@pytest.fixture(scope="module")
def rollout(tools: ContainerTools, releases: Releases,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRollout]:
    """Torn down (containers, nginx) before the images of ``releases`` are removed: podman keeps an
    image that a container uses."""
    ports = {"preprod": free_port(), "prod": free_port()}
    while ports["prod"] == ports["preprod"]:
        ports["prod"] = free_port()
    rollout = LocalRollout(state=tmp_path_factory.mktemp("deploy"), stable_ports=ports, tools=tools,
                           tls_verify=False, ready_timeout=60)
    yield rollout
    rollout.teardown(logger=log)
    assert not _labelled(rollout, "prod") and not _labelled(rollout, "preprod")


def _labelled(rollout: LocalRollout, environment: str) -> set[str]:
    return set(rollout._labelled_containers(environment))


def _containers(deployment: Deployment) -> list[str]:
    return deployment.details["containers"].split(", ")


def _served_version(url: str) -> str:
    response = httpx.get(f"{url}/v1/model", timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["model_version"])


def _ensure(rollout: LocalRollout, environment: str, release: Release, manifests: Path) -> Deployment:
    """``environment`` running ``release``, whatever an earlier test left."""
    current = rollout.current(environment)
    if current is not None and current.release == release:
        return current
    return rollout.deploy(environment, release, manifests, allow_older=True, logger=log)


def test_the_manifests_give_replicas_probe_and_security_context(manifests: Path) -> None:
    spec = read_container_spec(manifests)
    assert (spec.replicas, spec.readiness_path, spec.read_only, spec.user) == (2, "/health/ready", True, "10001")
    assert spec.env == (("DAYSTOSELL_ENVIRONMENT", "test"),)  # PORT is the rollout's


def test_deploy_serves_the_release_from_read_only_non_root_containers(
    rollout: LocalRollout, releases: Releases, manifests: Path, tools: ContainerTools
) -> None:
    rollout.teardown("prod", logger=log)
    assert rollout.current("prod") is None
    started = time.monotonic()
    deployment = rollout.deploy("prod", releases.v1, manifests, logger=log)
    log.warning(f"first deploy of prod: {time.monotonic() - started:.1f} s")

    assert deployment.url == rollout.url("prod")
    assert rollout.current("prod") == deployment
    assert _served_version(deployment.url) == MODEL_VERSION
    response = httpx.post(f"{deployment.url}/v1/predictions", json={"adverts": [advert()]}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == MODEL_VERSION
    assert body["predictions"][0]["days_to_sell"] == pytest.approx(expected_prediction(advert()), rel=1e-9)
    assert response.headers[ROLLOUT_HEADER] == deployment.details["rollout"]

    names = _containers(deployment)
    assert len(names) == 2 and all(n.startswith("daystosell-prod-") for n in names)
    for port in deployment.details["ports"].split(", "):
        # On loopback only, though the containers share the host's network.
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                                   check=True).stdout.split()
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening, listening
    assert _labelled(rollout, "prod") == set(names)
    for name in names:
        assert tools.run(tools.podman("inspect", "--format", "{{.State.Status}}", name)).strip() == "running"
        assert tools.run(tools.podman("exec", name, "id", "-u")).strip() == "10001"
        with pytest.raises(ToolFailedError):
            tools.run(tools.podman("exec", name, "sh", "-c", "touch /x"))
        # The Deployment's own variables come along (PORT aside, which is the rollout's).
        env = tools.run(tools.podman("inspect", "--format", "{{json .Config.Env}}", name))
        assert "DAYSTOSELL_ENVIRONMENT=test" in json.loads(env)


def test_a_new_release_replaces_the_old_without_a_failed_request(
    rollout: LocalRollout, releases: Releases, manifests: Path, tools: ContainerTools
) -> None:
    before = _ensure(rollout, "prod", releases.v1, manifests)
    url = before.url
    results: list[tuple[float, int | None, str]] = []  # (time sent, status or None, version or error)
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:  # keep-alive: one connection, reused
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    response = client.post("/v1/predictions", json={"adverts": [advert()]})
                    ok = response.status_code == 200
                    results.append((sent, response.status_code,
                                    response.json()["model_version"] if ok else response.text[:300]))
                except Exception as e:  # every failure is a result to report
                    results.append((sent, None, f"{type(e).__name__}: {e}"))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        time.sleep(1.0)
        deploy_started = time.monotonic()
        after = rollout.deploy("prod", releases.v2, manifests, logger=log)
        deploy_ended = time.monotonic()
        time.sleep(1.0)
    finally:
        stop.set()
        poller.join(timeout=30)

    failures = [r for r in results if r[1] != 200]
    assert not failures, f"{len(failures)} of {len(results)} requests failed, first: {failures[:5]}"
    during = [r for r in results if deploy_started <= r[0] <= deploy_ended]
    log.warning(f"zero-downtime switch: {len(results)} requests, {len(during)} during the "
                f"{deploy_ended - deploy_started:.1f} s deploy, all 200")
    assert len(during) >= 50
    versions = [r[2] for r in results]
    changes = [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v]
    assert changes == [MODEL_VERSION, V2_MODEL_VERSION]  # v1 ... v1, then v2 ... v2, never back

    assert after.release == releases.v2 and rollout.current("prod") == after
    assert set(_containers(after)).isdisjoint(_containers(before))
    assert _labelled(rollout, "prod") == set(_containers(after))  # the old containers are gone
    for name in _containers(before):
        assert tools.run(tools.podman("container", "exists", name), check=False) == ""
    current = json.loads((rollout.state / "prod/current.json").read_text())
    assert current["release"]["model_version"] == V2_MODEL_VERSION
    assert current["containers"] == _containers(after)


def test_an_older_release_is_refused_unless_rolling_back(
    rollout: LocalRollout, releases: Releases, manifests: Path
) -> None:
    newer = _ensure(rollout, "prod", releases.v2, manifests)
    with pytest.raises(Superseded, match="allow_older") as caught:
        rollout.deploy("prod", releases.v1, manifests, logger=log)
    assert caught.value.running == releases.v2 and caught.value.offered == releases.v1
    assert rollout.current("prod") == newer
    assert _labelled(rollout, "prod") == set(_containers(newer))
    assert _served_version(newer.url) == V2_MODEL_VERSION

    rolled_back = rollout.deploy("prod", releases.v1, manifests, allow_older=True, logger=log)
    assert rolled_back.release == releases.v1
    assert _served_version(rolled_back.url) == MODEL_VERSION
    assert _labelled(rollout, "prod") == set(_containers(rolled_back))


def test_the_same_release_again_changes_nothing(rollout: LocalRollout, releases: Releases, manifests: Path) -> None:
    running = _ensure(rollout, "prod", releases.v1, manifests)
    assert rollout.deploy("prod", releases.v1, manifests, logger=log) == running


def test_a_release_that_cannot_start_leaves_the_environment_as_it_was(
    rollout: LocalRollout, releases: Releases, manifests: Path
) -> None:
    running = _ensure(rollout, "prod", releases.v1, manifests)
    started = time.monotonic()
    with pytest.raises(ContainerStartError) as caught:
        rollout.deploy("prod", releases.broken, manifests, logger=log)
    assert time.monotonic() - started < 45  # it saw the container exit; it did not wait out the timeout
    message = str(caught.value)
    assert f"prod still runs model {MODEL_VERSION}" in message
    assert "bundle" in message.split("its logs", 1)[1].lower()  # the service's own reason

    missing = replace_image(releases.v1, "localhost/daystosell/no-such-image:never-built", sequence=4)
    with pytest.raises(ContainerStartError, match="not in local storage and podman could not pull it"):
        rollout.deploy("prod", missing, manifests, logger=log)

    assert rollout.current("prod") == running
    assert _labelled(rollout, "prod") == set(_containers(running))
    assert _served_version(running.url) == MODEL_VERSION


def replace_image(release: Release, image: str, sequence: int) -> Release:
    return Release(image=image, model_version=release.model_version, bundle_digest=release.bundle_digest,
                   sequence=sequence)


def test_environments_are_independent(rollout: LocalRollout, releases: Releases, manifests: Path) -> None:
    prod = _ensure(rollout, "prod", releases.v1, manifests)
    preprod = rollout.deploy("preprod", releases.v2, manifests, logger=log)
    assert preprod.url != prod.url
    assert _served_version(preprod.url) == V2_MODEL_VERSION
    assert _served_version(prod.url) == MODEL_VERSION
    assert rollout.current("prod") == prod
    assert _labelled(rollout, "prod") == set(_containers(prod))
    assert _labelled(rollout, "preprod") == set(_containers(preprod))

    # prod may run an older release than preprod: each environment orders its own releases.
    rollout.teardown("preprod", logger=log)
    assert rollout.current("preprod") is None and not _labelled(rollout, "preprod")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{preprod.url}/v1/model", timeout=5)
    assert _served_version(prod.url) == MODEL_VERSION


def test_concurrent_rollouts_of_one_environment_take_turns(
    rollout: LocalRollout, releases: Releases, manifests: Path
) -> None:
    """v2 and v1 offered at once: whichever goes first, prod ends on v2 with one set of containers, and
    v1 either ran before v2 or was refused as superseded, never switched in after it."""
    outcomes: dict[str, object] = {}

    def deploy(release: Release) -> None:
        try:
            outcomes[release.model_version] = rollout.deploy("prod", release, manifests, logger=log)
        except Exception as e:  # every outcome is checked below
            outcomes[release.model_version] = e

    rollout.teardown("prod", logger=log)  # so that neither is a no-op
    threads = [threading.Thread(target=deploy, args=(r,)) for r in (releases.v2, releases.v1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert isinstance(outcomes[V2_MODEL_VERSION], Deployment), outcomes
    assert isinstance(outcomes[MODEL_VERSION], Deployment | Superseded), outcomes
    current = rollout.current("prod")
    assert current is not None and current.release == releases.v2
    assert _served_version(current.url) == V2_MODEL_VERSION
    assert _labelled(rollout, "prod") == set(_containers(current))


def test_a_fresh_start_clears_what_a_crashed_run_left(
    rollout: LocalRollout, releases: Releases, manifests: Path
) -> None:
    crashed = _ensure(rollout, "prod", releases.v1, manifests)
    # A crash after the containers and nginx started but before current.json: nothing records them.
    (rollout.state / "prod/current.json").unlink()
    fresh = rollout.deploy("prod", releases.v2, manifests, logger=log)
    assert _served_version(fresh.url) == V2_MODEL_VERSION
    assert _labelled(rollout, "prod") == set(_containers(fresh))
    assert set(_containers(fresh)).isdisjoint(_containers(crashed))


def test_a_release_pinned_by_digest_is_pulled_from_its_registry(
    rollout: LocalRollout, releases: Releases, manifests: Path, tools: ContainerTools, tmp_path: Path
) -> None:
    """As in a real release: the image is a registry reference pinned by digest, not in local storage."""
    pinned = ""
    with load_script("registry").running_registry(tmp_path / "registry") as registry:
        try:
            repository = f"{registry.address}/daystosell/service"
            digest = push_image(releases.v2.image, f"docker://{repository}:v2", tls_verify=False, tools=tools)
            pinned = f"{repository}@{digest}"
            assert tools.run(tools.podman("image", "exists", pinned), check=False) == ""
            release = replace_image(releases.v2, pinned, sequence=releases.v2.sequence)
            deployment = rollout.deploy("preprod", release, manifests, allow_older=True, logger=log)
            assert _served_version(deployment.url) == V2_MODEL_VERSION
            for name in _containers(deployment):
                image = tools.run(tools.podman("inspect", "--format", "{{.ImageName}}", name)).strip()
                assert image == pinned
        finally:
            rollout.teardown("preprod", logger=log)
            if pinned:
                tools.run(tools.podman("rmi", "--no-prune", pinned), check=False)
