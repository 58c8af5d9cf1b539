"""Imputer (MLeap extension op): Spark replaces nulls and values equal to ``missing_value`` (NaN
equals NaN in Spark SQL)."""

from __future__ import annotations

import math

import pytest

from daystosell_service.mleap import BundleError, TransformError

from . import bundle_writer as bw
from .conftest import Build


def imputer(**attributes: bw.Json) -> bw.Stage:
    return bw.Stage("imp", "imputer", attributes, {"input": "x"}, {"output": "y"})


def run(build: Build, stage: bw.Stage, xs: list[float]) -> list[float]:
    return [r["y"] for r in build(bw.pipeline("p", stage)).transform([{"x": x} for x in xs])]


def test_nan_is_missing_by_default(build: Build) -> None:
    stage = imputer(surrogate_value=bw.double(2.5), strategy=bw.string("mean"))
    assert run(build, stage, [math.nan, 1.0, 0.0, -3.0]) == [2.5, 1.0, 0.0, -3.0]


def test_explicit_missing_value(build: Build) -> None:
    stage = imputer(surrogate_value=bw.double(7.0), missing_value=bw.double(-1.0), strategy=bw.string("median"),
                    nullable_input=bw.boolean(True))
    out = run(build, stage, [-1.0, 4.0, math.nan])
    assert out[:2] == [7.0, 4.0]
    assert math.isnan(out[2])  # Spark: NaN == -1 is false, so NaN passes through


def test_zero_missing_value_written_as_default(build: Build) -> None:
    stage = imputer(surrogate_value=bw.double(9.0), missing_value=bw.double(0.0), strategy=bw.string("mode"))
    assert stage.attributes["missing_value"] == {}
    assert run(build, stage, [0.0, -0.0, 1.0]) == [9.0, 9.0, 1.0]


def test_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"imp\.node/model\.json: attribute 'surrogate_value'.*missing"):
        build(bw.pipeline("p", imputer(strategy=bw.string("mean"))))
    with pytest.raises(BundleError, match=r"imp\.node/model\.json: attribute 'strategy'.*'average'"):
        build(bw.pipeline("p", imputer(surrogate_value=bw.double(1.0), strategy=bw.string("average"))))
    with pytest.raises(BundleError, match=r"imp\.node/model\.json: attribute 'fill'.*unknown"):
        build(bw.pipeline("p", imputer(surrogate_value=bw.double(1.0), strategy=bw.string("mean"),
                                       fill=bw.double(1.0))))


def test_null_gets_the_surrogate_when_the_input_is_nullable(build: Build) -> None:
    for missing in ({}, bw.double(-1.0)):  # NaN or a number as the missing value: null is missing either way
        stage = imputer(surrogate_value=bw.double(2.5), missing_value=missing, strategy=bw.string("mean"))
        assert run(build, stage, [None, 1.0, None]) == [2.5, 1.0, 2.5]  # type: ignore[list-item]


def test_null_is_refused_when_the_input_is_not_nullable_or_another_stage_reads_it(build: Build) -> None:
    strict = imputer(surrogate_value=bw.double(2.5), strategy=bw.string("mean"), nullable_input=bw.boolean(False))
    with pytest.raises(TransformError, match=r"row 0: column 'x' must be a number, found null"):
        run(build, strict, [None])  # type: ignore[list-item]
    nullable = imputer(surrogate_value=bw.double(2.5), strategy=bw.string("mean"))
    doubled = bw.Stage("twice", "math_binary", {"operation": bw.string("mul"), "db": bw.double(2.0)},
                       {"input_a": "x"}, {"output": "x2"})
    model = build(bw.pipeline("p", nullable, doubled))
    with pytest.raises(TransformError, match=r"row 1: column 'x' must be a number, found null"):
        model.transform([{"x": 1.0}, {"x": None}])
    assert model.transform([{"x": 1.0}], select=["y"])[0]["y"] == 1.0
