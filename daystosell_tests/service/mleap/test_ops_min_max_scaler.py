"""MinMaxScaler: Spark's ``(x - min) * ((maxValue - minValue) / (max - min)) + minValue``."""

from __future__ import annotations

import math

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build


def scaler(**attributes: bw.Json) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", ["a", "b", "c"], "f"),
                       bw.Stage("mm", "min_max_scaler", attributes, {"input": "f"}, {"output": "s"}))


def test_default_range(build: Build) -> None:
    model = build(scaler(min=bw.tensor([0.0, -2.0, 5.0]), max=bw.tensor([4.0, 2.0, 5.0])))
    out = model.transform([{"a": 1.0, "b": 3.0, "c": 9.0}])[0]["s"]
    # 1 * (1/4); (3 + 2) * (1/4) = 1.25 (no clipping); constant feature -> (0 + 1) / 2
    assert out == [0.25, 1.25, 0.5]


def test_custom_range_and_nan(build: Build) -> None:
    model = build(scaler(min=bw.tensor([0.0, 0.0, 1.0]), max=bw.tensor([10.0, 3.0, 1.0]),
                         minValue=bw.double(-1.0), maxValue=bw.double(1.0)))
    out = model.transform([{"a": 5.0, "b": math.nan, "c": 0.0}])[0]["s"]
    assert out[0] == 5.0 * (2.0 / 10.0) + -1.0  # 0.0
    assert math.isnan(out[1])
    assert out[2] == 0.0  # constant: (-1 + 1) / 2


def test_rounding_follows_sparks_factor(build: Build) -> None:
    # factor 1 / 3 computed once, then (x - min) * factor + minValue
    model = build(scaler(min=bw.tensor([0.0, 0.0, 0.0]), max=bw.tensor([3.0, 3.0, 3.0])))
    out = model.transform([{"a": 0.3, "b": 2.0, "c": 3.0}])[0]["s"]
    assert out == [0.3 * (1.0 / 3.0) + 0.0, 2.0 * (1.0 / 3.0), 3.0 * (1.0 / 3.0)]


def test_missing_and_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"mm.*attribute 'max'.*missing|mm.*attribute 'max'"):
        build(scaler(min=bw.tensor([0.0, 0.0, 0.0])))
    with pytest.raises(BundleError, match=r"mm.*attribute 'max'"):
        build(scaler(min=bw.tensor([0.0, 0.0, 0.0]), max=bw.tensor([1.0])))
    with pytest.raises(BundleError, match=r"mm.*attribute 'min_value'.*unknown"):
        build(scaler(min=bw.tensor([0.0] * 3), max=bw.tensor([1.0] * 3), min_value=bw.double(2.0)))
