"""POST /v1/predictions?contributions=true: each input's exact Shapley contribution against a baseline advert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.predictions import MAX_ADVERTS_WITH_CONTRIBUTIONS
from daystosell_service.app import create_app, service_state
from daystosell_service.golden import GOLDEN_FILE, GoldenRow, write_golden

from .support import COEFFICIENTS, LABELS, MODEL_VERSION, advert, expected_prediction, write_bundle

PREDICT = "/v1/predictions"
EXPLAIN = "/v1/predictions?contributions=true"

# Golden rows chosen so the baseline is known: medians 2016, 2022, 50000, 7000, 8000; Vauxhall Corsa Diesel
# Saloon from M (Vauxhall and Ford tie on make: the alphabetically first, Ford, would win, so Vauxhall has three).
GOLDEN_ADVERTS = [
    advert(make="Vauxhall", model="Corsa", fuel="Diesel", body_type="Saloon", postcode_area="M",
           registration_year=2016, listing_year=2022, mileage=50_000, asking_price=7_000, valuation=8_000),
    advert(make="Vauxhall", model="Corsa", fuel="Diesel", body_type="Saloon", postcode_area="M",
           registration_year=2014, listing_year=2021, mileage=80_000, asking_price=5_000, valuation=6_000),
    advert(make="Vauxhall", model="Fiesta", fuel="Petrol", body_type="Saloon", postcode_area="B",
           registration_year=2019, listing_year=2023, mileage=20_000, asking_price=9_000, valuation=8_500),
    advert(make="Ford", model="Corsa", fuel="Diesel", body_type="Hatchback", postcode_area="M",
           registration_year=2016, listing_year=2022, mileage=50_000.5, asking_price=7_500, valuation=8_000),
    advert(make="Ford", model="3 Series", fuel="Diesel", body_type="Saloon", postcode_area="LS",
           registration_year=2020, listing_year=2024, mileage=10_000, asking_price=6_000, valuation=9_000),
]
BASELINE: dict[str, Any] = {
    "make": "Vauxhall", "model": "Corsa", "fuel": "Diesel", "body_type": "Saloon", "postcode_area": "M",
    "registration_year": 2016.0, "listing_year": 2022.0, "listing_month": 6.0, "mileage": 50_000.0,
    "asking_price": 7_000.0, "valuation": 8_000.0,
}
# The baseline as a client would send it: years and months are whole numbers.
BASELINE_ADVERT = {k: int(v) if k.endswith(("_year", "_month")) else v for k, v in BASELINE.items()}


@pytest.fixture(scope="module")
def explained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("explained-bundle")
    bundle = write_bundle(home / "days_to_sell")
    (home / "model.json").write_text(json.dumps({"model_version": MODEL_VERSION}))
    rows = [GoldenRow(inputs={k: v for k, v in a.items() if k != "advert_id"}, prediction=expected_prediction(a))
            for a in GOLDEN_ADVERTS]
    write_golden(home / GOLDEN_FILE, rows)
    return bundle


@pytest.fixture(scope="module")
def explained_app(explained_bundle: Path) -> Litestar:
    return create_app(explained_bundle)


@pytest.fixture(scope="module")
def explaining(explained_app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(explained_app) as client:
        yield client


def index(column: str, value: str) -> float:
    labels = LABELS[column]
    return float(labels.index(value) if value in labels else len(labels))


def hand_contributions(x: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """The test pipeline's Shapley values worked out by hand: additive terms get coefficient times distance;
    asking price and valuation meet only in their ratio, a two-player game."""
    weights = dict(zip([*LABELS, "age", "mileage", "price_ratio", "listing_month"], COEFFICIENTS, strict=True))
    result = {c: weights[c] * (index(c, x[c]) - index(c, b[c])) for c in LABELS}
    result["listing_year"] = weights["age"] * (x["listing_year"] - b["listing_year"])
    result["registration_year"] = -weights["age"] * (x["registration_year"] - b["registration_year"])
    result["mileage"] = weights["mileage"] * (x["mileage"] - b["mileage"])
    result["listing_month"] = weights["listing_month"] * (x["listing_month"] - b["listing_month"])

    def g(asking: float, valuation: float) -> float:
        return weights["price_ratio"] * asking / valuation

    a, v, ab, vb = x["asking_price"], x["valuation"], b["asking_price"], b["valuation"]
    result["asking_price"] = ((g(a, vb) - g(ab, vb)) + (g(a, v) - g(ab, v))) / 2
    result["valuation"] = ((g(ab, v) - g(ab, vb)) + (g(a, v) - g(a, vb))) / 2
    return result


ADVERTS = [
    advert(advert_id="a"),
    advert(advert_id="b", make="BMW", model="3 Series", fuel="Petrol", body_type="Hatchback", postcode_area="ZE",
           registration_year=2010, listing_year=2024, listing_month=11, mileage=150_000.5, asking_price=3_250,
           valuation=4_100),
    advert(advert_id="c", make="Lada", model="Niva", asking_price=20_000, valuation=12_345.67),
    {k: v for k, v in advert(**BASELINE_ADVERT).items() if k != "advert_id"},
]


def test_contributions_are_the_exact_shapley_values_of_the_pipeline(explaining: TestClient[Litestar]) -> None:
    response = explaining.post(EXPLAIN, json={"adverts": ADVERTS})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["baseline"]["advert"] == BASELINE
    assert body["baseline"]["golden_rows"] == len(GOLDEN_ADVERTS)
    assert body["baseline"]["days_to_sell"] == pytest.approx(expected_prediction(BASELINE), rel=1e-12)
    for sent, prediction in zip(ADVERTS, body["predictions"], strict=True):
        assert prediction["advert_id"] == sent.get("advert_id")
        got = {c["feature"]: c["contribution"] for c in prediction["contributions"]}
        assert got == pytest.approx(hand_contributions(sent, BASELINE), rel=1e-9, abs=1e-9)


def test_baseline_plus_contributions_is_the_prediction(explaining: TestClient[Litestar]) -> None:
    explained = explaining.post(EXPLAIN, json={"adverts": ADVERTS}).json()
    plain = explaining.post(PREDICT, json={"adverts": ADVERTS}).json()

    base = explained["baseline"]["days_to_sell"]
    for with_, without in zip(explained["predictions"], plain["predictions"], strict=True):
        assert with_["days_to_sell"] == pytest.approx(without["days_to_sell"], rel=1e-12)
        total = base + sum(c["contribution"] for c in with_["contributions"])
        assert total == pytest.approx(with_["days_to_sell"], rel=1e-9)


def test_each_contribution_names_the_input_and_the_adverts_value_largest_first(
    explaining: TestClient[Litestar],
) -> None:
    [prediction] = explaining.post(EXPLAIN, json={"adverts": [ADVERTS[1]]}).json()["predictions"]

    contributions = prediction["contributions"]
    assert sorted(c["feature"] for c in contributions) == sorted(BASELINE)
    assert {c["feature"]: c["value"] for c in contributions} == {
        k: float(v) if isinstance(v, int | float) else v for k, v in ADVERTS[1].items() if k != "advert_id"
    }
    sizes = [abs(c["contribution"]) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)


def test_the_baseline_advert_itself_has_nothing_to_explain(explaining: TestClient[Litestar]) -> None:
    [prediction] = explaining.post(EXPLAIN, json={"adverts": [ADVERTS[3]]}).json()["predictions"]

    assert [c["contribution"] for c in prediction["contributions"]] == [0.0] * len(BASELINE)


def test_inputs_at_their_baseline_value_contribute_exactly_zero(explaining: TestClient[Litestar]) -> None:
    sent = advert(**{**BASELINE_ADVERT, "mileage": 90_000, "make": "BMW"})
    [prediction] = explaining.post(EXPLAIN, json={"adverts": [sent]}).json()["predictions"]

    nonzero = {c["feature"] for c in prediction["contributions"] if c["contribution"] != 0.0}
    assert nonzero == {"mileage", "make"}


def test_a_request_scores_every_coalition_in_one_columnar_call(
    explaining: TestClient[Litestar], explained_app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = service_state(explained_app).require_scorer().model
    calls: list[int] = []
    original = model.transform_columns

    def counting(columns: dict[str, np.ndarray], select: list[str] | None = None) -> Any:
        calls.append(len(next(iter(columns.values()))))
        return original(columns, select=select)

    monkeypatch.setattr(model, "transform_columns", counting)
    monkeypatch.setattr(model, "transform", lambda *a, **k: pytest.fail("the row path was used"))

    response = explaining.post(EXPLAIN, json={"adverts": ADVERTS[:3]})

    assert response.status_code == 200, response.text
    assert calls == [3 * 2 ** len(BASELINE)]


def test_without_contributions_the_response_is_as_before(explaining: TestClient[Litestar]) -> None:
    for url in (PREDICT, f"{PREDICT}?contributions=false"):
        body = explaining.post(url, json={"adverts": [advert()]}).json()
        assert set(body) == {"model_version", "bundle_digest", "predictions"}
        assert set(body["predictions"][0]) == {"advert_id", "days_to_sell"}


def test_contributions_are_limited_to_small_batches(explaining: TestClient[Litestar]) -> None:
    limit = MAX_ADVERTS_WITH_CONTRIBUTIONS
    adverts = [advert(advert_id=f"ad-{i}", mileage=1000.0 * i) for i in range(limit + 1)]

    assert explaining.post(EXPLAIN, json={"adverts": adverts[:limit]}).status_code == 200
    response = explaining.post(EXPLAIN, json={"adverts": adverts})

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["detail"] == "Validation failed"
    assert body["errors"] == [
        {"field": "adverts", "message": f"at most {limit} adverts a request with contributions=true, got {limit + 1}"}
    ]
    # The limit is only for contributions.
    assert explaining.post(PREDICT, json={"adverts": adverts}).status_code == 200


def test_a_contributions_value_that_is_not_a_boolean_is_a_400(explaining: TestClient[Litestar]) -> None:
    response = explaining.post(f"{PREDICT}?contributions=maybe", json={"adverts": [advert()]})

    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["contributions"]


def test_invalid_adverts_are_still_400s_naming_the_field(explaining: TestClient[Litestar]) -> None:
    response = explaining.post(EXPLAIN, json={"adverts": [advert(mileage=-1)]})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["adverts[0].mileage"]


def test_a_bundle_without_golden_rows_cannot_give_contributions(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "days_to_sell")

    with TestClient(create_app(bundle, golden_check=False)) as client:
        assert client.post(PREDICT, json={"adverts": [advert()]}).status_code == 200
        response = client.post(EXPLAIN, json={"adverts": [advert()]})

    assert response.status_code == 501, response.text
    assert "no golden rows" in response.json()["detail"]


def test_golden_rows_given_elsewhere_choose_the_baseline(explained_bundle: Path, tmp_path: Path) -> None:
    golden = tmp_path / "other-golden.jsonl"
    only = advert(make="BMW", mileage=1234.0)
    write_golden(golden, [GoldenRow(inputs={k: v for k, v in only.items() if k != "advert_id"},
                                    prediction=expected_prediction(only))])

    with TestClient(create_app(explained_bundle, golden_path=golden)) as client:
        body = client.post(EXPLAIN, json={"adverts": [advert()]}).json()

    assert body["baseline"]["advert"]["make"] == "BMW"
    assert body["baseline"]["advert"]["mileage"] == 1234.0
    assert body["baseline"]["golden_rows"] == 1
