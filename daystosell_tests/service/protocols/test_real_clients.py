"""Each protocol spoken by a client its own project wrote, to a real server: Triton's HTTP client for OIP V2,
MLflow's scoring-server client, and for the LeapFrame (which has no Python client) raw HTTP with a body laid out
as MLeap's Spring Boot docs show one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from tritonclient.utils import InferenceServerException

from daystosell_service.api.protocols.columns import MODEL_NAME
from daystosell_service.launcher import RunningService

from ..support import MODEL_VERSION, advert
from .bodies import BATCH, TEXT_INPUTS, UNKNOWN_CATEGORIES, adverts, without_id


def native(server: RunningService, items: list[dict[str, Any]]) -> list[float]:
    response = httpx.post(f"{server.url}/v1/predictions", json={"adverts": items}, timeout=30)
    assert response.status_code == 200, response.text
    return [p["days_to_sell"] for p in response.json()["predictions"]]


def host_port(server: RunningService) -> tuple[str, int]:
    url = urlsplit(server.url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


# --- Open Inference Protocol V2: tritonclient[http] ---------------------------------------------------------


@pytest.fixture(scope="module")
def triton_client(server: RunningService) -> triton.InferenceServerClient:
    host, port = host_port(server)
    return triton.InferenceServerClient(url=f"{host}:{port}")


def triton_inputs(items: list[dict[str, Any]], binary: bool) -> list[triton.InferInput]:
    inputs = []
    for name in without_id(items[0]):
        if name in TEXT_INPUTS:
            values = np.array([a[name].encode() for a in items], dtype=np.object_)
            tensor = triton.InferInput(name, [len(items)], "BYTES")
        else:
            values = np.array([a[name] for a in items], dtype=np.float64)
            tensor = triton.InferInput(name, [len(items)], "FP64")
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_triton_client_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready(MODEL_NAME)
    assert not triton_client.is_model_ready("resnet50")
    assert triton_client.get_server_metadata()["extensions"] == ["binary_tensor_data"]
    metadata = triton_client.get_model_metadata(MODEL_NAME)
    assert metadata["versions"] == [MODEL_VERSION]
    assert {t["name"]: t["datatype"] for t in metadata["inputs"]}["make"] == "BYTES"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("n", [1, BATCH])
def test_triton_client_infers_as_the_native_api(
    server: RunningService, triton_client: triton.InferenceServerClient, binary: bool, n: int
) -> None:
    items = [UNKNOWN_CATEGORIES, *adverts(n - 1)]
    # Without outputs the client asks for every output in binary; the server answers in JSON, which it reads too.
    outputs = [triton.InferRequestedOutput("prediction", binary_data=False)] if not binary else None

    result = triton_client.infer(MODEL_NAME, triton_inputs(items, binary), outputs=outputs, request_id=f"t-{n}")

    assert result.get_response()["id"] == f"t-{n}"
    predictions = result.as_numpy("prediction")
    assert predictions is not None and predictions.dtype == np.float64
    assert predictions.tolist() == native(server, items)


def test_triton_client_sees_the_protocols_errors(triton_client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as unknown_model:
        triton_client.infer("resnet50", triton_inputs([advert()], binary=False))
    assert unknown_model.value.status() == "404"
    assert "unknown model 'resnet50'" in unknown_model.value.message()

    with pytest.raises(InferenceServerException) as bad_input:
        triton_client.infer(MODEL_NAME, triton_inputs([advert(mileage=-3.0)], binary=True))
    assert bad_input.value.status() == "400"
    assert "input 'mileage', element 0" in bad_input.value.message()


# --- MLflow scoring protocol: MLflow's own ScoringServerClient ----------------------------------------------


@pytest.fixture(scope="module")
def mlflow_client(server: RunningService) -> ScoringServerClient:
    client = ScoringServerClient(*host_port(server))
    client.wait_server_ready(timeout=30)
    return client


def test_mlflow_client_pings_and_reads_the_version(mlflow_client: ScoringServerClient) -> None:
    mlflow_client.ping()
    assert mlflow_client.get_version() == MODEL_VERSION


@pytest.mark.parametrize("n", [1, BATCH])
def test_mlflow_client_scores_a_dataframe_as_the_native_api(
    server: RunningService, mlflow_client: ScoringServerClient, n: int
) -> None:
    items = [UNKNOWN_CATEGORIES, *adverts(n - 1)]
    # The client sends a DataFrame as dataframe_split, with pandas' index.
    frame = pd.DataFrame([without_id(a) for a in items])

    response = mlflow_client.invoke(frame)

    assert response.get_predictions(predictions_format="ndarray").tolist() == native(server, items)


def test_mlflow_client_scores_records_sent_as_inputs(
    server: RunningService, mlflow_client: ScoringServerClient
) -> None:
    items = adverts(3)

    response = mlflow_client.invoke([without_id(a) for a in items])

    assert response["predictions"] == native(server, items)


def test_mlflow_client_sees_the_protocols_errors(mlflow_client: ScoringServerClient) -> None:
    with pytest.raises(Exception, match=r"error code 400.*BAD_REQUEST.*'valuation'"):
        mlflow_client.invoke(pd.DataFrame([without_id(advert(valuation=-1.0))]))


# --- MLeap LeapFrame: raw HTTP, the body as MLeap's docs lay one out ----------------------------------------

# A JSON LeapFrame in the layout of MLeap's docs and benchmark frames: fields with a name and a basic type,
# then the rows in the fields' order. The second row's make and postcode area are unknown to the model.
LEAPFRAME_BODY = """{
  "schema": {
    "fields": [{
      "name": "make",
      "type": "string"
    }, {
      "name": "model",
      "type": "string"
    }, {
      "name": "fuel",
      "type": "string"
    }, {
      "name": "body_type",
      "type": "string"
    }, {
      "name": "postcode_area",
      "type": "string"
    }, {
      "name": "registration_year",
      "type": "double"
    }, {
      "name": "listing_year",
      "type": "double"
    }, {
      "name": "listing_month",
      "type": "double"
    }, {
      "name": "mileage",
      "type": "double"
    }, {
      "name": "asking_price",
      "type": "double"
    }, {
      "name": "valuation",
      "type": "double"
    }]
  },
  "rows": [["Ford", "Fiesta", "Petrol", "Hatchback", "LS", 2017.0, 2023.0, 6.0, 42000.0, 8995.0, 9400.0],
           ["Lada", "Niva", "Petrol", "SUV", "ZE", 2009.0, 2024.0, 3.0, 98000.5, 2500.0, 2750.0]]
}"""


def test_a_leapframe_as_mleaps_docs_show_it_is_transformed(server: RunningService) -> None:
    # The headers of the Spring Boot README's curl example, timeout included.
    response = httpx.post(
        f"{server.url}/models/{MODEL_NAME}/transform",
        content=LEAPFRAME_BODY.encode(),
        headers={"Content-Type": "application/json", "timeout": "1000"},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["name"] for f in body["schema"]["fields"]][-1] == "prediction"
    items = [
        advert(make="Ford", model="Fiesta", fuel="Petrol", body_type="Hatchback", postcode_area="LS",
               registration_year=2017, listing_year=2023, mileage=42000.0, asking_price=8995.0, valuation=9400.0),
        advert(make="Lada", model="Niva", fuel="Petrol", body_type="SUV", postcode_area="ZE",
               registration_year=2009, listing_year=2024, listing_month=3, mileage=98000.5, asking_price=2500.0,
               valuation=2750.0),
    ]
    assert [row[-1] for row in body["rows"]] == native(server, items)


def test_a_leapframe_for_another_model_is_mleaps_error(server: RunningService) -> None:
    response = httpx.post(f"{server.url}/models/airbnb-lr/transform", content=LEAPFRAME_BODY.encode(),
                          headers={"Content-Type": "application/json"}, timeout=30)

    assert response.status_code == 404
    assert response.json()["status"] == "STATUS_ERROR"
