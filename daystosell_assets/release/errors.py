"""Errors of the release step. Each message says what failed and what to do about it, because the
person reading it is usually looking at a failed Dagster run or CI log, not at this code."""

from __future__ import annotations

SETUP_HINT = "run scripts/setup.sh (or just: bash deploy/containers/base-image.sh)"


class ReleaseError(RuntimeError):
    """Base class: anything that stops an image from being built, run or verified."""


class ToolMissingError(ReleaseError):
    pass


class ToolFailedError(ReleaseError):
    pass


class BaseImageMissingError(ReleaseError):
    pass


class BuildContextError(ReleaseError):
    pass


class ImageBuildError(ReleaseError):
    pass


class ContainerStartError(ReleaseError):
    pass


class GoldenTestError(ReleaseError):
    """The golden test could not run (bad file, HTTP error); mismatching predictions are not errors
    but failures listed in the ``GoldenReport``."""
