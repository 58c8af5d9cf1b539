"""Schemathesis against a real server: whatever a client sends to any operation in the OpenAPI document, the
answer is never a 5xx and always one the document describes (status code, content type, body schema).

One test per operation in ``/schema/openapi.json``, so endpoints added later are covered without touching this
file. Deterministic (a fixed seed, no example database) and bounded: ``MAX_EXAMPLES`` valid and invalid inputs
per operation, plus the examples and boundary cases Schemathesis derives from each schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar.testing import TestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from daystosell_service.api.docs import OPENAPI_JSON
from daystosell_service.app import create_app
from daystosell_service.launcher import RunningService, running_service

MAX_EXAMPLES = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def service(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    log = tmp_path_factory.mktemp("schemathesis") / "server.log"
    with log.open("wb") as out, running_service(bundle_dir, log=out, args=["--no-access-log"]) as running:
        yield running


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, as ``/schema/openapi.json`` serves it. It does not depend on the bundle, which
    the app only loads when it starts, so it is known when pytest collects the tests: one per operation.

    (``schemathesis.pytest.from_fixture`` would read it from the running server instead, but fails on pytest 9,
    which no longer has the ``Function._nodeid`` it sets.)
    """
    document: dict[str, Any] = TestClient(create_app(Path("bundle-not-loaded"))).get(OPENAPI_JSON).json()
    return document


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(modes=list(GenerationMode), max_examples=MAX_EXAMPLES, deterministic=True)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error_or_an_undocumented_response(
    case: schemathesis.Case, service: RunningService
) -> None:
    case.call_and_validate(base_url=service.url, checks=CHECKS)


def test_the_served_document_is_the_one_tested(service: RunningService) -> None:
    served = httpx.get(f"{service.url}{OPENAPI_JSON}", timeout=10)

    assert served.status_code == 200
    assert operations(served.json()) == operations(schema.raw_schema)
