"""MaxAbsScaler: Spark 3+ multiplies by ``1 / maxAbs`` (1 for a zero maxAbs) without clipping."""

from __future__ import annotations

import math

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build


def scaler(**attributes: bw.Json) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", ["a", "b", "c"], "f"),
                       bw.Stage("ma", "max_abs_scaler", attributes, {"input": "f"}, {"output": "s"}))


def test_scales_without_clipping(build: Build) -> None:
    model = build(scaler(maxAbs=bw.tensor([4.0, 0.0, 10.0])))
    out = model.transform([{"a": -2.0, "b": 7.0, "c": 30.0}, {"a": math.nan, "b": 0.0, "c": 0.3}])
    assert out[0]["s"] == [-0.5, 7.0, 3.0]  # 1/4, factor 1 for maxAbs 0, 30 * fl(1/10)
    assert math.isnan(out[1]["s"][0])
    assert out[1]["s"][1:] == [0.0, 0.3 * 0.1]


def test_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"ma.*attribute 'maxAbs'.*missing|ma.*attribute 'maxAbs'"):
        build(scaler())
    with pytest.raises(BundleError, match=r"ma.*attribute 'max_abs'.*unknown"):
        build(scaler(maxAbs=bw.tensor([1.0] * 3), max_abs=bw.tensor([1.0] * 3)))
