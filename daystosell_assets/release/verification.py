"""Does a running service answer as the release expects? Used on the image before it is pushed (every
golden row) and on each environment after a rollout (a sample: the smoke test).

Beyond the golden rows, the probes a client and a cluster rely on: liveness, readiness reporting this
release's model and bundle, the model description, and the error paths (a missing field, a wrong type,
malformed JSON, an unknown route) answering 4xx with the field named, not 5xx.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from daystosell_assets.release.golden import PREDICTIONS_PATH, GoldenReport, golden_test
from daystosell_service.golden import GoldenRow


@dataclass(frozen=True)
class Probe:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verification:
    probes: list[Probe]
    golden: GoldenReport

    @property
    def passed(self) -> bool:
        return self.golden.passed and all(p.passed for p in self.probes)

    def failures(self) -> list[str]:
        failed = [f"{p.name}: {p.detail}" for p in self.probes if not p.passed]
        return failed + ([self.golden.summary()] if not self.golden.passed else [])

    def table(self) -> str:
        rows = [f"| {p.name} | {'pass' if p.passed else 'FAIL'} | {p.detail} |" for p in self.probes]
        golden = (f"| golden rows | {'pass' if self.golden.passed else 'FAIL'} | {self.golden.rows} rows, "
                  f"{len(self.golden.mismatches)} mismatches, max relative error {self.golden.max_rel_error:.2g} |")
        return "\n".join(["| probe | result | detail |", "| --- | --- | --- |", *rows, golden])


def _probe(name: str, check: Callable[[], str]) -> Probe:
    """Runs one probe; an AssertionError or a transport error is its failure, with the reason."""
    try:
        return Probe(name, True, check())
    except (AssertionError, httpx.HTTPError, ValueError, KeyError) as error:
        return Probe(name, False, f"{type(error).__name__}: {error}")


def _field_error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 400, f"HTTP {response.status_code} (expected 400): {response.text[:200]}"
    named = [e.get("field") for e in response.json().get("errors") or []]
    assert field in named, f"the error names {named}, not {field}"
    return f"400 naming {field}"


def probe_service(client: httpx.Client, model_version: str, bundle_digest: str,
                  advert: dict[str, Any]) -> list[Probe]:
    """The probes, against ``client``'s base URL; ``advert`` is a valid request row (a golden input)."""

    def live() -> str:
        response = client.get("/health/live")
        assert response.status_code == 200, f"HTTP {response.status_code}"
        return "200"

    def ready() -> str:
        response = client.get("/health/ready")
        assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}"
        body = response.json()
        assert body["model_version"] == model_version, f"serves {body['model_version']}, not {model_version}"
        assert body["bundle_digest"] == bundle_digest, f"serves bundle {body['bundle_digest']}, not {bundle_digest}"
        return f"200, model {model_version}"

    def model() -> str:
        response = client.get("/v1/model")
        assert response.status_code == 200, f"HTTP {response.status_code}"
        assert response.json()["model_version"] == model_version
        return "200, describes the model"

    field = "mileage"  # a required input of every advert

    def missing_field() -> str:
        row = {k: v for k, v in advert.items() if k != field}
        return _field_error(client.post(PREDICTIONS_PATH, json={"adverts": [row]}), f"adverts[0].{field}")

    def wrong_type() -> str:
        row = {**advert, "listing_month": "June"}
        return _field_error(client.post(PREDICTIONS_PATH, json={"adverts": [row]}), "adverts[0].listing_month")

    def malformed() -> str:
        response = client.post(PREDICTIONS_PATH, content=b'{"adverts": [', headers={"content-type": "application/json"})
        assert response.status_code == 400, f"HTTP {response.status_code}"
        return "400"

    def unknown_route() -> str:
        response = client.get("/v1/no-such-route")
        assert response.status_code == 404, f"HTTP {response.status_code}"
        return "404"

    return [_probe(name, check) for name, check in (
        ("liveness", live), ("readiness", ready), ("model description", model),
        (f"missing field ({field})", missing_field), ("wrong type (listing_month)", wrong_type),
        ("malformed JSON", malformed), ("unknown route", unknown_route))]


def verify_service(base_url: str, golden_rows: Sequence[GoldenRow], model_version: str, bundle_digest: str,
                   *, timeout: float = 30.0) -> Verification:
    """Every probe, then ``golden_rows`` over HTTP (each within the golden tolerance of Spark's)."""
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        probes = probe_service(client, model_version, bundle_digest, dict(golden_rows[0].inputs))
    return Verification(probes=probes, golden=golden_test(base_url, golden_rows, timeout=timeout))
