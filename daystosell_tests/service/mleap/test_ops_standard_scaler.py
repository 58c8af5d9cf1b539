"""StandardScaler: mean and/or std, Spark's ``(x - mean) * (1 / std)`` with 0 for a zero std."""

from __future__ import annotations

import pytest

from daystosell_service.mleap import BundleError

from . import bundle_writer as bw
from .conftest import Build


def scaler(**attributes: bw.Json) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", ["a", "b", "c"], "f"),
                       bw.Stage("ss", "standard_scaler", attributes, {"input": "f"}, {"output": "s"}))


ROW = {"a": 3.0, "b": -1.0, "c": 7.0}


def test_mean_and_std(build: Build) -> None:
    model = build(scaler(mean=bw.tensor([1.0, 1.0, 2.0]), std=bw.tensor([2.0, 4.0, 0.0])))
    # (3 - 1) * 0.5, (-1 - 1) * 0.25, std 0 -> scale 0: (7 - 2) * 0
    assert model.transform([ROW])[0]["s"] == [1.0, -0.5, 0.0]


def test_mean_only(build: Build) -> None:
    model = build(scaler(mean=bw.tensor([1.0, 1.0, 2.0])))
    assert model.transform([ROW])[0]["s"] == [2.0, -2.0, 5.0]


def test_std_only(build: Build) -> None:
    model = build(scaler(std=bw.tensor([4.0, 0.5, 0.0])))
    assert model.transform([ROW])[0]["s"] == [0.75, -2.0, 0.0]


def test_scale_is_the_reciprocal_times_the_value(build: Build) -> None:
    # Spark multiplies by 1 / std: 1 / 3 rounds, so 3 * (1 / 3) is 1.0 and 0.3 * fl(1/3) differs from
    # 0.3 / 3 in the last bit.
    model = build(scaler(std=bw.tensor([3.0, 3.0, 3.0])))
    out = model.transform([{"a": 3.0, "b": 0.3, "c": 0.0}])[0]["s"]
    assert out == [3.0 * (1.0 / 3.0), 0.3 * (1.0 / 3.0), 0.0]
    assert out[1] == 0.09999999999999999


def test_needs_mean_or_std(build: Build) -> None:
    with pytest.raises(BundleError, match=r"ss\.node/model\.json: attribute 'mean': .*needs 'mean', 'std' or both"):
        build(scaler())


def test_mismatched_sizes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"attribute 'std'"):
        build(scaler(mean=bw.tensor([1.0, 2.0, 3.0]), std=bw.tensor([1.0])))
    with pytest.raises(BundleError, match=r"stage 'ss'.*the model has 2 features but column 'f' has 3"):
        build(scaler(mean=bw.tensor([1.0, 2.0])))


def test_unknown_and_malformed_attributes(build: Build) -> None:
    with pytest.raises(BundleError, match=r"ss.*attribute 'with_mean'.*unknown"):
        build(scaler(mean=bw.tensor([0.0, 0.0, 0.0]), with_mean=bw.boolean(True)))
    with pytest.raises(BundleError, match=r"ss.*attribute 'mean'"):
        build(scaler(mean=bw.double(1.0)))


def test_std_only_keeps_a_sparse_vector_sparse_for_the_model_downstream(build: Build) -> None:
    # one-hot (sparse) -> std-only scaling keeps it sparse -> the linear model's sparse dot product
    ohe = bw.Stage("ohe", "one_hot_encoder", {"category_sizes": bw.int_list([3]), "drop_last": bw.boolean(True),
                                              "handle_invalid": bw.string("keep")}, {"input": "i"}, {"output": "f"})
    ss = bw.Stage("ss", "standard_scaler", {"std": bw.tensor([0.5, 4.0, 1.0])}, {"input": "f"}, {"output": "s"})
    lr = bw.Stage("lr", "linear_regression", {"coefficients": bw.tensor([3.0, 8.0, 1.0]),
                                              "intercept": bw.double(1.0)}, {"features": "s"}, {"prediction": "y"})
    rows = build(bw.pipeline("p", ohe, ss, lr)).transform([{"i": 0.0}, {"i": 1.0}])
    assert [(r["s"], r["y"]) for r in rows] == [([2.0, 0.0, 0.0], 7.0), ([0.0, 0.25, 0.0], 3.0)]
