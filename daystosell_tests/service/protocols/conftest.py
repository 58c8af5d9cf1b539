"""Fixtures for the protocol tests: an app not yet ready, one whose model refuses unseen makes, a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.app import create_app
from daystosell_service.launcher import RunningService, running_service

from ..mleap import bundle_writer as bw
from ..support import LABELS, regression, write_bundle


@pytest.fixture
def loading_client(bundle_dir: Path) -> TestClient[Litestar]:
    # Never entered as a context manager, so the lifespan never runs: an app still loading its bundle.
    return TestClient(create_app(bundle_dir))


@pytest.fixture(scope="module")
def refusing_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    """A model that refuses a make it was not trained on (handle_invalid="error"): valid adverts, a 422."""
    indexer = bw.string_indexer("make_indexer", "make", "make_index", LABELS["make"], "error")
    bundle = write_bundle(
        tmp_path_factory.mktemp("refusing") / "bundle",
        bw.pipeline("pipeline", indexer, *regression(["make_index"], [2.0], 1.0)),
    )
    with TestClient(create_app(bundle, golden_check=False)) as client:
        yield client


@pytest.fixture(scope="session")
def server(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """``python -m daystosell_service`` on a free port, for the protocols' own client libraries."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out, running_service(bundle_dir, log=out) as service:
        yield service
