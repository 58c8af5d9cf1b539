"""The scoring API through Litestar's TestClient: predictions, validation errors and probes."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.api.scorer import COLUMNAR_FROM
from daystosell_service.app import MAX_BODY_BYTES, create_app
from daystosell_service.mleap import load_bundle

from .mleap import bundle_writer as bw
from .support import LABELS, MODEL_VERSION, advert, expected_prediction, regression, write_bundle

PREDICT = "/v1/predictions"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def model_rows(adverts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the runtime takes for these adverts: the model inputs, numbers as floats."""
    return [
        {k: float(v) if isinstance(v, int | float) else v for k, v in a.items() if k != "advert_id"}
        for a in adverts
    ]


def assert_field_error(response: Any, field: str, message_part: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status_code"] == 400
    assert body["detail"] == "Validation failed"
    assert [e["field"] for e in body["errors"]] == [field]
    assert message_part in body["errors"][0]["message"]


def test_returns_one_prediction_per_advert_in_order(client: TestClient[Litestar]) -> None:
    adverts = [
        advert(advert_id="a"),
        advert(advert_id="b", make="BMW", model="3 Series", fuel="Diesel", mileage=120_000.5),
        {k: v for k, v in advert(make="Citroen").items() if k != "advert_id"},
    ]

    response = client.post(PREDICT, json={"adverts": adverts})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == MODEL_VERSION
    assert DIGEST.match(body["bundle_digest"])
    assert [p["advert_id"] for p in body["predictions"]] == ["a", "b", None]
    days = [p["days_to_sell"] for p in body["predictions"]]
    assert days == pytest.approx([expected_prediction(a) for a in adverts], rel=1e-12)
    assert len(set(days)) == 3


def test_prediction_equals_the_runtime_scoring_the_advert_directly(
    client: TestClient[Litestar], bundle_dir: Path
) -> None:
    adverts = [advert(), advert(advert_id="x", postcode_area="ZE", body_type="Estate", listing_year=2024)]
    direct = load_bundle(bundle_dir).transform(model_rows(adverts), select=["prediction"])

    response = client.post(PREDICT, json={"adverts": adverts})

    assert [p["days_to_sell"] for p in response.json()["predictions"]] == [
        row["prediction"] for row in direct
    ]


def test_large_batches_score_exactly_as_adverts_sent_one_by_one(client: TestClient[Litestar]) -> None:
    # From COLUMNAR_FROM adverts the scorer takes the runtime's columnar path; one advert, the row path.
    adverts = [advert(advert_id=f"ad-{i}", mileage=float(i * 1013), registration_year=1995 + i % 28,
                      postcode_area=["ZE", "AB", "Nowhere"][i % 3]) for i in range(3 * COLUMNAR_FROM)]
    batch = client.post(PREDICT, json={"adverts": adverts}).json()["predictions"]
    singles = [client.post(PREDICT, json={"adverts": [a]}).json()["predictions"][0] for a in adverts]
    assert [p["days_to_sell"] for p in batch] == [p["days_to_sell"] for p in singles]


def test_batch_of_the_maximum_size_is_scored_in_order(client: TestClient[Litestar]) -> None:
    makes = [*LABELS["make"], "Skoda"]
    adverts = [
        advert(
            advert_id=f"ad-{i}",
            make=makes[i % len(makes)],
            mileage=float(i * 97),
            registration_year=1990 + i % 30,
        )
        for i in range(MAX_ADVERTS_PER_REQUEST)
    ]

    response = client.post(PREDICT, json={"adverts": adverts})

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["advert_id"] for p in predictions] == [a["advert_id"] for a in adverts]
    assert [p["days_to_sell"] for p in predictions] == pytest.approx(
        [expected_prediction(a) for a in adverts]
    )


def test_one_advert_too_many_is_rejected(client: TestClient[Litestar]) -> None:
    response = client.post(PREDICT, json={"adverts": [advert()] * (MAX_ADVERTS_PER_REQUEST + 1)})

    assert_field_error(response, "adverts", f"length <= {MAX_ADVERTS_PER_REQUEST}")


def test_the_largest_valid_batch_fits_under_the_size_limit(client: TestClient[Litestar]) -> None:
    # Every text at its longest, in characters that JSON escapes to 12 bytes each, pretty-printed.
    longest = "\U0001f697" * 64
    texts = ["make", "model", "fuel", "body_type", "postcode_area", "advert_id"]
    adverts = [advert(**dict.fromkeys(texts, longest))] * MAX_ADVERTS_PER_REQUEST
    content = json.dumps({"adverts": adverts}, indent=2, ensure_ascii=True)
    assert len(content) > MAX_BODY_BYTES / 2

    response = client.post(PREDICT, content=content, headers={"content-type": "application/json"})

    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["predictions"]) == MAX_ADVERTS_PER_REQUEST


