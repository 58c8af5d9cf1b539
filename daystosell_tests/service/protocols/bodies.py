"""Request bodies of the three protocols, written from their specs, and the native API's answer to compare."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from daystosell_service.api.scorer import COLUMNAR_FROM

from ..support import advert

TEXT_INPUTS = ("make", "model", "fuel", "body_type", "postcode_area")


def adverts(n: int) -> list[dict[str, Any]]:
    """``n`` distinct adverts without ids, every third with categories the model never saw."""
    return [
        advert(
            mileage=float(i * 1013) + 0.5,
            registration_year=1995 + i % 28,
            make=["Ford", "Lada", "BMW"][i % 3],
            postcode_area=["LS", "ZE", "Nowhere"][i % 3],
        )
        for i in range(n)
    ]


def without_id(a: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in a.items() if k != "advert_id"}


# A batch that takes the scorer's columnar path, and one advert, which takes its row path.
BATCH = COLUMNAR_FROM + 5
UNKNOWN_CATEGORIES = advert(make="Trabant", model="601", fuel="Two-stroke", body_type="Estate", postcode_area="ZZ")


def native(client: TestClient[Litestar], items: list[dict[str, Any]]) -> list[float]:
    response = client.post("/v1/predictions", json={"adverts": items})
    assert response.status_code == 200, response.text
    return [p["days_to_sell"] for p in response.json()["predictions"]]


def oip_inputs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One tensor per model input, as the OIP spec's JSON: BYTES for text, FP64 (sent as doubles) for numbers."""
    names = list(without_id(items[0]))
    return [
        {
            "name": name,
            "shape": [len(items)],
            "datatype": "BYTES" if name in TEXT_INPUTS else "FP64",
            "data": [a[name] if name in TEXT_INPUTS else float(a[name]) for a in items],
        }
        for name in names
    ]


def oip_request(items: list[dict[str, Any]], request_id: str | None = "req-1") -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": oip_inputs(items)}
    if request_id is not None:
        body["id"] = request_id
    return body


def dataframe_split(items: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(without_id(items[0]))
    return {"dataframe_split": {"columns": columns, "data": [[a[c] for c in columns] for a in items]}}


def leapframe(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A JSON LeapFrame as MLeap's docs show one: a schema of named, typed fields and rows of values."""
    columns = list(without_id(items[0]))
    return {
        "schema": {
            "fields": [{"name": c, "type": "string" if c in TEXT_INPUTS else "double"} for c in columns]
        },
        "rows": [[a[c] if c in TEXT_INPUTS else float(a[c]) for c in columns] for a in items],
    }
