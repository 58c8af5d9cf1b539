"""The service image running under podman: ready, serving the bundle, and reproducing the golden
predictions over HTTP (and caught when it does not)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import httpx
import pytest

from daystosell_assets.release import (
    BuiltImage,
    ContainerStartError,
    ContainerTools,
    ImageLabels,
    build_image,
    golden_test,
    push_image,
    remove_image,
    run_container,
)
from daystosell_service.golden import GOLDEN_FILE, read_golden
from daystosell_service.launcher import free_port
from daystosell_tests.conftest import load_script
from daystosell_tests.service.support import MODEL_VERSION

from .conftest import perturbed, with_model

pytestmark = pytest.mark.container

log = logging.getLogger("daystosell_tests.release")


def test_ready_reports_the_bundled_model(service_url: str, image_labels: ImageLabels) -> None:
    ready = httpx.get(f"{service_url}/health/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model_version": MODEL_VERSION,
                            "bundle_digest": image_labels.bundle_digest}


def test_golden_rows_come_back_with_the_golden_predictions(service_url: str, release_bundle_dir: Path) -> None:
    golden = read_golden(release_bundle_dir / GOLDEN_FILE)
    report = golden_test(service_url, golden, batch_size=100)  # several batches
    log.warning(report.summary())
    assert report.passed, report.summary()
    assert report.rows == len(golden) > 200
    assert report.max_rel_error <= 1e-9
    assert report.model_version == MODEL_VERSION


def test_perturbed_golden_predictions_fail_and_are_listed(service_url: str, release_bundle_dir: Path) -> None:
    golden, changed = perturbed(read_golden(release_bundle_dir / GOLDEN_FILE), every=37)
    report = golden_test(service_url, golden)
    assert not report.passed
    assert [f.index for f in report.mismatches] == changed
    assert all(9e-7 < f.rel_error < 1.1e-6 for f in report.mismatches)
    summary = report.summary()
    assert f"{len(changed)} failures" in summary and "row 0: expected" in summary


def test_port_comes_from_the_port_variable(tools: ContainerTools, service_image: BuiltImage) -> None:
    port = free_port()
    with run_container(service_image.tag, port, tools=tools) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200


def test_the_container_is_removed_after_use_even_on_error(tools: ContainerTools,
                                                         service_image: BuiltImage) -> None:
    def containers() -> set[str]:
        listed = tools.run(tools.podman("ps", "--all", "--filter", f"ancestor={service_image.tag}",
                                        "--format", "{{.Names}}"))
        return set(listed.split())

    before = containers()  # the session's own service container may be among them
    with pytest.raises(RuntimeError, match="boom"), run_container(service_image.tag, tools=tools):
        assert len(containers() - before) == 1
        raise RuntimeError("boom")
    assert containers() == before


def test_a_service_that_cannot_start_fails_fast_with_its_logs(
    tools: ContainerTools, base_image: str, release_bundle_dir: Path, service_context: Path,
    image_labels: ImageLabels, image_tag_prefix: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(release_bundle_dir, broken)
    (broken / "bundle.zip").write_bytes(b"this is not a zip")
    context = with_model(service_context, broken, tmp_path / "context")
    image = build_image(context, f"{image_tag_prefix}-broken", base_image, image_labels, tools=tools)
    try:
        started = time.monotonic()
        with pytest.raises(ContainerStartError) as caught, run_container(image.tag, tools=tools,
                                                                         ready_timeout=60):
            pass
        assert time.monotonic() - started < 30  # it noticed the exit; it did not wait out the timeout
        message = str(caught.value)
        assert "stopped" in message and "its logs" in message
        assert "bundle" in message.split("its logs", 1)[1].lower()  # the service's own error is in there
    finally:
        remove_image(image.tag, tools)


def test_push_to_a_registry_on_loopback(tools: ContainerTools, service_image: BuiltImage, tmp_path: Path) -> None:
    with load_script("registry").running_registry(tmp_path / "registry") as registry:
        destination = f"docker://{registry.address}/daystosell/service:test"
        digest = push_image(service_image.tag, destination, tls_verify=False, tools=tools)
        assert digest.startswith("sha256:")
        remote = tools.run(tools.skopeo("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                        destination))
        assert remote.strip() == digest
