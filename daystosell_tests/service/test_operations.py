"""What operators rely on, in process: readiness gated on the golden rows, Prometheus metrics, request ids on
responses and log lines, the access log, and the offline API docs."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from daystosell_service.__main__ import JsonLogFormatter, parse_args
from daystosell_service.api.request_context import RequestIdLogFilter
from daystosell_service.app import create_app
from daystosell_service.golden import GOLDEN_FILE

from .support import MODEL_VERSION, advert
from .test_startup import BrokenModel, serve_model, startup_failure

PREDICT = "/v1/predictions"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def samples(client: TestClient[Litestar], name: str) -> list[tuple[dict[str, str], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
        if s.name == name
    ]


def value(client: TestClient[Litestar], name: str, **labels: str) -> float:
    return sum(v for sample_labels, v in samples(client, name) if labels.items() <= sample_labels.items())


# Readiness


def test_the_golden_rows_beside_the_bundle_are_checked_by_default(bundle_copy: Path) -> None:
    golden = bundle_copy.parent / GOLDEN_FILE
    rows = [json.loads(line) for line in golden.read_text().splitlines()]
    rows[1]["prediction"] += 0.5
    golden.write_text("".join(json.dumps(row) + "\n" for row in rows))

    error = startup_failure(create_app(bundle_copy))

    assert "does not reproduce the golden rows" in str(error)
    assert "row 1:" in str(error)


def test_a_bundle_without_golden_rows_is_refused_unless_the_check_is_turned_off(bundle_copy: Path) -> None:
    (bundle_copy.parent / GOLDEN_FILE).unlink()

    error = startup_failure(create_app(bundle_copy))
    with TestClient(create_app(bundle_copy, golden_check=False)) as client:
        ready = client.get("/health/ready")

    assert f"no golden rows at {bundle_copy.parent / GOLDEN_FILE}" in str(error)
    assert "--no-golden-check" in str(error)
    assert ready.status_code == 200


def test_golden_points_elsewhere(bundle_copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    shutil.move(bundle_copy.parent / GOLDEN_FILE, elsewhere)

    with TestClient(create_app(bundle_copy, golden_path=elsewhere)) as client:
        assert client.get("/health/ready").status_code == 200


def test_the_command_line_checks_golden_rows_unless_told_not_to() -> None:
    default = parse_args(["--bundle", "b.zip"])
    unchecked = parse_args(["--bundle", "b.zip", "--no-golden-check"])

    assert (default.golden, default.no_golden_check, default.access_log) == (None, False, True)
    assert unchecked.no_golden_check
    with pytest.raises(SystemExit):
        parse_args(["--bundle", "b.zip", "--golden", "g.jsonl", "--no-golden-check"])


def test_not_ready_until_loaded_and_live_throughout(app: Litestar) -> None:
    client = TestClient(app)  # not entered: the lifespan, which loads the bundle, has not run

    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 503
    assert value(client, "daystosell_ready") == 0


# Metrics


def test_metrics_count_requests_by_route_template_and_status(client: TestClient[Litestar]) -> None:
    client.post(PREDICT, json={"adverts": [advert(), advert(advert_id="2")]})
    client.post(PREDICT, json={"adverts": [advert()]})
    client.post(PREDICT, json={"adverts": [advert(mileage=-1)]})
    client.get("/no/such/page")

    assert value(client, "daystosell_http_requests_total", route=PREDICT, status="200", method="POST") == 2
    assert value(client, "daystosell_http_requests_total", route=PREDICT, status="400") == 1
    assert value(client, "daystosell_http_requests_total", route="unmatched", status="404") == 1
    assert value(client, "daystosell_http_request_duration_seconds_count", route=PREDICT, status="200") == 2
    assert value(client, "daystosell_http_request_duration_seconds_bucket", route=PREDICT, status="200", le="+Inf") == 2
    assert value(client, "daystosell_predictions_total", route=PREDICT, model_version=MODEL_VERSION) == 3


def test_a_parameterised_route_is_one_series_not_one_per_path(app: Litestar) -> None:
    @get("/echo/{name:str}", sync_to_thread=False)
    def echo(name: str) -> str:
        return name

    app.register(echo)
    with TestClient(app) as client:
        client.get("/echo/a")
        client.get("/echo/b")
        routes = {labels["route"] for labels, _ in samples(client, "daystosell_http_requests_total")}

    assert "/echo/{name}" in routes
    assert not {"/echo/a", "/echo/b"} & routes


def test_metrics_name_the_model_and_its_digest(client: TestClient[Litestar]) -> None:
    digest = client.get("/health/ready").json()["bundle_digest"]

    assert samples(client, "daystosell_model_info") == [
        ({"model_version": MODEL_VERSION, "bundle_digest": digest}, 1.0)
    ]
    assert value(client, "daystosell_ready") == 1
    # The warm-up on the golden rows is not counted as predictions served.
    assert value(client, "daystosell_predictions_total") == 0


# Request ids and logs


@contextmanager
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The service's log records, with the request id the entry point's handler would give them."""
    # pytest gives each phase of a test its own handler: this must run in the test itself.
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.INFO, logger="daystosell_service"):
        yield caplog.records


def test_an_incoming_request_id_is_returned_and_on_its_log_lines(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    with captured_logs(caplog) as records:
        response = client.post(PREDICT, json={"adverts": [advert()]}, headers={"X-Request-ID": "req-42:a/b"})

    access = [r for r in records if r.name == "daystosell_service.access"]
    assert response.headers["x-request-id"] == "req-42:a/b"
    assert len(access) == 1
    line = json.loads(JsonLogFormatter().format(access[0]))
    assert line["message"] == "request"
    assert line["request_id"] == "req-42:a/b"
    assert (line["method"], line["route"], line["path"], line["status"]) == ("POST", PREDICT, PREDICT, 200)
    assert line["duration_ms"] > 0
    assert line["predictions"] == 1


@pytest.mark.parametrize("header", ["", "has space", "x" * 129, "new\nline", "quote\"d", "ünï"])
def test_an_implausible_request_id_is_replaced(client: TestClient[Litestar], header: str) -> None:
    response = client.get("/health/live", headers={b"X-Request-ID": header.encode()})

    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_every_response_gets_its_own_id_even_errors(client: TestClient[Litestar]) -> None:
    ids = [
        client.get("/health/live").headers["x-request-id"],
        client.get("/no/such/page").headers["x-request-id"],
        client.post(PREDICT, content=b"{").headers["x-request-id"],
    ]

    assert all(GENERATED_ID.match(i) for i in ids)
    assert len(set(ids)) == 3


def test_an_error_logged_during_a_request_carries_its_id(
    client: TestClient[Litestar], app: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    serve_model(app, BrokenModel())
    with captured_logs(caplog) as records:
        response = client.post(PREDICT, json={"adverts": [advert()]}, headers={"X-Request-ID": "broken-1"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "broken-1"
    errors = [r for r in records if r.levelno == logging.ERROR]
    assert errors
    assert all(getattr(r, "request_id", None) == "broken-1" for r in errors)


# Docs


def test_the_docs_page_lists_every_operation_and_needs_nothing_from_outside(client: TestClient[Litestar]) -> None:
    spec = client.get("/schema/openapi.json").json()
    page = client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for path, item in spec["paths"].items():
        for method in item:
            assert f"<span class='method'>{method}</span> <code>{path}</code>" in page.text
    # No script, stylesheet or font from anywhere: the only links are to the document and within the page.
    assert "<script" not in page.text
    assert not re.search(r"(src|href)=['\"](https?:)?//", page.text)
