"""Feature ops against values worked out by hand from MLeap's (and Spark's) documented semantics."""

from __future__ import annotations

import math
from typing import Any

import pytest

from daystosell_service.mleap import BundleError, TransformError

from . import bundle_writer as bw
from .conftest import Build


def outputs(build: Build, root: bw.Stage, column: str, values: list[Any], output: str) -> list[Any]:
    model = build(root)
    return [row[output] for row in model.transform([{column: v} for v in values])]


# -- StringIndexer -------------------------------------------------------------------------------------


@pytest.mark.parametrize("old_form", [False, True])
def test_string_indexer_maps_labels_to_their_position(build: Build, old_form: bool) -> None:
    si = bw.string_indexer("si", "make", "idx", ["bmw", "audi", "citroen"], "error", old_form=old_form)
    assert outputs(build, si, "make", ["audi", "citroen", "bmw"], "idx") == [1.0, 2.0, 0.0]


def test_string_indexer_keep_puts_unseen_and_null_after_the_labels(build: Build) -> None:
    si = bw.string_indexer("si", "make", "idx", ["bmw", "audi"], "keep")
    assert outputs(build, si, "make", ["zonda", None, "audi", ""], "idx") == [2.0, 2.0, 1.0, 2.0]


def test_string_indexer_error_names_column_and_value(build: Build) -> None:
    model = build(bw.string_indexer("si", "make", "idx", ["bmw"], "error"))
    with pytest.raises(TransformError, match=r"column 'make': unseen label 'audi' \(handle_invalid is 'error'"):
        model.transform([{"make": "audi"}])
    with pytest.raises(TransformError, match=r"column 'make': null value"):
        model.transform([{"make": None}])


def test_string_indexer_skip_drops_rows_with_unseen_or_null_labels(build: Build) -> None:
    model = build(bw.string_indexer("si", "make", "idx", ["bmw", "audi"], "skip"))
    rows: list[dict[str, Any]] = [{"make": "audi", "n": 0}, {"make": "zonda", "n": 1}, {"make": None, "n": 2},
                                  {"make": "bmw", "n": 3}]
    assert model.transform(rows) == [{"make": "audi", "n": 0, "idx": 1.0}, {"make": "bmw", "n": 3, "idx": 0.0}]


def test_string_indexer_last_duplicate_wins_and_the_invalid_bucket_counts_duplicates(build: Build) -> None:
    si = bw.string_indexer("si", "make", "idx", ["a", "b", "a"], "keep")
    assert outputs(build, si, "make", ["a", "b", "z"], "idx") == [2.0, 1.0, 3.0]


def test_string_indexer_handles_several_columns(build: Build) -> None:
    si = bw.Stage("si", "string_indexer",
                  {"labels_length": bw.integer(2), "labels_array_0": bw.string_list(["x", "y"]),
                   "labels_array_1": bw.string_list(["p", "q", "r"]), "handle_invalid": bw.string("skip")},
                  {"input0": "a", "input1": "b"}, {"output0": "a_idx", "output1": "b_idx"})
    model = build(si)
    rows = [{"a": "y", "b": "r"}, {"a": "x", "b": "zz"}, {"a": "x", "b": "p"}]
    assert [(r["a_idx"], r["b_idx"]) for r in model.transform(rows)] == [(1.0, 2.0), (0.0, 0.0)]
    assert model.input_schema == {"a": "string", "b": "string"}


def test_string_indexer_attribute_problems_are_load_errors(build: Build) -> None:
    wrong_count = bw.Stage("si", "string_indexer", {"labels_length": bw.integer(2),
                                                    "labels_array_0": bw.string_list(["x"]),
                                                    "labels_array_1": bw.string_list(["y"])},
                           {"input": "a"}, {"output": "b"})
    with pytest.raises(BundleError, match=r"2 label list\(s\) but 1 input and 1 output port\(s\)"):
        build(wrong_count)
    with pytest.raises(BundleError, match=r"attribute 'labels': required string list attribute is missing"):
        build(bw.Stage("si", "string_indexer", {}, {"input": "a"}, {"output": "b"}))
    bad_mode = bw.string_indexer("si", "a", "b", ["x"], "ignore")
    with pytest.raises(BundleError, match=r"attribute 'handle_invalid': must be one of .* found 'ignore'"):
        build(bad_mode)


# -- OneHotEncoder -------------------------------------------------------------------------------------


def ohe(drop_last: bool, handle_invalid: str, sizes: tuple[int, ...] = (3,)) -> bw.Stage:
    if len(sizes) == 1:
        ports_in, ports_out = {"input": "i"}, {"output": "v"}
    else:
        ports_in = {f"input{k}": f"i{k}" for k in range(len(sizes))}
        ports_out = {f"output{k}": f"v{k}" for k in range(len(sizes))}
    return bw.Stage("ohe", "one_hot_encoder", {"category_sizes": bw.int_list(list(sizes)),
                                               "drop_last": bw.boolean(drop_last),
                                               "handle_invalid": bw.string(handle_invalid)}, ports_in, ports_out)


