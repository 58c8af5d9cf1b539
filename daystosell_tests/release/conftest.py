"""Fixtures for the release step, on real buildah and podman: the base image, a service image built
from a test bundle, and that image running.

The bundle is the service tests' days-to-sell pipeline (``daystosell_tests.service.support``); its
golden rows are the Python runtime's predictions, standing in for Spark's, which the lead's
pipeline writes in the real flow (and ``daystosell_tests/e2e`` checks).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from daystosell_assets.release import (
    BuiltImage,
    ContainerTools,
    ImageLabels,
    build_image,
    ensure_base_image,
    prepare_build_context,
    remove_image,
    run_container,
)
from daystosell_service.api.scorer import bundle_digest
from daystosell_service.golden import GOLDEN_FILE, GoldenRow, write_golden
from daystosell_service.mleap import load_bundle
from daystosell_tests.service.support import (
    INTERCEPT,
    LABELS,
    MODEL_VERSION,
    advert,
    days_to_sell_pipeline,
    write_bundle,
)

pytestmark = pytest.mark.container

log = logging.getLogger("daystosell_tests.release")

SOURCE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("DAYSTOSELL_SKIP_IMAGES") == "1":
        skip = pytest.mark.skip(reason="DAYSTOSELL_SKIP_IMAGES=1: no container images on this machine")
        for item in items:
            if item.get_closest_marker("container") is not None:
                item.add_marker(skip)


def golden_adverts() -> list[dict[str, Any]]:
    """Every known make with varied numbers, plus categories the pipeline never saw."""
    rows = []
    for i in range(240):
        pick = {c: values[i % len(values)] for c, values in LABELS.items()}
        rows.append(advert(advert_id=f"golden-{i}", **pick, registration_year=2005 + i % 18,
                           listing_year=2023, mileage=1_000.0 + 997.3 * i,
                           asking_price=2_500.0 + 83.7 * i, valuation=2_700.0 + 79.1 * i))
    rows.append(advert(advert_id="golden-unseen-make", make="Trabant", model="601"))
    rows.append(advert(make="Lada", postcode_area="ZZ", fuel="Hydrogen"))  # no advert_id: optional
    return rows


def write_bundle_folder(folder: Path, model_version: str = MODEL_VERSION, intercept: float = INTERCEPT) -> Path:
    """bundle.zip, model.json and golden.jsonl, as the pipeline's mleap_bundle asset lays them out; another
    ``intercept`` makes another model (another bundle digest)."""
    folder.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(folder / "bundle.zip", days_to_sell_pipeline(intercept=intercept), as_zip=True)
    (folder / "model.json").write_text(json.dumps({"model_version": model_version}))
    inputs = golden_adverts()
    scored = load_bundle(bundle).transform(inputs, select=["prediction"])
    write_golden(folder / GOLDEN_FILE,
                 [GoldenRow(inputs=row, prediction=float(s["prediction"])) for row, s in zip(inputs, scored,
                                                                                           strict=True)])
    return folder


def perturbed(rows: list[GoldenRow], every: int) -> tuple[list[GoldenRow], list[int]]:
    """The rows with every ``every``-th prediction moved by one part in a million."""
    out, changed = [], []
    for i, row in enumerate(rows):
        if i % every == 0:
            out.append(replace(row, prediction=row.prediction * (1 + 1e-6)))
            changed.append(i)
        else:
            out.append(row)
    return out, changed


@pytest.fixture(scope="session")
def tools() -> ContainerTools:
    tools = ContainerTools.from_env()
    tools.require("buildah", "podman", "skopeo", "runc")
    return tools


@pytest.fixture(scope="session")
def base_image(tools: ContainerTools) -> str:
    """Built by deploy/containers/base-image.sh when missing (a debootstrap, ~1-2 min), else a no-op."""
    return ensure_base_image(tools)


@pytest.fixture(scope="session")
def release_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle_folder(tmp_path_factory.mktemp("release-bundle") / "bundle")


@pytest.fixture(scope="session")
def image_labels(release_bundle_dir: Path) -> ImageLabels:
    return ImageLabels(model_version=MODEL_VERSION, bundle_digest=bundle_digest(release_bundle_dir / "bundle.zip"),
                       source_commit=SOURCE_COMMIT)


@pytest.fixture(scope="session")
def image_tag_prefix() -> str:
    return f"localhost/daystosell/service-test:{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def service_context(release_bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: daystosell_service/ may change under a long session, and tests comparing layers
    need the same service code in every image they build."""
    return prepare_build_context(release_bundle_dir, tmp_path_factory.mktemp("context") / "context")


def with_model(service_context: Path, bundle_folder: Path, dest: Path) -> Path:
    """A copy of ``service_context`` whose model/ comes from ``bundle_folder``."""
    shutil.copytree(service_context, dest)
    shutil.rmtree(dest / "model")
    fresh = prepare_build_context(bundle_folder, dest.parent / f"{dest.name}-fresh")
    shutil.copytree(fresh / "model", dest / "model")
    shutil.rmtree(fresh)
    return dest


@pytest.fixture(scope="session")
def service_image(tools: ContainerTools, base_image: str, service_context: Path, image_labels: ImageLabels,
                  image_tag_prefix: str) -> Iterator[BuiltImage]:
    image = build_image(service_context, f"{image_tag_prefix}-a", base_image, image_labels, tools=tools,
                        logger=log)
    log.warning(f"service image {image.tag}: {image.size_bytes / 1e6:.0f} MB, built in {image.seconds:.1f} s")
    yield image
    remove_image(image.tag, tools)


@pytest.fixture(scope="session")
def service_url(tools: ContainerTools, service_image: BuiltImage) -> Iterator[str]:
    with run_container(service_image.tag, tools=tools, logger=log) as url:
        yield url