def test_a_body_over_the_size_limit_is_a_413(client: TestClient[Litestar]) -> None:
    padding = " " * MAX_BODY_BYTES
    response = client.post(
        PREDICT, content=f'{{"adverts": [{padding}]}}', headers={"content-type": "application/json"}
    )

    assert response.status_code == 413


def test_zip_bundle_without_sidecar_reports_its_uid_and_file_digest(bundle_zip: Path) -> None:
    with TestClient(create_app(bundle_zip)) as client:
        body = client.post(PREDICT, json={"adverts": [advert()]}).json()

    assert body["model_version"] == load_bundle(bundle_zip).info.uid
    assert body["bundle_digest"] == "sha256:" + hashlib.sha256(bundle_zip.read_bytes()).hexdigest()
    assert body["predictions"][0]["days_to_sell"] == pytest.approx(expected_prediction(advert()))


@pytest.mark.parametrize(
    ("advert_fields", "field", "message"),
    [
        ({"mileage": None}, "adverts[0].mileage", "Expected `float`, got `null`"),
        ({"mileage": "lots"}, "adverts[0].mileage", "Expected `float`, got `str`"),
        # Strict: a number sent as a string is a client bug, not something to guess at.
        ({"mileage": "42000"}, "adverts[0].mileage", "Expected `float`, got `str`"),
        ({"registration_year": 2017.5}, "adverts[0].registration_year", "Expected `int`, got `float`"),
        ({"registration_year": 2017.0}, "adverts[0].registration_year", "Expected `int`, got `float`"),
        ({"listing_year": True}, "adverts[0].listing_year", "Expected `int`, got `bool`"),
        ({"make": 7}, "adverts[0].make", "Expected `str`, got `int`"),
        ({"make": ["Ford"]}, "adverts[0].make", "Expected `str`, got `array`"),
        ({"mileage": -1}, "adverts[0].mileage", ">= 0"),
        ({"mileage": 1_000_001}, "adverts[0].mileage", "<= 1000000"),
        ({"asking_price": 0}, "adverts[0].asking_price", ">= 1"),
        ({"valuation": 5e-324}, "adverts[0].valuation", ">= 1"),
        ({"valuation": 10_000_000.01}, "adverts[0].valuation", "<= 10000000"),
        ({"registration_year": 1949}, "adverts[0].registration_year", ">= 1950"),
        ({"listing_year": 2101}, "adverts[0].listing_year", "<= 2100"),
        ({"make": ""}, "adverts[0].make", "length >= 1"),
        ({"postcode_area": "X" * 65}, "adverts[0].postcode_area", "length <= 64"),
        ({"advert_id": ""}, "adverts[0].advert_id", "length >= 1"),
        ({"advert_id": 12}, "adverts[0].advert_id", "Expected `str | null`, got `int`"),
        ({"colour": "red"}, "adverts[0].colour", "unknown field `colour`"),
    ],
)
def test_invalid_field_is_a_400_naming_it(
    client: TestClient[Litestar], advert_fields: dict[str, Any], field: str, message: str
) -> None:
    response = client.post(PREDICT, json={"adverts": [advert(**advert_fields)]})

    assert_field_error(response, field, message)


def test_missing_field_is_named_with_its_path(client: TestClient[Litestar]) -> None:
    broken = {k: v for k, v in advert().items() if k != "valuation"}

    response = client.post(PREDICT, json={"adverts": [advert(), advert(), broken]})

    assert_field_error(response, "adverts[2].valuation", "missing required field `valuation`")


def test_extra_field_in_a_later_advert_is_named(client: TestClient[Litestar]) -> None:
    response = client.post(PREDICT, json={"adverts": [advert(), {**advert(), "trim": {"level": "Zetec"}}]})

    assert_field_error(response, "adverts[1].trim", "unknown field `trim`")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "adverts", "missing required field `adverts`"),
        ({"adverts": []}, "adverts", "length >= 1"),
        ({"adverts": {"make": "Ford"}}, "adverts", "Expected `array`, got `object`"),
        ({"adverts": [None]}, "adverts[0]", "Expected `object`, got `null`"),
        ({"adverts": [advert()], "dry_run": True}, "dry_run", "unknown field `dry_run`"),
        ([advert()], "$", "Expected `object`, got `array`"),
    ],
)
def test_invalid_body_shape_is_a_400_naming_where(
    client: TestClient[Litestar], body: Any, field: str, message: str
) -> None:
    assert_field_error(client.post(PREDICT, json=body), field, message)


