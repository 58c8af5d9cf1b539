"""A method a path does not allow is a 405 in that path's protocol's error shape (Litestar's router raises it
before any controller, so each protocol's own handler would never see it)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient


@pytest.mark.parametrize(
    ("method", "path", "shape"),
    [
        ("GET", "/v2/models/daystosell/infer", {"error"}),
        ("DELETE", "/v2/health/live", {"error"}),
        ("GET", "/invocations", {"error_code", "message"}),
        ("POST", "/ping", {"error_code", "message"}),
        ("GET", "/models/daystosell/transform", {"status", "error"}),
        ("GET", "/v1/predictions", {"status_code", "detail"}),
    ],
)
def test_wrong_method_is_a_405_in_the_protocols_shape(client: TestClient[Litestar], method: str, path: str,
                                                      shape: set[str]) -> None:
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert set(response.json()) == shape
    assert "allow" in {h.lower() for h in response.headers}