def test_one_hot_drop_last_error(build: Build) -> None:
    # 3 categories, last one dropped: vectors of 2; category 2 is all zeros.
    assert outputs(build, ohe(True, "error"), "i", [0.0, 1.0, 2.0], "v") == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


def test_one_hot_drop_last_keep(build: Build) -> None:
    # keep adds an invalid slot, drop_last removes the last: 3 slots; invalid values are all zeros.
    got = outputs(build, ohe(True, "keep"), "i", [0.0, 2.0, 3.0, -1.0, 7.0], "v")
    assert got == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_one_hot_keep_without_drop_last_has_an_invalid_slot(build: Build) -> None:
    got = outputs(build, ohe(False, "keep"), "i", [0.0, 2.0, 3.0, 9.0], "v")
    assert got == [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]


def test_one_hot_error_without_drop_last(build: Build) -> None:
    assert outputs(build, ohe(False, "error"), "i", [2.0, -0.0], "v") == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


@pytest.mark.parametrize(
    ("label", "problem"),
    [(3.0, "unseen value 3.0 for 3 categories"), (-1.0, "negative value -1.0"),
     (1.5, "invalid label 1.5, must be an integer"), (math.nan, "invalid label nan"),
     (3e9, "invalid label 3000000000.0, must be an integer")],
)
def test_one_hot_error_mode_rejects_invalid_labels(build: Build, label: float, problem: str) -> None:
    with pytest.raises(TransformError, match=rf"column 'i': {problem}"):
        build(ohe(True, "error")).transform([{"i": label}])


def test_one_hot_keep_still_rejects_non_integral_labels(build: Build) -> None:
    # MLeap checks label == label.toInt before handle_invalid applies.
    with pytest.raises(TransformError, match=r"invalid label 0.5, must be an integer"):
        build(ohe(True, "keep")).transform([{"i": 0.5}])


def test_one_hot_several_columns(build: Build) -> None:
    [row] = build(ohe(True, "error", (2, 3))).transform([{"i0": 0.0, "i1": 1.0}])
    assert (row["v0"], row["v1"]) == ([1.0], [0.0, 1.0])


def test_one_hot_dropped_boolean_means_no_drop_last(build: Build) -> None:
    stage = ohe(False, "error")
    assert stage.attributes["drop_last"] == {}  # how MLeap writes false
    assert outputs(build, stage, "i", [2.0], "v") == [[0.0, 0.0, 1.0]]


def test_one_hot_skip_is_refused(build: Build) -> None:
    with pytest.raises(BundleError, match=r"attribute 'handle_invalid': must be 'error' or 'keep' for this op"):
        build(ohe(True, "skip"))


def test_one_hot_old_form_size_is_the_vector_length(build: Build) -> None:
    # MLeap before 0.16 wrote the output length as 'size'; with drop_last it behaves as keep.
    old = bw.Stage("ohe", "one_hot_encoder", {"size": bw.long(3), "drop_last": bw.boolean(True)},
                   {"input": "i"}, {"output": "v"})
    got = outputs(build, old, "i", [0.0, 2.0, 3.0, 5.0], "v")
    assert got == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_one_hot_old_form_without_drop_last_rejects_unseen(build: Build) -> None:
    old = bw.Stage("ohe", "one_hot_encoder", {"size": bw.long(3), "drop_last": bw.boolean(False)},
                   {"input": "i"}, {"output": "v"})
    model = build(old)
    assert model.transform([{"i": 2.0}])[0]["v"] == [0.0, 0.0, 1.0]
    with pytest.raises(TransformError, match=r"unseen value 3\.0"):
        model.transform([{"i": 3.0}])


def test_one_hot_output_vectors_are_fresh_lists(build: Build) -> None:
    model = build(ohe(True, "error"))
    first = model.transform([{"i": 0.0}])[0]["v"]
    first[1] = 99.0
    assert model.transform([{"i": 0.0}])[0]["v"] == [1.0, 0.0]


# -- VectorAssembler -----------------------------------------------------------------------------------


def test_assembler_concatenates_scalars_and_vectors_in_port_order(build: Build) -> None:
    root = bw.pipeline("p", ohe(True, "error"), bw.assembler("va", ["x", "v", "y"], "f", {"v": 2}))
    model = build(root)
    [row] = model.transform([{"x": 2.5, "i": 1.0, "y": -0.0}])
    assert row["f"] == [2.5, 0.0, 1.0, 0.0]
    # MLeap keeps only non-zeros, so -0.0 comes back as +0.0
    assert math.copysign(1.0, row["f"][3]) == 1.0
    assert model.input_schema == {"i": "double", "x": "double", "y": "double"}


