"""The two ways a bundle can fail: at load (the bundle is wrong) or at transform (a row is wrong)."""

from __future__ import annotations


class BundleError(ValueError):
    """The bundle cannot be loaded: unreadable, malformed, unsafe, or using an unsupported op.

    Raised only by ``load_bundle``; a loaded model never raises it, so every bundle problem surfaces
    before the service starts taking requests.
    """


class TransformError(ValueError):
    """A row cannot be scored, e.g. a missing column, a null or non-numeric value, or an unseen label
    under ``handle_invalid="error"``. The message names the row, the stage and the column."""


class RowError(TransformError):
    """A bad row found by a columnar step: ``index`` is its position in the chunk the step was given
    (the columnar runner turns it into the row's position in the caller's columns)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
