"""Fixtures for the scoring service: real MLeap bundles on disk, and apps that serve them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.app import create_app
from daystosell_service.golden import GOLDEN_FILE

from .support import MODEL_VERSION, write_bundle, write_golden_beside


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory bundle with a model.json sidecar and golden rows beside it, as the pipeline writes them."""
    home = tmp_path_factory.mktemp("dir-bundle")
    bundle = write_bundle(home / "days_to_sell")
    (home / "model.json").write_text(json.dumps({"model_version": MODEL_VERSION, "trained_on": "2024-05-01"}))
    write_golden_beside(bundle)
    return bundle


@pytest.fixture(scope="session")
def bundle_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same pipeline as a zip, with golden rows but no sidecar: its version is the bundle's uid."""
    bundle = write_bundle(tmp_path_factory.mktemp("zip-bundle") / "days_to_sell.zip", as_zip=True)
    write_golden_beside(bundle)
    return bundle


@pytest.fixture
def bundle_copy(tmp_path: Path, bundle_dir: Path) -> Path:
    """A private copy of the directory bundle, with its sidecar and golden rows, for tests that change files."""
    shutil.copytree(bundle_dir, tmp_path / bundle_dir.name)
    shutil.copy(bundle_dir.parent / "model.json", tmp_path / "model.json")
    shutil.copy(bundle_dir.parent / GOLDEN_FILE, tmp_path / GOLDEN_FILE)
    return tmp_path / bundle_dir.name


@pytest.fixture
def app(bundle_dir: Path) -> Litestar:
    return create_app(bundle_dir)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    # Entering the client runs the lifespan, which loads the bundle.
    with TestClient(app) as test_client:
        yield test_client
