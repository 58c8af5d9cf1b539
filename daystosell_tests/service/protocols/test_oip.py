"""Open Inference Protocol V2 through Litestar's TestClient: health, metadata, inference and every error."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.protocols.columns import MODEL_NAME
from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.app import MAX_BODY_BYTES

from ..support import MODEL_VERSION, advert, expected_prediction
from .bodies import BATCH, TEXT_INPUTS, UNKNOWN_CATEGORIES, adverts, native, oip_inputs, oip_request, without_id

INFER = f"/v2/models/{MODEL_NAME}/infer"


def assert_error(response: Any, status: int, *parts: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    for part in parts:
        assert part in body["error"], body


def with_input(items: list[dict[str, Any]], name: str, **changes: Any) -> dict[str, Any]:
    body = oip_request(items)
    [tensor] = [t for t in body["inputs"] if t["name"] == name]
    tensor.update(changes)
    return body


def test_health_and_server_metadata(client: TestClient[Litestar]) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    model_ready = client.get(f"/v2/models/{MODEL_NAME}/ready")
    assert (model_ready.status_code, model_ready.json()) == (200, {"name": MODEL_NAME, "ready": True})
    server = client.get("/v2").json()
    assert server == {"name": "daystosell", "version": MODEL_VERSION, "extensions": ["binary_tensor_data"]}


def test_model_metadata_names_every_input_with_its_datatype(client: TestClient[Litestar]) -> None:
    metadata = client.get(f"/v2/models/{MODEL_NAME}").json()

    assert metadata["name"] == MODEL_NAME
    assert metadata["versions"] == [MODEL_VERSION]
    inputs = {t["name"]: t["datatype"] for t in metadata["inputs"]}
    assert inputs == {name: "BYTES" if name in TEXT_INPUTS else "FP64" for name in without_id(advert())}
    assert metadata["outputs"] == [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]


@pytest.mark.parametrize("n", [1, BATCH])
def test_infer_scores_as_the_native_api_and_echoes_the_id(client: TestClient[Litestar], n: int) -> None:
    items = adverts(n)

    response = client.post(INFER, json=oip_request(items, request_id="abc-123"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "abc-123"
    assert (body["model_name"], body["model_version"]) == (MODEL_NAME, MODEL_VERSION)
    [output] = body["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("prediction", "FP64", [n])
    assert output["data"] == native(client, items)
    assert output["data"] == pytest.approx([expected_prediction(a) for a in items], rel=1e-12)


def test_unknown_categories_are_scored(client: TestClient[Litestar]) -> None:
    response = client.post(INFER, json=oip_request([UNKNOWN_CATEGORIES]))

    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == native(client, [UNKNOWN_CATEGORIES])


def test_no_id_means_none_echoed_and_shape_n_by_1_nested_data_and_outputs_are_accepted(
    client: TestClient[Litestar],
) -> None:
    items = adverts(3)
    body = oip_request(items, request_id=None)
    for tensor in body["inputs"]:
        tensor["shape"] = [3, 1]
        tensor["data"] = [[v] for v in tensor["data"]]
    body["outputs"] = [{"name": "prediction"}]
    body["parameters"] = {"content_type": "pd"}

    response = client.post(INFER, json=body)

    assert response.status_code == 200, response.text
    assert "id" not in response.json()
    assert response.json()["outputs"][0]["data"] == native(client, items)


def binary_body(items: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    """The binary tensor data extension, as its spec lays it out: the JSON header, then each tensor's bytes."""
    inputs, raw = [], b""
    for tensor in oip_inputs(items):
        if tensor["datatype"] == "FP64":
            data = np.asarray(tensor.pop("data"), dtype="<f8").tobytes()
        else:
            data = b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in tensor.pop("data"))
        tensor["parameters"] = {"binary_data_size": len(data)}
        inputs.append(tensor)
        raw += data
    header = json.dumps({"id": "bin", "inputs": inputs}).encode()
    headers = {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}
    return header + raw, headers


