"""Fixtures for the MLeap runtime's tests: write a bundle from Python values, then load it (scoring
through both the row and the columnar path, see ``both_paths``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from daystosell_service.mleap import MleapModel, load_bundle

from . import bundle_writer as bw
from .both_paths import BothPaths

Build = Callable[..., MleapModel]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    """``build(root_stage, as_zip=False)``: write the bundle into tmp_path and load it."""
    counter = [0]

    def make(root: bw.Stage, *, as_zip: bool = False, **kwargs: object) -> MleapModel:
        counter[0] += 1
        dest = tmp_path / (f"bundle{counter[0]}.zip" if as_zip else f"bundle{counter[0]}")
        model = load_bundle(bw.write_bundle(dest, root, as_zip=as_zip, **kwargs))
        return cast(MleapModel, BothPaths(model))

    return make
