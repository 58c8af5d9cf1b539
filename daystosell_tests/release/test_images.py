"""The service image as built: what is in it, in which layer, and who it runs as."""

from __future__ import annotations

import json
import logging
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from daystosell_assets.release import (
    BaseImageMissingError,
    BuildContextError,
    BuiltImage,
    ContainerTools,
    ImageLabels,
    build_image,
    image_labels,
    image_layers,
    last_layer_paths,
    prepare_build_context,
    remove_image,
    run_once,
    service_requirements,
)
from daystosell_assets.release.build_context import REPO_ROOT
from daystosell_assets.release.containers import remove_containers, start_container, wait_ready
from daystosell_service.launcher import free_port
from daystosell_tests.service.support import MODEL_VERSION

from .conftest import SOURCE_COMMIT, with_model, write_bundle_folder

pytestmark = pytest.mark.container

log = logging.getLogger("daystosell_tests.release")

MODEL_FILES = ["/models/current/bundle.zip", "/models/current/golden.jsonl", "/models/current/model.json"]


def test_base_image_script_is_a_no_op_when_the_image_is_current(tools: ContainerTools, base_image: str) -> None:
    started = time.monotonic()
    done = subprocess.run(["bash", str(REPO_ROOT / "deploy/containers/base-image.sh")], env=tools.env(),
                          capture_output=True, text=True, check=True)
    assert "is up to date" in done.stderr, done.stderr
    assert time.monotonic() - started < 10
    assert not (REPO_ROOT / ".state/images/base/rootfs.tar").exists()  # removed after a build, to save disk


def test_build_context_holds_only_what_the_image_needs(release_bundle_dir: Path, tmp_path: Path) -> None:
    context = prepare_build_context(release_bundle_dir, tmp_path / "context")
    top = sorted(p.name for p in context.iterdir())
    assert top == ["Containerfile", "daystosell_service", "model", "requirements.txt"]
    assert sorted(p.name for p in (context / "model").iterdir()) == ["bundle.zip", "golden.jsonl", "model.json"]
    assert not list(context.rglob("__pycache__"))
    assert (context / "daystosell_service/__main__.py").is_file()
    # The runtime's C kernels are built into the context (a shared library), never taken from the checkout.
    library = context / "daystosell_service/mleap/_kernels.so"
    assert library.read_bytes()[:4] == b"\x7fELF"
    assert not list(context.rglob("*.partial"))
    requirements = [line for line in (context / "requirements.txt").read_text().splitlines()
                    if not line.startswith("#")]
    assert requirements == service_requirements(REPO_ROOT / "pyproject.toml")
    assert all("==" in r for r in requirements)  # pinned: the dependency layer is reproducible
    assert not any(r.startswith(("pyspark", "dagster")) for r in requirements)


def test_build_context_names_what_a_bundle_folder_lacks(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "bundle.zip").write_bytes(b"")
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(BuildContextError, match=r"lacks golden\.jsonl, model\.json \(there is a manifest\.json"):
        prepare_build_context(folder, tmp_path / "context")


def test_build_refuses_a_missing_local_base_image_and_says_how_to_make_it(
    tools: ContainerTools, release_bundle_dir: Path, image_labels: ImageLabels, tmp_path: Path
) -> None:
    context = prepare_build_context(release_bundle_dir, tmp_path / "context")
    with pytest.raises(BaseImageMissingError, match=r"scripts/setup\.sh.*base-image\.sh"):
        build_image(context, "localhost/daystosell/never-built:x", "localhost/daystosell/no-such-base:1",
                    image_labels, tools=tools)


def test_the_model_is_the_last_layer_and_alone_in_it(tools: ContainerTools, service_image: BuiltImage) -> None:
    assert last_layer_paths(service_image.tag, tools) == ["/models", "/models/current", *MODEL_FILES]
    layers = image_layers(service_image.tag, tools)
    # base, requirements.txt, dependencies (venv + pip + user), service code, model
    assert len(layers) == 5, layers
    assert "requirements.txt" in layers[1].created_by
    assert "pip install" in layers[2].created_by
    assert "/app/daystosell_service/" in layers[3].created_by
    assert "COPY" in layers[4].created_by and "/models/current/" in layers[4].created_by
    log.warning("layers (MB): " + ", ".join(f"{layer.size_bytes / 1e6:.1f}" for layer in layers))


