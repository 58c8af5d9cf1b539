"""The release chain on real parts: a bundle materialisation, the sensor, the ``release`` job (buildah build,
podman golden test, push to Debian's docker-registry with credentials, kustomize-rendered manifests, the local
rollout of pre-production and production behind nginx) and what happens when a step fails.

The bundles are real MLeap bundles (the service tests' days-to-sell pipeline, another intercept per model);
their golden rows are the Python runtime's predictions. ``daystosell_tests/e2e`` runs the chain on a bundle
Spark made.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dagster import RunRequest

from daystosell_assets.release import ContainerTools
from daystosell_assets.release.registry import RegistryError, RegistryTarget, publish
from daystosell_tests.release.chain import (
    USER,
    Chain,
    check_results,
    materialised,
    metadata_of,
    open_chain,
    registry_script,
)
from daystosell_tests.service.support import advert

pytestmark = pytest.mark.container

@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, base_image: str, tools: ContainerTools) -> Iterator[Chain]:
    with open_chain(tmp_path_factory.mktemp("chain"), base_image, tools) as chain:
        yield chain


def test_a_new_bundle_reaches_production_through_every_step(chain: Chain) -> None:
    digest = chain.land("chain-1", intercept=4.0)
    [request] = chain.tick()
    assert request.run_key == digest

    result = chain.release(request)

    assert result.success
    assert materialised(result) == {"service_image", "published_image", "preprod_deployment", "prod_deployment"}
    assert check_results(result) == {"golden_test": True, "preprod_smoke_test": True, "prod_smoke_test": True}
    published = result.asset_value("published_image")
    assert published.release.image == chain.target.pinned(chain.registry_digest("chain-1") or "none")
    assert chain.serving("preprod") == chain.serving("prod") == "chain-1"
    prod = chain.rollout.current("prod")
    assert prod is not None and prod.release.image == published.release.image
    manifests = Path(str(metadata_of(result, "prod_deployment")["manifests"].value)).read_text()
    assert f"image: {published.release.image}" in manifests and "daystosell-prod" in manifests
    image_metadata = metadata_of(result, "service_image")
    assert image_metadata["size_mb"].value > 0 and "in /models/current/" in str(image_metadata["layers"].value)


def test_the_next_bundle_replaces_production_with_no_failed_request(chain: Chain) -> None:
    before = chain.serving("prod")
    chain.land("chain-2", intercept=9.0)
    [request] = chain.tick()
    seen: list[tuple[int, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{chain.ports['prod']}", timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.post("/v1/predictions", json={"adverts": [advert()]})
                    seen.append((response.status_code, response.json().get("model_version", "")))
                except (httpx.HTTPError, ValueError) as error:
                    failures.append(f"{type(error).__name__}: {error}")

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = chain.release(request)
    finally:
        stop.set()
        poller.join(timeout=30)

    assert result.success
    assert failures == []
    assert len(seen) > 50
    assert {status for status, _ in seen} == {200}
    versions = [version for _, version in seen]
    switch = versions.index("chain-2")
    assert set(versions[:switch]) == {before} and set(versions[switch:]) == {"chain-2"}
    assert chain.serving("prod") == chain.serving("preprod") == "chain-2"


def test_the_sensor_evaluated_again_requests_no_second_build(chain: Chain) -> None:
    digest = chain.land("chain-3", intercept=5.5)
    cursor = chain.cursor
    [first] = chain.tick()
    assert chain.tick() == []  # the same materialisation, evaluated again from the saved cursor
    chain.cursor = cursor
    [again] = chain.tick()  # a restarted daemon that lost its cursor asks again, under the same run key
    assert first.run_key == again.run_key == digest
    # The same bundle re-materialised (a retrain that changed nothing): same content, same run key.
    assert chain.land("chain-3", intercept=5.5) == digest
    assert [r.run_key for r in chain.tick()] == [digest]


def test_an_image_failing_its_golden_rows_is_never_pushed_and_production_is_untouched(chain: Chain) -> None:
    before, containers = chain.serving("prod"), chain.containers("prod")
    chain.land("chain-bad", intercept=6.0, break_golden=True)
    [request] = chain.tick()

    result = chain.release(request)

    assert not result.success
    assert check_results(result) == {"golden_test": False}
    assert materialised(result) == {"service_image"}
    assert chain.registry_digest("chain-bad") is None
    assert chain.serving("prod") == before and chain.containers("prod") == containers


def test_a_registry_that_is_down_fails_the_run_clearly_and_a_retry_succeeds(chain: Chain) -> None:
    before = chain.serving("prod")
    chain.land("chain-4", intercept=7.0)
    [request] = chain.tick()
    port = int(chain.registry.address.rsplit(":", 1)[1])
    registry_script.stop_registry(chain.registry)

    failed = chain.release(request)

    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "published_image"
    message = failure.event_specific_data.error.to_string()  # with its cause, as the UI shows it
    assert "not reachable" in message and "scripts/registry.py start" in message
    assert chain.serving("prod") == before

    chain.registry, _ = registry_script.start_registry(chain.tmp / "registry", port, username=USER,
                                                       password=chain.password)
    retried = chain.release(request)
    assert retried.success
    assert chain.serving("prod") == "chain-4"


def test_of_two_bundles_in_quick_succession_the_newer_wins(chain: Chain) -> None:
    chain.land("chain-5", intercept=3.0)
    older = RunRequest(run_key="older", run_config={"ops": {"service_image": {"config": {"model_version": "chain-5"}}}})
    chain.land("chain-6", intercept=8.0)
    requests = chain.tick()
    assert [r.tags["daystosell/model_version"] for r in requests] == ["chain-6"]  # the sensor sees the newest

    newer = chain.release(requests[0])
    late = chain.release(older)  # the older bundle's run, had it been requested first, finishing last

    assert newer.success and late.success
    assert materialised(late) == {"service_image", "published_image"}  # it stopped before any environment
    assert chain.serving("preprod") == chain.serving("prod") == "chain-6"


def test_a_rollback_is_a_deliberate_run_of_an_older_version(chain: Chain) -> None:
    current = chain.serving("prod")
    older = chain.versions[0]
    config = {"ops": {"service_image": {"config": {"model_version": older, "allow_older": True}}}}

    result = chain.release(RunRequest(run_key=f"rollback-{older}", run_config=config))

    assert result.success and current != older
    assert chain.serving("prod") == chain.serving("preprod") == older


def test_a_push_without_credentials_is_refused_naming_the_variables(chain: Chain, tools: ContainerTools,
                                                                      base_image: str) -> None:
    anonymous = RegistryTarget(chain.registry.address, "daystosell/service", tls_verify=False)
    with pytest.raises(RegistryError, match="DAYSTOSELL_REGISTRY_USERNAME"):
        publish(base_image, anonymous, "anonymous", tools=tools, logger=logging.getLogger(__name__))
    assert chain.registry_digest("anonymous") is None
