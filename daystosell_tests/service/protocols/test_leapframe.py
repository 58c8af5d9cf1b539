"""MLeap serving's LeapFrame transform through Litestar's TestClient: frames in, frames out, every error."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.protocols.columns import MODEL_NAME
from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.app import MAX_BODY_BYTES

from ..support import advert, expected_prediction
from .bodies import BATCH, UNKNOWN_CATEGORIES, adverts, leapframe, native

TRANSFORM = f"/models/{MODEL_NAME}/transform"
PREDICTION_FIELD = {"name": "prediction", "type": {"type": "basic", "base": "double", "isNullable": False}}


def assert_error(response: Any, status: int, *parts: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "error"}, body
    assert body["status"] == "STATUS_ERROR"
    for part in parts:
        assert part in body["error"], body


def with_field(
    frame: dict[str, Any], name: str, *, type_: Any = None, value: Any = None, row: int = 0
) -> dict[str, Any]:
    names = [f["name"] for f in frame["schema"]["fields"]]
    i = names.index(name)
    if type_ is not None:
        frame["schema"]["fields"][i]["type"] = type_
    if value is not None:
        frame["rows"][row][i] = value
    return frame


@pytest.mark.parametrize("n", [1, BATCH])
def test_the_frame_comes_back_with_the_prediction_appended(client: TestClient[Litestar], n: int) -> None:
    items = adverts(n)
    frame = leapframe(items)

    response = client.post(TRANSFORM, json=frame)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schema"]["fields"] == [*frame["schema"]["fields"], PREDICTION_FIELD]
    assert [row[:-1] for row in body["rows"]] == frame["rows"]
    predictions = [row[-1] for row in body["rows"]]
    assert predictions == native(client, items)
    assert predictions == pytest.approx([expected_prediction(a) for a in items], rel=1e-12)


def test_long_form_types_whole_numbers_an_id_column_and_unknown_categories(client: TestClient[Litestar]) -> None:
    items = [UNKNOWN_CATEGORIES, advert(advert_id="ad-9")]
    frame = leapframe(items)
    # MLeap writes a non-nullable column's type in its long form; years may come as JSON integers.
    with_field(frame, "mileage", type_={"type": "basic", "base": "double", "isNullable": False})
    with_field(frame, "listing_year", type_={"type": "basic", "base": "double"})
    with_field(frame, "registration_year", value=2017)
    frame["schema"]["fields"].append({"name": "advert_id", "type": "string"})
    for row, item in zip(frame["rows"], items, strict=True):
        row.append(item["advert_id"])

    response = client.post(TRANSFORM, json=frame)

    assert response.status_code == 200, response.text
    body = response.json()
    # The long form comes back complete: isNullable, when left out, is MLeap's default, true.
    with_field(frame, "listing_year", type_={"type": "basic", "base": "double", "isNullable": True})
    assert body["schema"]["fields"][:-1] == frame["schema"]["fields"]
    assert [row[-2] for row in body["rows"]] == [UNKNOWN_CATEGORIES["advert_id"], "ad-9"]
    assert body["rows"][0][5] == 2017
    assert [row[-1] for row in body["rows"]] == native(client, items)


def frame_of(n: int = 1) -> dict[str, Any]:
    return leapframe(adverts(n))


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        ({}, ["schema", "missing required field"]),
        ({"schema": frame_of()["schema"]}, ["rows", "missing required field"]),
        ({**frame_of(), "tag": 0}, ["tag", "unknown field"]),
        ({"schema": {"fields": [{"name": "make"}]}, "rows": []}, ["schema.fields[0].type", "missing required field"]),
        ({"schema": {"fields": [{"name": "make", "dataType": "string"}]}, "rows": []}, ["dataType", "unknown field"]),
        (with_field(frame_of(), "make", type_={"type": "list", "base": "string"}),
         ["schema.fields[0].type.type", "Invalid enum value 'list'"]),
        (with_field(frame_of(), "make", type_="double"), ["'make'", "type 'double'", "'string'"]),
        (with_field(frame_of(), "mileage", type_="string"), ["'mileage'", "type 'string'", "'double'"]),
        ({**frame_of(), "rows": []}, ["no rows"]),
        ({**frame_of(), "rows": frame_of()["rows"] * (MAX_ADVERTS_PER_REQUEST + 1)}, ["1001 rows"]),
        ({**frame_of(), "rows": [frame_of()["rows"][0][:-1]]}, ["'rows'", "row 0", "10 values", "11 fields"]),
        ({"schema": {"fields": frame_of()["schema"]["fields"][1:]}, "rows": [frame_of()["rows"][0][1:]]},
         ["'make'", "missing column"]),
        ({"schema": {"fields": [*frame_of()["schema"]["fields"], {"name": "colour", "type": "string"}]},
          "rows": [[*frame_of()["rows"][0], "red"]]}, ["'colour'", "unknown column"]),
        ({"schema": {"fields": [*frame_of()["schema"]["fields"], frame_of()["schema"]["fields"][0]]},
          "rows": [[*frame_of()["rows"][0], "Ford"]]}, ["'make'", "more than once"]),
        (with_field(frame_of(2), "mileage", value=-1.0, row=1), ["'mileage'", "row 1", ">= 0"]),
        (with_field(frame_of(), "valuation", value=0.0), ["'valuation'", "row 0", "Expected `float` >"]),
        (with_field(frame_of(), "registration_year", value=2017.25), ["'registration_year'", "int"]),
        (with_field(frame_of(), "mileage", value="many"), ["'mileage'", "got `str`"]),
        (with_field(frame_of(), "make", value=False), ["'make'", "got `bool`"]),
        ({**frame_of(), "rows": [[[1]]]}, ["rows[0][0]", "got `array`"]),
    ],
)
def test_bad_frames_are_400s_naming_the_problem(
    client: TestClient[Litestar], body: dict[str, Any], parts: list[str]
) -> None:
    assert_error(client.post(TRANSFORM, json=body), 400, *parts)


def test_malformed_empty_and_oversized_bodies(client: TestClient[Litestar]) -> None:
    assert_error(client.post(TRANSFORM, content=b'{"schema":'), 400, "malformed JSON")
    assert_error(client.post(TRANSFORM, content=b""), 400, "empty")
    assert_error(client.post(TRANSFORM, content=b" " * (MAX_BODY_BYTES + 1)), 413)


def test_an_unknown_model_is_a_404(client: TestClient[Litestar]) -> None:
    assert_error(client.post("/models/airbnb-lr/transform", json=frame_of()), 404, "unknown model 'airbnb-lr'")


def test_a_valid_advert_the_model_refuses_is_a_422(refusing_client: TestClient[Litestar]) -> None:
    assert refusing_client.post(TRANSFORM, json=leapframe([advert(make="BMW")])).status_code == 200

    assert_error(refusing_client.post(TRANSFORM, json=leapframe([advert(make="Trabant")])), 422, "cannot score")


def test_while_loading_a_transform_is_a_503(loading_client: TestClient[Litestar]) -> None:
    assert_error(loading_client.post(TRANSFORM, json=frame_of()), 503, "not loaded")
