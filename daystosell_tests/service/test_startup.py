"""Loading a bundle for serving: what the service reports about it, and every reason it refuses to start."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.schemas import Advert
from daystosell_service.api.scorer import Scorer, StartupError, bundle_digest
from daystosell_service.app import create_app, service_state
from daystosell_service.golden import GoldenRow, write_golden

from .mleap import bundle_writer as bw
from .support import (
    LABELS,
    MODEL_VERSION,
    advert,
    days_to_sell_pipeline,
    expected_prediction,
    regression,
    write_bundle,
)

MODEL_INPUTS = [k for k in advert() if k != "advert_id"]


def golden_rows(adverts: list[dict[str, object]], shift: float = 0.0) -> list[GoldenRow]:
    return [
        GoldenRow(inputs={k: a[k] for k in MODEL_INPUTS}, prediction=expected_prediction(a) + shift)
        for a in adverts
    ]


def test_loads_version_from_the_sidecar_and_the_model_inputs(bundle_dir: Path) -> None:
    scorer = Scorer.load(bundle_dir)

    assert scorer.model_version == MODEL_VERSION
    assert set(scorer.input_schema) == set(MODEL_INPUTS)
    assert scorer.input_schema["mileage"] == "double"
    assert scorer.input_schema["make"] == "string"


def raise_intercept(bundle: Path, by: float) -> None:
    model_json = bundle / "root" / "regression.node" / "model.json"
    model = json.loads(model_json.read_text())
    model["attributes"]["intercept"]["double"] += by
    model_json.write_text(json.dumps(model))


def test_directory_digest_is_stable_and_changes_with_any_file(bundle_copy: Path) -> None:
    before = bundle_digest(bundle_copy)
    assert bundle_digest(bundle_copy) == before

    raise_intercept(bundle_copy, 1.0)
    changed = bundle_digest(bundle_copy)
    (bundle_copy / "root" / "regression.node" / "model.json").rename(bundle_copy / "root" / "moved.json")

    assert changed != before
    assert bundle_digest(bundle_copy) not in (before, changed)


def test_a_changed_bundle_is_served_with_its_own_digest_and_predictions(
    bundle_dir: Path, bundle_copy: Path
) -> None:
    raise_intercept(bundle_copy, 1.0)

    original, changed = Scorer.load(bundle_dir), Scorer.load(bundle_copy)

    assert changed.bundle_digest != original.bundle_digest
    assert changed.predict([msgspec.convert(advert(), Advert)]) == pytest.approx(
        [expected_prediction(advert()) + 1]
    )


def test_refuses_a_bundle_that_reads_a_column_adverts_do_not_have(tmp_path: Path) -> None:
    root = days_to_sell_pipeline(labels={**LABELS, "colour": ["Red"]}, coefficients=[1.0] * (len(LABELS) + 5))

    with pytest.raises(StartupError, match=r"'colour' \(string\) is not a field of an advert"):
        Scorer.load(write_bundle(tmp_path / "bundle", root))


def test_refuses_a_bundle_that_reads_a_number_as_text(tmp_path: Path) -> None:
    root = bw.pipeline(
        "pipeline",
        bw.string_indexer("year_indexer", "registration_year", "year_index", ["2017"], "keep"),
        *regression(["year_index"], [1.0], 0.0),
    )

    with pytest.raises(
        StartupError, match=r"'registration_year' is a string in the bundle but the advert gives"
    ):
        Scorer.load(write_bundle(tmp_path / "bundle", root))


def test_refuses_a_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="MLeap bundle not found"):
        Scorer.load(tmp_path / "nothing.zip")


def test_refuses_a_corrupt_bundle(tmp_path: Path) -> None:
    corrupt = tmp_path / "bundle.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(StartupError, match="cannot load MLeap bundle"):
        Scorer.load(corrupt)


@pytest.mark.parametrize(
    "sidecar", ["{not json", '{"trained_on": "2024"}', '{"model_version": ""}', '["v1"]']
)
def test_refuses_an_unreadable_sidecar_rather_than_report_another_version(
    bundle_copy: Path, sidecar: str
) -> None:
    (bundle_copy.parent / "model.json").write_text(sidecar)

    with pytest.raises(StartupError, match=r"model\.json"):
        Scorer.load(bundle_copy)


def startup_failure(app: Litestar) -> StartupError:
    """Run the app's lifespan and return the StartupError it fails with."""
    with pytest.raises(BaseExceptionGroup) as failure, TestClient(app):
        pass
    # The TestClient runs the lifespan in a task group, which wraps what it raised.
    errors = [e for e in leaves(failure.value) if isinstance(e, StartupError)]
    assert len(errors) == 1, failure.value
    return errors[0]


def leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def test_lifespan_failure_stops_the_app_from_starting(tmp_path: Path) -> None:
    assert "MLeap bundle not found" in str(startup_failure(create_app(tmp_path / "missing")))


def test_matching_golden_rows_let_the_app_become_ready(bundle_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    write_golden(golden, golden_rows([advert(), advert(make="BMW", mileage=3.5), advert(make="Lada")]))

    with TestClient(create_app(bundle_dir, golden_path=golden)) as client:
        assert client.get("/health/ready").status_code == 200


def test_golden_rows_the_bundle_does_not_reproduce_stop_startup(bundle_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    write_golden(golden, golden_rows([advert()]) + golden_rows([advert(make="BMW")], shift=1e-3))

    error = startup_failure(create_app(bundle_dir, golden_path=golden))

    assert "1 mismatches (row 1:" in str(error)


def test_golden_rows_without_every_model_input_stop_startup(bundle_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    row = golden_rows([advert()])[0]
    del row.inputs["valuation"]
    write_golden(golden, [row])

    with pytest.raises(StartupError, match=r"lack the model inputs \['valuation'\]"):
        Scorer.load(bundle_dir).check_golden(golden)


class BrokenModel:
    """A runtime that fails on every row: what a bug in it looks like to the service."""

    def transform(self, rows: object, select: object) -> list[dict[str, object]]:
        raise RuntimeError("runtime bug")


def serve_model(app: Litestar, model: Any) -> None:
    """Swap the loaded model of a running app for a stand-in that misbehaves."""
    state = service_state(app)
    state.scorer = dataclasses.replace(state.require_scorer(), model=model)


def test_a_model_failure_is_a_logged_500_not_a_crash(
    client: TestClient[Litestar], app: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    serve_model(app, BrokenModel())
    with caplog.at_level(logging.ERROR, logger="daystosell_service"):
        response = client.post("/v1/predictions", json={"adverts": [advert()]})

    assert response.status_code == 500
    assert response.json() == {"status_code": 500, "detail": "Internal Server Error"}
    assert "runtime bug" not in response.text
    assert any(r.exc_info and "runtime bug" in str(r.exc_info[1]) for r in caplog.records)


def test_a_non_finite_prediction_is_never_sent_as_null(client: TestClient[Litestar], app: Litestar) -> None:
    class NaNModel:
        def transform(self, rows: list[object], select: object) -> list[dict[str, object]]:
            return [{"prediction": float("nan")} for _ in rows]

    serve_model(app, NaNModel())

    response = client.post("/v1/predictions", json={"adverts": [advert()]})

    assert response.status_code == 500


def test_copying_a_bundle_keeps_its_digest(bundle_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(bundle_dir, tmp_path / "elsewhere")

    assert bundle_digest(copy) == bundle_digest(bundle_dir)
    assert json.loads((copy / "bundle.json").read_text())["uid"] == Scorer.load(copy).model_version
