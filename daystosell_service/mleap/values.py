"""Checks of the values a caller passes in, shared by the row and columnar paths so both word their
errors alike."""

from __future__ import annotations

import numbers
from typing import Any

from .errors import TransformError


def to_double(value: Any, column: str) -> float:
    """Slow path of the input check: anything that is not already a float."""
    if type(value) is int:  # the common case, without the slower ABC check below
        try:
            return float(value)
        except OverflowError:
            raise TransformError(f"column {column!r}: {value} is too large for a double") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        found = "null" if value is None else type(value).__name__
        raise TransformError(f"column {column!r} must be a number, found {found}")
    try:
        return float(value)
    except OverflowError:
        raise TransformError(f"column {column!r}: {value} is too large for a double") from None


def not_a_string(value: Any, column: str) -> TransformError:
    return TransformError(f"column {column!r} must be a string or null, found {type(value).__name__}")
