"""GET /v1/model, and the OpenAPI document of the endpoints added beside predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from daystosell_service.api.predictions import MAX_ADVERTS_WITH_CONTRIBUTIONS
from daystosell_service.api.scorer import bundle_digest
from daystosell_service.app import create_app
from daystosell_service.mleap import load_bundle

from .support import MODEL_VERSION, write_bundle, write_golden_beside

MODEL = "/v1/model"

# model.json as daystosell_assets.defs.bundle.mleap_bundle writes it.
SIDECAR = {
    "model_version": "20260101T000000Z-abcd1234",
    "bundle_digest": "sha256:" + "0" * 64,
    "trained_at": "2026-01-01T00:00:00+00:00",
    "ops": ["pipeline", "linear_regression"],
    "golden_rows": 3,
    "metrics": {"holdout_mae": 6.25, "holdout_rmse": 9.5, "holdout_r2": 0.61, "baseline_mae": 14.0},
    "training_rows": 120_000,
}


def model_info(bundle: Path, **kwargs: Any) -> dict[str, Any]:
    with TestClient(create_app(bundle, **kwargs)) as client:
        response = client.get(MODEL)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_reports_the_sidecar_and_the_bundle(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle.zip", as_zip=True)
    (tmp_path / "model.json").write_text(json.dumps(SIDECAR))
    write_golden_beside(bundle)
    runtime = load_bundle(bundle)

    body = model_info(bundle)

    assert body["model_version"] == SIDECAR["model_version"]
    # The digest of the bytes served, not whatever the sidecar says.
    assert body["bundle_digest"] == bundle_digest(bundle)
    assert body["trained_at"] == SIDECAR["trained_at"]
    assert body["metrics"] == SIDECAR["metrics"]
    assert body["input_schema"] == runtime.input_schema
    assert list(body["input_schema"]) == list(runtime.input_schema)
    assert body["output_columns"] == runtime.output_columns
    info = runtime.info
    assert body["bundle"] == {
        "uid": info.uid, "name": info.name, "format": info.format, "mleap_version": info.version,
        "timestamp": info.timestamp, "ops": runtime.ops,
    }
    assert body["sidecar"] == SIDECAR


def test_reports_the_contributions_baseline(bundle_dir: Path) -> None:
    body = model_info(bundle_dir)

    contributions = body["contributions"]
    assert contributions["available"] is True
    assert contributions["max_adverts"] == MAX_ADVERTS_WITH_CONTRIBUTIONS
    assert set(contributions["baseline"]["advert"]) == set(body["input_schema"])
    assert "reason" not in contributions


def test_an_old_sidecar_gives_nulls_not_errors(bundle_dir: Path) -> None:
    # conftest's sidecar is the old kind: a model version and nothing the endpoint lifts out.
    body = model_info(bundle_dir)

    assert body["model_version"] == MODEL_VERSION
    assert body["trained_at"] is None
    assert body["metrics"] is None
    assert body["sidecar"] == {"model_version": MODEL_VERSION, "trained_on": "2024-05-01"}


def test_metrics_that_are_not_numbers_are_left_out(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "days_to_sell")
    sidecar = {"model_version": "v", "trained_at": 20260101, "metrics": {"mae": 3, "note": "x", "r2": None}}
    (tmp_path / "model.json").write_text(json.dumps(sidecar))

    body = model_info(bundle, golden_check=False)

    assert body["metrics"] == {"mae": 3.0}
    assert body["trained_at"] is None


def test_without_a_sidecar_or_golden_rows(bundle_zip: Path, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "days_to_sell.zip", as_zip=True)

    body = model_info(bundle, golden_check=False)

    assert body["model_version"] == load_bundle(bundle).info.uid
    assert body["sidecar"] == {}
    assert body["contributions"]["available"] is False
    assert "no golden rows" in body["contributions"]["reason"]
    assert "baseline" not in body["contributions"]


def test_is_503_until_the_model_is_loaded(bundle_dir: Path) -> None:
    # Without entering the client, the lifespan that loads the bundle does not run.
    response = TestClient(create_app(bundle_dir)).get(MODEL)

    assert response.status_code == 503


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(Path("bundle-not-loaded")).openapi_schema.to_schema()
    return document


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_openapi_documents_price_sensitivity(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v1/price-sensitivity"]["post"]

    body = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["advert"]
    grid = resolve(spec, next(s for s in body["properties"]["grid"]["oneOf"] if "$ref" in s))
    assert set(grid["properties"]) == {"from_fraction", "to_fraction", "from_price", "to_price", "step"}
    assert {"200", "400", "422", "503"} <= set(operation["responses"])
    response = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    point = resolve(spec, response["properties"]["points"]["items"])
    assert set(point["properties"]) == {"asking_price", "price_change", "price_position", "days_to_sell",
                                        "days_change"}
    assert "70%" in operation["description"]


def test_openapi_documents_contributions(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v1/predictions"]["post"]

    [parameter] = [p for p in operation["parameters"] if p["name"] == "contributions"]
    assert parameter["in"] == "query"
    assert parameter["schema"]["type"] == "boolean"
    assert "Shapley" in operation["description"]
    assert f"At most {MAX_ADVERTS_WITH_CONTRIBUTIONS} adverts" in operation["description"]
    response = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert "baseline" in response["properties"]
    assert "Contribution" in spec["components"]["schemas"]


def test_openapi_documents_the_model_endpoint(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v1/model"]["get"]

    response = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"model_version", "bundle_digest", "trained_at", "metrics", "input_schema", "bundle"} <= set(
        response["properties"]
    )
    assert "503" in operation["responses"]