def test_a_number_too_large_for_a_float_is_named(client: TestClient[Litestar]) -> None:
    # Python's json module cannot write 1e400, so the body is spliced by hand.
    content = json.dumps({"adverts": [advert(mileage=123456789)]}).replace("123456789", "1e400")

    response = client.post(PREDICT, content=content, headers={"content-type": "application/json"})

    assert_field_error(response, "adverts[0].mileage", "Number out of range")


VALID_BODY = json.dumps({"adverts": [advert(make="MAKE")]}).encode()


@pytest.mark.parametrize(
    "content",
    [VALID_BODY[:-3], b"adverts=1", VALID_BODY + b" trailing", b"", VALID_BODY.replace(b"MAKE", b"\xff\xfe")],
    ids=["truncated", "not-json", "trailing-garbage", "empty", "invalid-utf8"],
)
def test_malformed_json_is_a_400_saying_so(client: TestClient[Litestar], content: bytes) -> None:
    response = client.post(PREDICT, content=content, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON")


# Values of every JSON type, and edge cases of each, for every field: each must give a 200 or a 400.
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -0.0,
    1e308,
    -1e308,
    2**64,
    "",
    " ",
    "0",
    "🚗" * 64,
    [],
    {},
    [1],
    {"a": 1},
]


@pytest.mark.parametrize("field", list(advert()))
def test_no_value_in_any_field_causes_a_server_error(client: TestClient[Litestar], field: str) -> None:
    for value in ODD_VALUES:
        response = client.post(PREDICT, json={"adverts": [advert(**{field: value})]})

        assert response.status_code in (200, 400), (field, value, response.text)
        if response.status_code == 400:
            assert response.json()["errors"][0]["field"] == f"adverts[0].{field}"


@pytest.mark.parametrize("size", [2, COLUMNAR_FROM + 1])
@pytest.mark.parametrize("handle_invalid", ["error", "skip"])
def test_an_advert_the_model_refuses_is_a_422_not_a_500(tmp_path: Path, handle_invalid: str, size: int) -> None:
    indexer = bw.string_indexer("make_indexer", "make", "make_index", LABELS["make"], handle_invalid)
    bundle = write_bundle(
        tmp_path / "bundle", bw.pipeline("pipeline", indexer, *regression(["make_index"], [2.0], 1.0))
    )

    with TestClient(create_app(bundle, golden_check=False)) as client:
        known = client.post(PREDICT, json={"adverts": [advert(make="BMW")]})
        unknown = client.post(PREDICT, json={"adverts": [advert(make="BMW")] * (size - 1) + [advert(make="Trabant")]})

    assert known.status_code == 200
    assert known.json()["predictions"][0]["days_to_sell"] == 1.0 + 2.0 * LABELS["make"].index("BMW")
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["detail"].startswith("Cannot score the adverts:")


def test_probes_when_ready(client: TestClient[Litestar]) -> None:
    live = client.get("/health/live")
    ready = client.get("/health/ready")

    assert (live.status_code, live.json()) == (200, {"status": "alive"})
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["model_version"] == MODEL_VERSION
    assert DIGEST.match(ready.json()["bundle_digest"])


def test_not_ready_and_no_predictions_until_the_lifespan_has_loaded_the_bundle(app: Litestar) -> None:
    # Without the context manager the TestClient never runs the lifespan, so the bundle is never loaded.
    client = TestClient(app)

    assert client.get("/health/live").status_code == 200
    not_ready = client.get("/health/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["detail"] == "The model is not loaded yet"
    assert client.post(PREDICT, json={"adverts": [advert()]}).status_code == 503

    with client:
        assert client.get("/health/ready").status_code == 200
        assert client.post(PREDICT, json={"adverts": [advert()]}).status_code == 200


def test_openapi_documents_the_request_constraints(client: TestClient[Litestar]) -> None:
    spec = client.get("/schema/openapi.json").json()
    operation = spec["paths"][PREDICT]["post"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    advert_ref = request_schema["properties"]["adverts"]["items"]["$ref"]
    advert_schema = spec["components"]["schemas"][advert_ref.rsplit("/", 1)[1]]

    assert set(operation["responses"]) >= {"200", "400", "503"}
    assert advert_schema["properties"]["mileage"]["minimum"] == 0
    assert advert_schema["properties"]["registration_year"]["maximum"] == 2100
    assert "advert_id" not in advert_schema["required"]
    assert "valuation" in advert_schema["required"]
