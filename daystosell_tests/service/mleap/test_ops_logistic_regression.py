"""LogisticRegression, binary and multinomial, with Spark's raw/probability/prediction rules."""

from __future__ import annotations

import math

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build

ALL_PORTS = {"prediction": "y", "raw_prediction": "raw", "probability": "prob"}


def matrix(values: list[float], rows: int, cols: int) -> bw.Json:
    return {"type": "tensor", "double": values,
            "shape": {"dimensions": [{"size": rows, "name": ""}, {"size": cols, "name": ""}]}}


def binary(coefficients: list[float], intercept: float, threshold: float | None = None,
           outputs: dict[str, str] | None = None, **extra: bw.Json) -> bw.Stage:
    attributes = {"num_classes": bw.long(2), "coefficients": bw.tensor(coefficients),
                  "intercept": bw.double(intercept), **extra}
    if threshold is not None:
        attributes["threshold"] = bw.double(threshold)
    stage = bw.Stage("lr", "logistic_regression", attributes, {"features": "f"}, outputs or ALL_PORTS)
    return bw.pipeline("p", bw.assembler("va", ["a", "b"], "f"), stage)


def multinomial(thresholds: list[float] | None = None, outputs: dict[str, str] | None = None) -> bw.Stage:
    # rows [1, 2], [3, 4], [5, 6], written column-major as Spark's Matrix.toArray
    attributes = {"num_classes": bw.long(3), "coefficient_matrix": matrix([1.0, 3.0, 5.0, 2.0, 4.0, 6.0], 3, 2),
                  "intercept_vector": bw.tensor([0.0, -5.0, -12.0])}
    if thresholds is not None:
        attributes["thresholds"] = bw.double_list(thresholds)
    stage = bw.Stage("lr", "logistic_regression", attributes, {"features": "f"}, outputs or ALL_PORTS)
    return bw.pipeline("p", bw.assembler("va", ["a", "b"], "f"), stage)


def test_binary_all_outputs(build: Build) -> None:
    row = build(binary([1.0, -2.0], 0.5)).transform([{"a": 1.0, "b": 0.25}])[0]  # margin 1 - 0.5 + 0.5 = 1
    p0 = 1.0 / (1.0 + math.e)
    assert row["raw"] == [-1.0, 1.0]
    assert row["prob"] == [p0, 1.0 - p0]
    assert row["y"] == 1.0  # 0.731 > 0.5


def test_binary_probability_is_one_minus_p0(build: Build) -> None:
    # Spark sets p1 = 1 - p0: at margin -40, p0 rounds to 1.0 and p1 is exactly 0.0.
    row = build(binary([1.0, 0.0], 0.0)).transform([{"a": -40.0, "b": 0.0}])[0]
    assert row["prob"] == [1.0, 0.0]
    assert row["y"] == 0.0


@pytest.mark.parametrize("outputs", [
    {"prediction": "y"},
    {"prediction": "y", "raw_prediction": "raw"},
    {"prediction": "y", "probability": "prob"},
    ALL_PORTS,
])
@pytest.mark.parametrize(("threshold", "expected"), [(0.8, 0.0), (0.7, 1.0), (0.0, 1.0), (1.0, 0.0), (None, 1.0)])
def test_binary_threshold_on_every_path(build: Build, outputs: dict[str, str], threshold: float | None,
                                        expected: float) -> None:
    # margin 1: p1 = 0.7310585786300049, log(0.8 / 0.2) = 1.386 > 1, log(0.7 / 0.3) = 0.847 < 1
    row = build(binary([1.0, 0.0], 0.0, threshold, outputs)).transform([{"a": 1.0, "b": 0.0}])[0]
    assert row["y"] == expected
    assert set(row) == {"a", "b", "f", *outputs.values()}


def test_multinomial(build: Build) -> None:
    row = build(multinomial()).transform([{"a": 1.0, "b": 1.0}])[0]
    assert row["raw"] == [3.0, 2.0, -1.0]  # 1 + 2 + 0, 3 + 4 - 5, 5 + 6 - 12
    exps = [math.exp(0.0), math.exp(-1.0), math.exp(-4.0)]  # exp(m - max)
    total = (exps[0] + exps[1]) + exps[2]
    assert row["prob"] == [e / total for e in exps]
    assert row["y"] == 0.0


def test_multinomial_thresholds_scale_probabilities(build: Build) -> None:
    # p = [0.721, 0.265, 0.0049]; / [0.5, 0.1, 1.0] = [1.44, 2.65, 0.0049] -> class 1
    for outputs in ({"prediction": "y"}, ALL_PORTS, {"prediction": "y", "raw_prediction": "raw"}):
        row = build(multinomial([0.5, 0.1, 1.0], outputs)).transform([{"a": 1.0, "b": 1.0}])[0]
        assert row["y"] == 1.0
    # a zero threshold always wins while its probability is positive
    row = build(multinomial([1.0, 1.0, 0.0])).transform([{"a": 1.0, "b": 1.0}])[0]
    assert row["y"] == 2.0


def test_multinomial_infinite_margin(build: Build) -> None:
    row = build(multinomial()).transform([{"a": math.inf, "b": 0.0}])[0]  # margins [inf, inf, inf]
    assert row["prob"] == [1.0, 0.0, 0.0]


def test_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"lr\.node/model\.json: attribute 'thresholds'.*unknown"):
        build(binary([1.0, 0.0], 0.0, thresholds=bw.double_list([0.5, 0.5])))
    with pytest.raises(BundleError, match=r"lr\.node/model\.json: attribute 'threshold'.*\[0, 1\]"):
        build(binary([1.0, 0.0], 0.0, 1.5))
    with pytest.raises(BundleError, match=r"lr\.node/model\.json: attribute 'coefficients'.*missing"):
        build(bw.pipeline("p", bw.assembler("va", ["a"], "f"), bw.Stage(
            "lr", "logistic_regression", {"num_classes": bw.long(2), "intercept": bw.double(0.0)},
            {"features": "f"}, {"prediction": "y"})))
    with pytest.raises(BundleError, match=r"lr\.node/model\.json: attribute 'thresholds'.*2 thresholds"):
        build(multinomial([0.5, 0.5]))
    with pytest.raises(BundleError, match=r"lr\.node/model\.json: attribute 'coefficient_matrix'.*2-D"):
        build(bw.pipeline("p", bw.assembler("va", ["a", "b"], "f"), bw.Stage(
            "lr", "logistic_regression", {"num_classes": bw.long(3), "coefficient_matrix": bw.tensor([1.0] * 6),
                                          "intercept_vector": bw.tensor([0.0] * 3)},
            {"features": "f"}, {"prediction": "y"})))
    with pytest.raises(BundleError, match=r"stage 'lr'.*unexpected output port 'margin'"):
        build(binary([1.0, 0.0], 0.0, outputs={"prediction": "y", "margin": "m"}))


def test_multinomial_on_a_sparse_vector(build: Build) -> None:
    ohe = bw.Stage("ohe", "one_hot_encoder", {"category_sizes": bw.int_list([3]), "drop_last": bw.boolean(True),
                                              "handle_invalid": bw.string("error")}, {"input": "i"}, {"output": "f"})
    stage = multinomial()
    stage.children[0] = ohe
    rows = build(stage).transform([{"i": 0.0}, {"i": 1.0}])
    # [1, 0]: rows' first column plus intercepts; [0, 1]: second column plus intercepts
    assert [r["raw"] for r in rows] == [[1.0, -2.0, -7.0], [2.0, -1.0, -6.0]]
