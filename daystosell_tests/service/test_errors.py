"""Reading the field path out of msgspec's error messages."""

from __future__ import annotations

import pytest

from daystosell_service.api.errors import field_error
from daystosell_service.api.schemas import FieldError


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Expected `float`, got `str` - at `$.adverts[0].mileage`",
            FieldError("adverts[0].mileage", "Expected `float`, got `str`"),
        ),
        (
            "Object missing required field `make` - at `$.adverts[12]`",
            FieldError("adverts[12].make", "Object missing required field `make`"),
        ),
        ("Object contains unknown field `x`", FieldError("x", "Object contains unknown field `x`")),
        ("Expected `object`, got `array`", FieldError("$", "Expected `object`, got `array`")),
        # A client chooses unknown field names: one that looks like msgspec's own suffix must not fool us.
        (
            "Object contains unknown field `a - at `$.b`` - at `$.adverts[0]`",
            FieldError("adverts[0].a - at `$.b`", "Object contains unknown field `a - at `$.b``"),
        ),
    ],
)
def test_field_error_names_the_field_and_keeps_the_problem(message: str, expected: FieldError) -> None:
    assert field_error(message) == expected