def test_labels_say_which_model_bundle_and_commit(tools: ContainerTools, service_image: BuiltImage,
                                                  image_labels: ImageLabels, base_image: str) -> None:
    labels = image_labels_of(tools, service_image)
    assert labels["org.opencontainers.image.revision"] == SOURCE_COMMIT
    assert labels["org.opencontainers.image.version"] == MODEL_VERSION
    assert labels["io.daystosell.model.version"] == MODEL_VERSION
    assert labels["io.daystosell.model.bundle-digest"] == image_labels.bundle_digest
    assert labels["io.daystosell.model.bundle-digest"].startswith("sha256:")
    assert labels["org.opencontainers.image.base.name"] == base_image
    assert labels["org.opencontainers.image.created"] == image_labels.created


def image_labels_of(tools: ContainerTools, image: BuiltImage) -> dict[str, str]:
    return image_labels(image.tag, tools)


def test_runs_as_a_non_root_user_with_no_compiler_and_no_jvm(tools: ContainerTools,
                                                             service_image: BuiltImage) -> None:
    assert run_once(service_image.tag, ["-u"], entrypoint="id", tools=tools).strip() == "10001"
    found = run_once(service_image.tag, ["-c", "command -v gcc cc c++ java javac make || true"],
                     entrypoint="/bin/sh", tools=tools)
    assert found.strip() == ""
    config = json.loads(tools.run(tools.podman("image", "inspect", service_image.tag)))[0]["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"][:2] == ["/bin/sh", "-c"]
    assert "--bundle /models/current/bundle.zip" in config["Entrypoint"][2]


def test_image_size_stays_small(service_image: BuiltImage) -> None:
    log.warning(f"service image size: {service_image.size_bytes / 1e6:.0f} MB")
    assert service_image.size_bytes < 400e6


def test_a_new_model_rebuilds_only_the_model_layer(
    tools: ContainerTools, service_image: BuiltImage, service_context: Path, base_image: str,
    image_tag_prefix: str, tmp_path: Path
) -> None:
    folder = write_bundle_folder(tmp_path / "bundle-2", model_version="days-to-sell-test-8")
    context = with_model(service_context, folder, tmp_path / "context")
    labels = ImageLabels(model_version="days-to-sell-test-8", bundle_digest="sha256:" + "0" * 64,
                         source_commit="fedcba")
    second = build_image(context, f"{image_tag_prefix}-b", base_image, labels, tools=tools)
    try:
        log.warning(f"rebuild with a new model: {second.seconds:.1f} s")
        first_layers = image_layers(service_image.tag, tools)
        second_layers = image_layers(second.tag, tools)
        assert [lay.digest for lay in second_layers[:-1]] == [lay.digest for lay in first_layers[:-1]]
        assert second_layers[-1].digest != first_layers[-1].digest
        assert image_labels(second.tag, tools)["org.opencontainers.image.revision"] == "fedcba"
    finally:
        remove_image(second.tag, tools)


def test_the_health_check_passes_once_the_model_serves_and_fails_where_nothing_does(
        tools: ContainerTools, service_image: BuiltImage) -> None:
    config = json.loads(tools.run(tools.podman("image", "inspect", service_image.tag)))[0]
    check = config.get("Healthcheck") or config["Config"]["Healthcheck"]
    assert check["Test"][-2:] == ["-m", "daystosell_service.healthcheck"]
    name, port = f"daystosell-health-{uuid.uuid4().hex[:8]}", free_port()
    start_container(service_image.tag, name, port, tools=tools, flags=["--read-only"])
    try:
        wait_ready(tools, name, f"http://127.0.0.1:{port}", 60)
        healthy = subprocess.run(tools.podman("healthcheck", "run", name), capture_output=True, text=True,
                                 env=tools.env(), check=False)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        elsewhere = subprocess.run(
            tools.podman("exec", "--env", f"PORT={free_port()}", name,
                         "python", "-m", "daystosell_service.healthcheck"),
            capture_output=True, text=True, env=tools.env(), check=False)
        assert elsewhere.returncode == 1 and "Connection refused" in elsewhere.stderr
    finally:
        remove_containers(tools, [name])
