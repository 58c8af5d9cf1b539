"""Interaction: products of one value per input, the first input varying slowest, each value multiplied
from the last input to the first, as Spark's Interaction."""

from __future__ import annotations

import pytest

from daystosell_service.mleap import BundleError, TransformError

from . import bundle_writer as bw
from .conftest import Build


def interaction(inputs: list[tuple[str, list[int], bool]], **extra: bw.Json) -> bw.Stage:
    """inputs: (column, num_features, is_vector)."""
    attributes: bw.Json = {
        "num_inputs": bw.integer(len(inputs)),
        "input_shapes": bw.shapes(*[bw.vector_shape(len(spec)) if vec else bw.scalar_shape()
                                    for _, spec, vec in inputs]),
        **{f"num_features{i}": bw.int_list(spec) for i, (_, spec, _) in enumerate(inputs)},
        **extra,
    }
    return bw.Stage("ia", "interaction", attributes, {f"input{i}": c for i, (c, _, _) in enumerate(inputs)},
                    {"output": "out"})


def run(build: Build, stages: list[bw.Stage], row: dict[str, float]) -> list[float]:
    return list(build(bw.pipeline("p", *stages)).transform([row])[0]["out"])


VEC = bw.assembler("va", ["a", "b"], "v")


def test_vector_times_scalar(build: Build) -> None:
    stage = interaction([("v", [1, 1], True), ("s", [1], False)])
    assert run(build, [VEC, stage], {"a": 2.0, "b": 3.0, "s": 5.0}) == [10.0, 15.0]


def test_scalar_times_vector(build: Build) -> None:
    stage = interaction([("s", [1], False), ("v", [1, 1], True)])
    assert run(build, [VEC, stage], {"a": 2.0, "b": 3.0, "s": 5.0}) == [10.0, 15.0]


def test_nominal_features_are_one_hot_and_the_first_input_varies_slowest(build: Build) -> None:
    # vector [a, b] x nominal c (3 categories): index = i_vector * 3 + c
    stage = interaction([("v", [1, 1], True), ("c", [3], False)])
    assert run(build, [VEC, stage], {"a": 2.0, "b": 3.0, "c": 1.0}) == [0.0, 2.0, 0.0, 0.0, 3.0, 0.0]
    # nominal c x vector: index = c * 2 + i_vector
    stage = interaction([("c", [3], False), ("v", [1, 1], True)])
    assert run(build, [VEC, stage], {"a": 2.0, "b": 3.0, "c": 2.0}) == [0.0, 0.0, 0.0, 0.0, 2.0, 3.0]


def test_products_run_from_the_last_input_to_the_first(build: Build) -> None:
    x, y, z = 0.1, 0.2, 0.3
    expected = ((1.0 * z) * y) * x
    assert expected != (x * y) * z  # the order is visible in the last bit
    stage = interaction([("x", [1], False), ("y", [1], False), ("z", [1], False)])
    assert run(build, [stage], {"x": x, "y": y, "z": z}) == [expected]


def test_nominal_zero_in_a_sparse_vector_is_skipped(build: Build) -> None:
    # Spark iterates a vector's stored entries: the assembled [0, 0, 0, 0, 0] is sparse, so its nominal
    # feature at category 0 contributes nothing; in the dense [0, 1, 1, 1, 1] it is encoded.
    columns = ["n", "p", "q", "r", "t"]
    assembler = bw.assembler("va5", columns, "w")
    stage = interaction([("w", [2, 1, 1, 1, 1], True)])
    assert run(build, [assembler, stage], dict.fromkeys(columns, 0.0)) == [0.0] * 6
    row = dict.fromkeys(columns, 1.0) | {"n": 0.0}
    assert run(build, [assembler, stage], row) == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_invalid_category_is_a_row_error(build: Build) -> None:
    model = build(bw.pipeline("p", interaction([("c", [3], False), ("s", [1], False)])))
    for bad in (3.0, 1.5, -1.0, float("nan")):
        with pytest.raises(TransformError, match=r"stage 'ia'.*category indices"):
            model.transform([{"c": bad, "s": 1.0}])


def test_bad_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"ia\.node/model\.json: attribute 'num_features1'.*missing"):
        stage = interaction([("s", [1], False), ("t", [1], False)])
        del stage.attributes["num_features1"]
        build(bw.pipeline("p", stage))
    with pytest.raises(BundleError, match=r"ia\.node/model\.json: attribute 'num_features0'.*positive"):
        build(bw.pipeline("p", interaction([("s", [0], False)])))
    with pytest.raises(BundleError, match=r"ia\.node/model\.json: attribute 'num_inputs'"):
        build(bw.pipeline("p", interaction([("s", [1], False)], num_inputs=bw.integer(2))))
    with pytest.raises(BundleError, match=r"ia\.node/model\.json: attribute 'extra'.*unknown"):
        build(bw.pipeline("p", interaction([("s", [1], False)], extra=bw.integer(2))))
    with pytest.raises(BundleError, match=r"stage 'ia'.*has 2 features but the interaction expects 3"):
        stage = interaction([("v", [1, 1, 1], True)])
        stage.attributes["input_shapes"] = bw.shapes({"base": "tensor", "isNullable": True})
        build(bw.pipeline("p", VEC, stage))
