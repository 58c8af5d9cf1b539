"""POST /v1/price-sensitivity: one advert scored across a grid of asking prices, in one columnar call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.sensitivity import DEFAULT_STEP, MAX_POINTS, MAX_PRICE, MIN_PRICE
from daystosell_service.app import service_state
from daystosell_service.mleap import load_bundle

from .support import MODEL_VERSION, advert, expected_prediction

SENSITIVITY = "/v1/price-sensitivity"


def sensitivity(client: TestClient[Litestar], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(SENSITIVITY, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_grid_error(response: Any, field: str, message_part: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["detail"] == "Validation failed"
    assert [e["field"] for e in body["errors"]] == [field]
    assert message_part in body["errors"][0]["message"]


def test_default_grid_is_70_to_130_percent_of_valuation_in_250_steps_through_the_asking_price(
    client: TestClient[Litestar],
) -> None:
    sent = advert()  # asking 8995, valuation 9400
    body = sensitivity(client, {"advert": sent})

    prices = [p["asking_price"] for p in body["points"]]
    assert body["grid"] == {"from_price": 0.7 * 9400, "to_price": 1.3 * 9400, "step": DEFAULT_STEP,
                            "points": len(prices)}
    # 6580 .. 12220: the asking price less 9 steps up to it plus 12 steps.
    assert prices == [8995.0 + 250.0 * i for i in range(-9, 13)]
    assert body["model_version"] == MODEL_VERSION
    assert body["advert_id"] == "ad-1"
    assert (body["asking_price"], body["valuation"]) == (8995.0, 9400.0)
    assert body["price_position"] == pytest.approx(8995 / 9400, rel=1e-15)


def test_each_point_is_what_the_runtime_predicts_for_the_advert_at_that_price(
    client: TestClient[Litestar], bundle_dir: Path
) -> None:
    sent = advert(make="BMW", postcode_area="ZE", mileage=77_777.7)
    body = sensitivity(client, {"advert": sent, "grid": {"from_fraction": 0.5, "to_fraction": 1.5, "step": 100}})

    model_row = {k: float(v) if isinstance(v, int | float) else v for k, v in sent.items() if k != "advert_id"}
    rows = [{**model_row, "asking_price": p["asking_price"]} for p in body["points"]]
    direct = load_bundle(bundle_dir).transform(rows, select=["prediction"])
    assert [p["days_to_sell"] for p in body["points"]] == [r["prediction"] for r in direct]
    assert body["days_to_sell"] == pytest.approx(expected_prediction(sent), rel=1e-12)
    for point in body["points"]:
        assert point["days_to_sell"] == pytest.approx(
            expected_prediction({**sent, "asking_price": point["asking_price"]}), rel=1e-12
        )
        assert point["price_position"] == point["asking_price"] / sent["valuation"]
        assert point["price_change"] == point["asking_price"] - sent["asking_price"]
        assert point["days_change"] == point["days_to_sell"] - body["days_to_sell"]


def test_the_advert_itself_scores_as_in_predictions(client: TestClient[Litestar]) -> None:
    sent = advert(asking_price=10_123.45)
    body = sensitivity(client, {"advert": sent})
    [prediction] = client.post("/v1/predictions", json={"adverts": [sent]}).json()["predictions"]

    assert body["days_to_sell"] == prediction["days_to_sell"]
    own = [p for p in body["points"] if p["price_change"] == 0.0]
    assert [p["days_to_sell"] for p in own] == [prediction["days_to_sell"]]


def test_a_grid_in_pounds(client: TestClient[Litestar]) -> None:
    body = sensitivity(client, {"advert": advert(), "grid": {"from_price": 8000, "to_price": 9995, "step": 500}})

    assert [p["asking_price"] for p in body["points"]] == [8495.0, 8995.0, 9495.0, 9995.0]
    assert body["grid"] == {"from_price": 8000.0, "to_price": 9995.0, "step": 500.0, "points": 4}
    assert [p["price_change"] for p in body["points"]] == [-500.0, 0.0, 500.0, 1000.0]


def test_ends_can_mix_a_fraction_and_a_price(client: TestClient[Litestar]) -> None:
    body = sensitivity(client, {"advert": advert(), "grid": {"from_price": 8995, "to_fraction": 1.0}})

    assert [p["asking_price"] for p in body["points"]] == [8995.0, 9245.0]


def test_the_whole_grid_is_one_columnar_call(
    client: TestClient[Litestar], app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = service_state(app).require_scorer().model
    calls: list[int] = []
    original = model.transform_columns

    def counting(columns: dict[str, np.ndarray], select: list[str] | None = None) -> Any:
        calls.append(len(columns["asking_price"]))
        return original(columns, select=select)

    monkeypatch.setattr(model, "transform_columns", counting)
    monkeypatch.setattr(model, "transform", lambda *a, **k: pytest.fail("the row path was used"))

    body = sensitivity(client, {"advert": advert()})

    assert calls == [body["grid"]["points"] + 1]


def test_too_many_points_with_a_given_step_is_a_400(client: TestClient[Litestar]) -> None:
    response = client.post(SENSITIVITY, json={"advert": advert(), "grid": {"step": 1}})

    assert_grid_error(response, "grid.step", f"at most {MAX_POINTS}")


def test_the_default_step_widens_for_an_expensive_car(client: TestClient[Litestar]) -> None:
    sent = advert(asking_price=1_999_999, valuation=2_000_000)
    body = sensitivity(client, {"advert": sent})

    step = body["grid"]["step"]
    assert step % DEFAULT_STEP == 0 and step > DEFAULT_STEP
    assert 400 < body["grid"]["points"] <= MAX_POINTS
    assert body["points"][0]["asking_price"] >= 0.7 * 2_000_000
    assert body["points"][-1]["asking_price"] <= 1.3 * 2_000_000


def test_prices_stay_within_what_an_advert_may_ask(client: TestClient[Litestar]) -> None:
    sent = advert(asking_price=9_500_000, valuation=9_600_000)
    body = sensitivity(client, {"advert": sent, "grid": {"step": 50_000}})

    assert body["grid"]["to_price"] == MAX_PRICE
    assert max(p["asking_price"] for p in body["points"]) == 10_000_000.0


def test_prices_stay_at_or_above_the_cheapest_an_advert_may_ask(client: TestClient[Litestar]) -> None:
    sent = advert(asking_price=MIN_PRICE + 10, valuation=MIN_PRICE + 10)
    body = sensitivity(client, {"advert": sent, "grid": {"from_price": MIN_PRICE, "to_fraction": 2, "step": 1}})

    assert body["grid"]["from_price"] == MIN_PRICE
    assert min(p["asking_price"] for p in body["points"]) >= MIN_PRICE


def test_both_a_fraction_and_a_price_for_one_end_is_a_400(client: TestClient[Litestar]) -> None:
    response = client.post(SENSITIVITY, json={"advert": advert(), "grid": {"from_fraction": 0.8, "from_price": 5000}})

    assert_grid_error(response, "grid.from_price", "not both")


def test_a_range_that_ends_before_it_starts_is_a_400(client: TestClient[Litestar]) -> None:
    response = client.post(SENSITIVITY, json={"advert": advert(), "grid": {"from_price": 9000, "to_price": 8000}})
    assert_grid_error(response, "grid.to_price", "below where it starts")

    response = client.post(SENSITIVITY, json={"advert": advert(), "grid": {"from_fraction": 1.2, "to_fraction": 1.1}})
    assert_grid_error(response, "grid.to_fraction", "below where it starts")


def test_a_range_with_no_grid_price_is_a_400(client: TestClient[Litestar]) -> None:
    response = client.post(SENSITIVITY, json={"advert": advert(), "grid": {"from_price": 9000, "to_price": 9100}})

    assert_grid_error(response, "grid.step", "use a smaller step")


@pytest.mark.parametrize(
    ("grid", "field", "message_part"),
    [
        ({"from_fraction": 0}, "grid.from_fraction", "Expected `float` > 0"),
        ({"to_fraction": 11}, "grid.to_fraction", "<= 10"),
        ({"step": 0.5}, "grid.step", ">= 1"),
        ({"step": "250"}, "grid.step", "got `str`"),
        ({"to_price": 20_000_000}, "grid.to_price", "Expected `float` <="),
        ({"points": 5}, "grid.points", "unknown field"),
    ],
)
def test_invalid_grid_fields_are_400s_naming_the_field(
    client: TestClient[Litestar], grid: dict[str, Any], field: str, message_part: str
) -> None:
    assert_grid_error(client.post(SENSITIVITY, json={"advert": advert(), "grid": grid}), field, message_part)


def test_an_invalid_advert_is_a_400_naming_the_field(client: TestClient[Litestar]) -> None:
    assert_grid_error(client.post(SENSITIVITY, json={"advert": advert(valuation=0)}), "advert.valuation", "Expected")
    assert_grid_error(client.post(SENSITIVITY, json={}), "advert", "missing required field")


def test_malformed_and_empty_bodies_are_400s(client: TestClient[Litestar]) -> None:
    for content in (b"", b"{not json"):
        response = client.post(SENSITIVITY, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.json()["detail"].startswith("Malformed JSON")
