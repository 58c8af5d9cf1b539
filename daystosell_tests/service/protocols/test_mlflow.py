"""MLflow's scoring protocol through Litestar's TestClient: each input format, the probes and every error."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.app import MAX_BODY_BYTES

from ..support import MODEL_VERSION, advert, expected_prediction
from .bodies import BATCH, UNKNOWN_CATEGORIES, adverts, dataframe_split, native, without_id

INVOCATIONS = "/invocations"


def assert_error(response: Any, status: int, code: str, *parts: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code
    for part in parts:
        assert part in body["message"], body


def bodies(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same adverts in each of the formats MLflow's scoring server takes."""
    records = [without_id(a) for a in items]
    columns = {c: [r[c] for r in records] for c in records[0]}
    split = dataframe_split(items)
    split["dataframe_split"]["index"] = list(range(len(items)))
    return {
        "dataframe_split": split,
        "dataframe_records": {"dataframe_records": records},
        "instances_records": {"instances": records},
        "instances_columns": {"instances": columns},
        "inputs_records": {"inputs": records},
        "inputs_columns": {"inputs": columns, "params": {}},
    }


@pytest.mark.parametrize("n", [1, BATCH])
@pytest.mark.parametrize("form", list(bodies(adverts(1))))
def test_every_format_scores_as_the_native_api(client: TestClient[Litestar], n: int, form: str) -> None:
    items = adverts(n)

    response = client.post(INVOCATIONS, json=bodies(items)[form])

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert predictions == native(client, items)
    assert predictions == pytest.approx([expected_prediction(a) for a in items], rel=1e-12)


def test_unknown_categories_are_scored_and_ids_are_accepted(client: TestClient[Litestar]) -> None:
    items = [UNKNOWN_CATEGORIES, advert(advert_id="x-2")]

    response = client.post(INVOCATIONS, json={"dataframe_records": items})

    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": native(client, items)}


def test_probes_and_version(client: TestClient[Litestar]) -> None:
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert (response.status_code, response.text) == (200, "\n")
    assert client.get("/version").text == MODEL_VERSION
    # The native probes beside MLflow's /health are untouched.
    assert client.get("/health/ready").json()["status"] == "ready"


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        ({}, ["exactly one of", "[]"]),
        ({**bodies(adverts(1))["dataframe_records"], "inputs": [without_id(advert())]},
         ["exactly one of", "'dataframe_records', 'inputs'"]),
        ({"dataframe_records": [without_id(advert())], "columns": []}, ["columns", "unknown field"]),
        ({"dataframe_records": [without_id(advert())], "params": {"alpha": 1}}, ["params.alpha", "no params"]),
        ({"dataframe_records": []}, ["no rows"]),
        ({"dataframe_records": [without_id(advert())] * (MAX_ADVERTS_PER_REQUEST + 1)}, ["1001 rows"]),
        ({"dataframe_records": [{**without_id(advert()), "colour": "red"}]}, ["'colour'", "row 0", "unknown column"]),
        ({"dataframe_records": [without_id(advert()), {k: v for k, v in advert().items() if k != "mileage"}]},
         ["'mileage'", "row 1", "missing column"]),
        ({"dataframe_records": [without_id(advert(mileage=-1))]}, ["'mileage'", "row 0", ">= 0"]),
        ({"dataframe_records": [without_id(advert(asking_price="9000"))]}, ["'asking_price'", "got `str`"]),
        ({"dataframe_records": [without_id(advert(listing_year=2023.5))]}, ["'listing_year'", "int"]),
        ({"dataframe_records": [without_id(advert(make=""))]}, ["'make'", "length >= 1"]),
        ({"dataframe_records": [without_id(advert(make="x" * 65))]}, ["'make'", "length <= 64"]),
        ({"dataframe_records": [without_id(advert(make=None))]}, ["'make'", "row 0", "Expected `str`, got `null`"]),
        ({"dataframe_records": [without_id(advert(make=True))]}, ["'make'", "row 0", "Expected `str`, got `bool`"]),
        ({"dataframe_split": {"columns": ["make"], "data": [["Ford", "x"]]}},
         ["dataframe_split.data", "2 values for 1 columns"]),
        ({"dataframe_split": {**dataframe_split(adverts(2))["dataframe_split"], "index": [0]}},
         ["dataframe_split.index", "1 labels for 2 rows"]),
        ({"dataframe_split": {"data": []}}, ["dataframe_split.columns", "missing required field"]),
        ({"inputs": {**{c: [v] for c, v in without_id(advert()).items()}, "mileage": [1.0, 2.0]}},
         ["'mileage'", "2 values where the others have 1"]),
        ({"inputs": [[1.0, 2.0]]}, ["inputs[0]", "Expected `object`, got `array`"]),
        ({"instances": "Ford"}, ["instances", "got `str`"]),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(
    client: TestClient[Litestar], body: dict[str, Any], parts: list[str]
) -> None:
    assert_error(client.post(INVOCATIONS, json=body), 400, "BAD_REQUEST", *parts)


def test_malformed_empty_oversized_and_non_json_bodies(client: TestClient[Litestar]) -> None:
    json_type = {"Content-Type": "application/json"}
    assert_error(client.post(INVOCATIONS, content=b"{", headers=json_type), 400, "BAD_REQUEST", "malformed JSON")
    assert_error(client.post(INVOCATIONS, content=b"", headers=json_type), 400, "BAD_REQUEST", "empty")
    assert_error(client.post(INVOCATIONS, content=b"[]", headers=json_type), 400, "BAD_REQUEST", "object")
    assert_error(client.post(INVOCATIONS, content=b" " * (MAX_BODY_BYTES + 1), headers=json_type), 413,
                 "RESOURCE_EXHAUSTED")
    csv = {"Content-Type": "text/csv"}
    assert_error(client.post(INVOCATIONS, content=b"make\nFord\n", headers=csv), 415, "BAD_REQUEST", "text/csv")
    latin = {"Content-Type": "application/json; charset=latin-1"}
    assert_error(client.post(INVOCATIONS, content=b"{}", headers=latin), 415, "BAD_REQUEST", "UTF-8")
    utf8 = {"Content-Type": "application/json; charset=UTF-8"}
    assert client.post(INVOCATIONS, content=b'{"dataframe_records": []}', headers=utf8).status_code == 400


def test_a_valid_advert_the_model_refuses_is_mlflows_400(refusing_client: TestClient[Litestar]) -> None:
    assert refusing_client.post(INVOCATIONS, json={"inputs": [without_id(advert(make="BMW"))]}).status_code == 200

    response = refusing_client.post(INVOCATIONS, json={"inputs": [without_id(advert(make="Trabant"))]})

    assert_error(response, 400, "BAD_REQUEST", "cannot score")


def test_while_loading_ping_fails_and_scoring_is_a_503(loading_client: TestClient[Litestar]) -> None:
    assert loading_client.get("/ping").status_code == 503
    assert loading_client.get("/health").status_code == 503
    response = loading_client.post(INVOCATIONS, json=bodies(adverts(1))["dataframe_records"])
    assert_error(response, 503, "TEMPORARILY_UNAVAILABLE", "not loaded")
    assert_error(loading_client.get("/version"), 503, "TEMPORARILY_UNAVAILABLE")
