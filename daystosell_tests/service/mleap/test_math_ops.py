"""MathBinary / MathUnary: java.lang.Math semantics, checked against values known from the JLS and IEEE 754."""

from __future__ import annotations

import math
from typing import Any

import pytest

from daystosell_service.mleap import BundleError, TransformError

from . import bundle_writer as bw
from .conftest import Build

INF, NAN = math.inf, math.nan


def binary(build: Build, op: str, a: float, b: float) -> float:
    stage = bw.Stage("mb", "math_binary", {"operation": bw.string(op)}, {"input_a": "a", "input_b": "b"},
                     {"output": "y"})
    return float(build(stage).transform([{"a": a, "b": b}])[0]["y"])


def same(x: float, y: float) -> bool:
    """Equal including NaN and the sign of zero."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("add", 7.0, 2.0, 9.0),
        ("sub", 7.0, 2.0, 5.0),
        ("mul", 7.0, 2.0, 14.0),
        ("div", 7.0, 2.0, 3.5),
        ("rem", 7.0, 2.0, 1.0),
        ("pow", 7.0, 2.0, 49.0),
        ("min", 7.0, 2.0, 2.0),
        ("max", 7.0, 2.0, 7.0),
        ("log_n", 8.0, 2.0, 3.0),
        ("log_n", 1.0, 10.0, 0.0),
        # Java's % keeps the dividend's sign (C fmod), unlike Python's %
        ("rem", -7.0, 2.0, -1.0),
        ("rem", 7.0, -2.0, 1.0),
        ("rem", 5.5, 2.0, 1.5),
        # IEEE division by zero: no exception
        ("div", 1.0, 0.0, INF),
        ("div", -1.0, 0.0, -INF),
        ("div", 1.0, -0.0, -INF),
        ("div", 0.0, 0.0, NAN),
        ("rem", 1.0, 0.0, NAN),
        ("rem", INF, 2.0, NAN),
        ("rem", 3.0, INF, 3.0),
        ("log_n", -1.0, 2.0, NAN),
        ("log_n", 0.0, 2.0, -INF),
        ("log_n", 2.0, 1.0, INF),  # log(2) / log(1) = x / +0.0
        ("mul", 1e200, 1e200, INF),
        ("sub", INF, INF, NAN),
        # Math.pow special cases (JLS), where C's pow differs
        ("pow", 1.0, NAN, NAN),
        ("pow", NAN, 0.0, 1.0),
        ("pow", -1.0, INF, NAN),
        ("pow", -8.0, 1.0 / 3.0, NAN),
        ("pow", 0.0, -1.0, INF),
        ("pow", -0.0, -1.0, -INF),
        ("pow", -0.0, -2.0, INF),
        ("pow", 10.0, 400.0, INF),
        ("pow", -10.0, 401.0, -INF),
        ("pow", 2.0, -1075.0, 0.0),
        # correctly rounded: 1 / (0.5 - 2**-54) lies just above the midpoint 2 + 2**-52
        ("pow", 0.49999999999999994, -1.0, 2.0000000000000004),
        # Math.min/max: NaN wins, and -0.0 < 0.0
        ("min", NAN, 1.0, NAN),
        ("max", 1.0, NAN, NAN),
        ("min", 0.0, -0.0, -0.0),
        ("max", -0.0, 0.0, 0.0),
    ],
)
def test_math_binary(build: Build, op: str, a: float, b: float, expected: float) -> None:
    got = binary(build, op, a, b)
    assert same(got, expected), (op, a, b, got, expected)


def test_math_binary_defaults_replace_missing_ports(build: Build) -> None:
    minus_from_ten = bw.Stage("mb", "math_binary", {"operation": bw.string("sub"), "da": bw.double(10.0)},
                              {"input_b": "b"}, {"output": "y"})
    model = build(minus_from_ten)
    assert model.transform([{"b": 3.0}])[0]["y"] == 7.0
    assert model.input_schema == {"b": "double"}
    # a default of 0.0 is written as {} and is still a default
    zero_a = bw.Stage("mb", "math_binary", {"operation": bw.string("sub"), "da": bw.double(0.0)},
                      {"input_b": "b"}, {"output": "y"})
    assert zero_a.attributes["da"] == {}
    assert build(zero_a).transform([{"b": 3.0}])[0]["y"] == -3.0


def test_math_binary_with_both_defaults_is_a_constant(build: Build) -> None:
    const = bw.Stage("mb", "math_binary", {"operation": bw.string("pow"), "da": bw.double(2.0), "db": bw.double(10.0)},
                     {}, {"output": "y"})
    model = build(const)
    assert model.input_schema == {}
    assert model.transform([{}, {"other": 1}]) == [{"y": 1024.0}, {"other": 1, "y": 1024.0}]


def test_math_binary_port_or_default_is_required(build: Build) -> None:
    stage = bw.Stage("mb", "math_binary", {"operation": bw.string("add")}, {"input_a": "a"}, {"output": "y"})
    with pytest.raises(BundleError, match=r"stage 'mb'.*neither an 'input_b' port nor a 'db' attribute"):
        build(stage)


def test_math_binary_unknown_operation(build: Build) -> None:
    stage = bw.Stage("mb", "math_binary", {"operation": bw.string("hypot")}, {"input_a": "a", "input_b": "b"},
                     {"output": "y"})
    with pytest.raises(BundleError, match=r"attribute 'operation': unknown operation 'hypot'"):
        build(stage)


def unary(build: Build, op: str, values: list[float]) -> list[Any]:
    stage = bw.Stage("mu", "math_unary", {"operation": bw.string(op)}, {"input": "a"}, {"output": "y"})
    return [r["y"] for r in build(stage).transform([{"a": v} for v in values])]


@pytest.mark.parametrize(
    ("op", "a", "expected"),
    [
        ("log", math.e, 1.0),
        ("log", -1.0, NAN),
        ("log", 0.0, -INF),
        ("log", -0.0, -INF),
        ("exp", 0.0, 1.0),
        ("exp", 1000.0, INF),
        ("exp", -INF, 0.0),
        ("sqrt", 16.0, 4.0),
        ("sqrt", -1.0, NAN),
        ("sqrt", -0.0, -0.0),
        ("sin", 0.0, 0.0),
        ("sin", INF, NAN),
        ("cos", -INF, NAN),
        ("tan", INF, NAN),
        ("abs", -2.5, 2.5),
        ("abs", -0.0, 0.0),
        ("floor", -0.5, -1.0),
        ("floor", 2.7, 2.0),
        ("floor", -0.0, -0.0),
        ("floor", INF, INF),
        ("ceil", 1.2, 2.0),
        ("ceil", -0.5, -0.0),  # Java: a value in (-1, 0) ceils to -0.0
        ("ceil", NAN, NAN),
        # Math.round: half up (towards +inf), to a long, widened back to double
        ("round", 2.5, 3.0),
        ("round", -2.5, -2.0),
        ("round", -0.5, 0.0),
        ("round", -0.4, 0.0),
        ("round", 0.49999999999999994, 0.0),
        ("round", 4503599627370497.0, 4503599627370497.0),
        ("round", NAN, 0.0),
        ("round", 1e20, 9.223372036854775807e18),
        ("round", -1e20, -9.223372036854775808e18),
        ("logit", 0.5, 0.0),
        ("logit", 0.75, math.log(3.0)),
        ("logit", 1.0, INF),
        ("logit", 0.0, -INF),
    ],
)
def test_math_unary(build: Build, op: str, a: float, expected: float) -> None:
    [got] = unary(build, op, [a])
    assert same(got, expected), (op, a, got, expected)


def test_math_unary_results_are_floats(build: Build) -> None:
    assert all(type(v) is float for v in unary(build, "floor", [2.5, -3.5]) + unary(build, "round", [2.5]))


def test_logit_outside_unit_interval_raises(build: Build) -> None:
    with pytest.raises(TransformError, match=r"row 0: stage 'mu' \(math_unary\): column 'a': logit argument 1.5 "
                                             r"is outside \[0, 1\]"):
        unary(build, "logit", [1.5])