def test_binary_tensor_data_scores_as_json_does(client: TestClient[Litestar]) -> None:
    items = adverts(BATCH)
    body, headers = binary_body(items)

    response = client.post(INFER, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == native(client, items)


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        ({}, ["inputs", "missing required field"]),
        ({"inputs": []}, ["inputs", "length >= 1"]),
        ({**oip_request(adverts(1)), "colour": "red"}, ["colour", "unknown field"]),
        ({"inputs": oip_request(adverts(1))["inputs"][1:]}, ["'make'", "missing column"]),
        ({"inputs": [*oip_request(adverts(1))["inputs"], {"name": "colour", "shape": [1], "datatype": "BYTES",
                                                          "data": ["red"]}]}, ["'colour'", "unknown column"]),
        ({"inputs": [*oip_request(adverts(1))["inputs"], oip_request(adverts(1))["inputs"][0]]},
         ["'make'", "more than once"]),
        (with_input(adverts(1), "make", datatype="INT64", data=[1]), ["'make'", "INT64", "BYTES"]),
        (with_input(adverts(1), "mileage", datatype="FP32"), ["'mileage'", "FP32", "FP64"]),
        (with_input(adverts(2), "mileage", shape=[1, 2]), ["'mileage'", "[N] or [N, 1]"]),
        (with_input(adverts(2), "mileage", shape=[3]), ["'mileage'", "2 values", "[3]"]),
        (with_input(adverts(2), "mileage", shape=[1], data=[1.0]), ["'mileage'", "1 values where the others have 2"]),
        (with_input(adverts(1), "mileage", data=None), ["'mileage'", "no data"]),
        (with_input(adverts(2), "mileage", data=[1.0, -5.0]), ["input 'mileage', element 1", ">= 0"]),
        (with_input(adverts(1), "registration_year", data=[2017.5]), ["'registration_year'", "int"]),
        (with_input(adverts(1), "registration_year", data=[1900.0]), ["'registration_year'", ">= 1950"]),
        (with_input(adverts(1), "mileage", data=["12000"]), ["'mileage'", "Expected `float`, got `str`"]),
        (with_input(adverts(1), "make", data=[""]), ["'make'", "length >= 1"]),
        (with_input(adverts(1), "make", data=[True]), ["input 'make', element 0", "Expected `str`, got `bool`"]),
        (with_input(adverts(1), "make", data=[None]), ["input 'make', element 0", "Expected `str`, got `null`"]),
        (with_input(adverts(1), "mileage", shape=[-1]), ["inputs[8].shape[0]", ">= 0"]),
        ({**oip_request(adverts(1)), "outputs": [{"name": "features"}]}, ["features", "unknown output"]),
        ({**oip_request(adverts(1)), "id": 7}, ["id", "Expected `str | null`"]),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(
    client: TestClient[Litestar], body: dict[str, Any], parts: list[str]
) -> None:
    assert_error(client.post(INFER, json=body), 400, *parts)


def test_malformed_empty_and_oversized_bodies(client: TestClient[Litestar]) -> None:
    assert_error(client.post(INFER, content=b"{\"inputs\": ["), 400, "malformed JSON")
    assert_error(client.post(INFER, content=b""), 400, "empty")
    assert_error(client.post(INFER, content=b"\xff\xfe"), 400, "malformed JSON")
    assert_error(client.post(INFER, content=b" " * (MAX_BODY_BYTES + 1)), 413)


@pytest.mark.parametrize("n", [0, MAX_ADVERTS_PER_REQUEST + 1])
def test_batches_out_of_bounds_are_400s(client: TestClient[Litestar], n: int) -> None:
    body = oip_request(adverts(1))
    for tensor in body["inputs"]:
        tensor["shape"] = [n]
        tensor["data"] = tensor["data"] * n

    assert_error(client.post(INFER, json=body), 400, "rows")


def test_bad_binary_data_is_a_400(client: TestClient[Litestar]) -> None:
    body, headers = binary_body(adverts(2))

    assert_error(client.post(INFER, content=body, headers={**headers, "Inference-Header-Content-Length": "x"}),
                 400, "inference-header-content-length")
    assert_error(client.post(INFER, content=body[:-3], headers=headers), 400, "overruns")
    assert_error(client.post(INFER, content=body + b"\0", headers=headers), 400, "1 bytes of binary data")
    bad_utf8 = body.replace(struct.pack("<I", 4) + b"Ford", struct.pack("<I", 4) + b"\xff\xfe\xfd\xfc", 1)
    assert bad_utf8 != body
    assert_error(client.post(INFER, content=bad_utf8, headers=headers), 400, "'make'", "not UTF-8")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/other/infer"),
        ("GET", "/v2/models/other"),
        ("GET", "/v2/models/other/ready"),
    ],
)
def test_an_unknown_model_is_a_404(client: TestClient[Litestar], method: str, path: str) -> None:
    response = client.request(method, path, json=oip_request(adverts(1)) if method == "POST" else None)

    assert_error(response, 404, "unknown model 'other'")


def test_a_valid_advert_the_model_refuses_is_a_422(refusing_client: TestClient[Litestar]) -> None:
    assert refusing_client.post(INFER, json=oip_request([advert(make="BMW")])).status_code == 200

    assert_error(refusing_client.post(INFER, json=oip_request([advert(make="Trabant")])), 422, "cannot score")


def test_while_loading_ready_says_no_and_inference_is_a_503(loading_client: TestClient[Litestar]) -> None:
    assert loading_client.get("/v2/health/live").status_code == 200
    ready = loading_client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (503, {"ready": False})
    model_ready = loading_client.get(f"/v2/models/{MODEL_NAME}/ready")
    assert (model_ready.status_code, model_ready.json()) == (503, {"name": MODEL_NAME, "ready": False})
    assert_error(loading_client.post(INFER, json=oip_request(adverts(1))), 503, "not loaded")
    assert_error(loading_client.get(f"/v2/models/{MODEL_NAME}"), 503, "not loaded")


def test_the_native_api_keeps_its_own_error_shape(client: TestClient[Litestar]) -> None:
    # The OIP handlers are the /v2 controller's alone: a bad native request still gets the native shape.
    response = client.post("/v1/predictions", content=b"{")

    assert response.status_code == 400
    assert set(response.json()) >= {"status_code", "detail"}