def test_assembler_passes_nan_through(build: Build) -> None:
    [row] = build(bw.assembler("va", ["x", "y"], "f")).transform([{"x": math.nan, "y": 1.0}])
    assert math.isnan(row["f"][0]) and row["f"][1] == 1.0


def test_assembler_shape_problems_are_load_errors(build: Build) -> None:
    too_few = bw.Stage("va", "vector_assembler", {"input_shapes": bw.shapes(bw.scalar_shape())},
                       {"input0": "a", "input1": "b"}, {"output": "f"})
    with pytest.raises(BundleError, match=r"1 input shape\(s\) but 2 input port\(s\)"):
        build(too_few)
    list_shape = bw.Stage("va", "vector_assembler", {"input_shapes": bw.shapes({"base": "list", "isNullable": True})},
                          {"input0": "a"}, {"output": "f"})
    with pytest.raises(BundleError, match=r"input 'input0' \('a'\) has shape 'list'"):
        build(list_shape)


# -- Bucketizer ----------------------------------------------------------------------------------------


def bucketizer(splits: list[float], handle_invalid: str = "error") -> bw.Stage:
    return bw.Stage("b", "bucketizer", {"splits": bw.double_list(splits), "handle_invalid": bw.string(handle_invalid)},
                    {"input": "x"}, {"output": "bucket"})


def test_bucketizer_null_outer_splits_are_infinities(build: Build) -> None:
    stage = bucketizer([-math.inf, 0.0, 10.0, math.inf])
    assert stage.attributes["splits"]["double"] == [None, 0.0, 10.0, None]  # as MLeap writes them
    got = outputs(build, stage, "x", [-1e300, -5.0, 0.0, 9.99, 10.0, 1e300], "bucket")
    assert got == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_bucketizer_upper_bound_belongs_to_the_last_bucket(build: Build) -> None:
    assert outputs(build, bucketizer([0.0, 1.0, 2.0]), "x", [0.0, 1.0, 1.5, 2.0], "bucket") == [0.0, 1.0, 1.0, 1.0]


def test_bucketizer_orders_negative_zero_below_zero_as_java_does(build: Build) -> None:
    # java.util.Arrays.binarySearch compares doubles by bits: -0.0 sorts before the split 0.0.
    assert outputs(build, bucketizer([-1.0, 0.0, 1.0]), "x", [-0.0, 0.0], "bucket") == [0.0, 1.0]


def test_bucketizer_out_of_bounds_always_raises(build: Build) -> None:
    model = build(bucketizer([0.0, 1.0, 2.0], "keep"))
    with pytest.raises(TransformError, match=r"column 'x': value 2.5 is outside the bucket bounds \[0.0, 2.0\]"):
        model.transform([{"x": 2.5}])


def test_bucketizer_nan_handling(build: Build) -> None:
    assert outputs(build, bucketizer([0.0, 1.0, 2.0], "keep"), "x", [math.nan], "bucket") == [2.0]
    assert build(bucketizer([0.0, 1.0, 2.0], "skip")).transform([{"x": math.nan}, {"x": 0.5}]) == [
        {"x": 0.5, "bucket": 0.0}]
    with pytest.raises(TransformError, match="column 'x': NaN value"):
        build(bucketizer([0.0, 1.0, 2.0])).transform([{"x": math.nan}])


def test_bucketizer_splits_must_increase(build: Build) -> None:
    with pytest.raises(BundleError, match=r"attribute 'splits': must be strictly increasing"):
        build(bucketizer([0.0, 2.0, 1.0]))


# -- StringMap -----------------------------------------------------------------------------------------


def string_map(handle_invalid: str, default: float | None = None) -> bw.Stage:
    attributes = {"labels": bw.string_list(["new", "used"]), "values": bw.double_list([1.5, -2.0]),
                  "handle_invalid": bw.string(handle_invalid)}
    if default is not None:
        attributes["default_value"] = bw.double(default)
    return bw.Stage("sm", "string_map", attributes, {"input": "s"}, {"output": "v"})


def test_string_map_maps_and_keeps_with_the_default(build: Build) -> None:
    assert outputs(build, string_map("keep", 9.0), "s", ["used", "new", "other", None], "v") == [-2.0, 1.5, 9.0, 9.0]
    # default_value written as {} (0.0), or absent: both mean 0.0
    assert outputs(build, string_map("keep", 0.0), "s", ["other"], "v") == [0.0]
    assert outputs(build, string_map("keep"), "s", ["other"], "v") == [0.0]


def test_string_map_error_raises(build: Build) -> None:
    with pytest.raises(TransformError, match="column 's': unmapped label 'other'"):
        build(string_map("error")).transform([{"s": "other"}])
