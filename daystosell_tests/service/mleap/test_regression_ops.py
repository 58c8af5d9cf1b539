"""Regressors: linear regression, a decision tree, random forest and GBT, with hand-computed predictions,
including the summation order and fused rounding of MLeap's BLAS."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from daystosell_service.mleap import BundleError, MleapModel, blas

from . import bundle_writer as bw
from .conftest import Build

TWO_53 = 2.0**53


def assembled(*stages: bw.Stage, columns: list[str]) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", columns, "f"), *stages)


def lr(coefficients: list[float], intercept: float = 0.0, *, as_list: bool = False) -> bw.Stage:
    c = bw.double_list(coefficients) if as_list else bw.tensor(coefficients)
    return bw.Stage("lr", "linear_regression", {"coefficients": c, "intercept": bw.double(intercept)},
                    {"features": "f"}, {"prediction": "y"})


def predict(build: Build, root: bw.Stage, row: dict[str, float]) -> float:
    return float(build(root).transform([row], select=["y"])[0]["y"])


# -- linear regression ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_list", [False, True])
def test_linear_regression(build: Build, as_list: bool) -> None:
    root = assembled(lr([2.0, -1.5, 0.25], 10.0, as_list=as_list), columns=["a", "b", "c"])
    assert predict(build, root, {"a": 1.0, "b": 4.0, "c": 100.0}) == 31.0  # 2 - 6 + 25 + 10


def test_linear_regression_dropped_intercept_is_zero(build: Build) -> None:
    stage = lr([3.0])
    assert stage.attributes["intercept"] == {}
    assert predict(build, assembled(stage, columns=["a"]), {"a": 2.0}) == 6.0


def test_linear_regression_size_mismatch_is_a_load_error(build: Build) -> None:
    with pytest.raises(BundleError, match=r"stage 'lr'.*2 coefficients but column 'f' has 3 features"):
        build(assembled(lr([1.0, 2.0]), columns=["a", "b", "c"]))


def test_linear_regression_dense_features_sum_in_four_lanes(build: Build) -> None:
    # All features non-zero, so Spark keeps the vector dense and netlib's ddot adds lanes i % 4:
    # products [2**53, 1, 0, 0 | 0, 1, 0, 0] -> s0 = 2**53, s1 = 1 + 1 = 2 -> 2**53 + 2 exactly.
    # Adding left to right instead would lose both ones to rounding (2**53 + 1 ties to 2**53).
    columns = [f"x{i}" for i in range(8)]
    root = assembled(lr([1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]), columns=columns)
    row = {c: 1.0 for c in columns} | {"x0": TWO_53}
    assert predict(build, root, row) == TWO_53 + 2


def test_linear_regression_sparse_features_sum_left_to_right(build: Build) -> None:
    # 3 non-zeros in 10: Spark's compressed() keeps the vector sparse (1.5 * (3 + 1) < 10), and the
    # sparse dot adds the non-zeros in index order: (2**53 + 1) + 1, each step tying back to 2**53.
    columns = [f"x{i}" for i in range(10)]
    root = assembled(lr([1.0] * 10), columns=columns)
    row = {c: 0.0 for c in columns} | {"x0": TWO_53, "x1": 1.0, "x5": 1.0}
    assert predict(build, root, row) == TWO_53


def test_linear_regression_dense_steps_are_fused(build: Build) -> None:
    # Java 11+'s ddot uses Math.fma: (1 + 2**-30) * (1 - 2**-30) - 1 is -2**-60 in one rounding,
    # while rounding the product first (to 1.0) would give 0.
    e = 2.0**-30
    root = assembled(lr([-1.0, 0.0, 0.0, 0.0, 1.0 - e]), columns=["a", "b", "c", "d", "x"])
    row = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "x": 1.0 + e}
    assert predict(build, root, row) == -(2.0**-60)


def test_linear_regression_on_one_hot_vectors(build: Build) -> None:
    ohe = bw.Stage("ohe", "one_hot_encoder", {"category_sizes": bw.int_list([3]), "drop_last": bw.boolean(True),
                                              "handle_invalid": bw.string("keep")}, {"input": "i"}, {"output": "f"})
    root = bw.pipeline("p", ohe, lr([5.0, -7.0, 11.0], 1.0))
    model = build(root)
    assert [r["y"] for r in model.transform([{"i": 0.0}, {"i": 2.0}, {"i": 3.0}])] == [6.0, 12.0, 1.0]


# -- decision trees ------------------------------------------------------------------------------------


def tree_root() -> dict[str, object]:
    """x0 <= 2.5 ? (x1 in {1, 3} ? 10 : 20) : (x1 in {1, 3} ? 40 : 30), the second split written isLeft=false."""
    return bw.continuous(
        0, 2.5,
        bw.categorical(1, [1.0, 3.0], True, bw.leaf(10.0), bw.leaf(20.0)),
        bw.categorical(1, [1.0, 3.0], False, bw.leaf(30.0), bw.leaf(40.0)),
    )


def tree_model(build: Build) -> MleapModel:
    stage = bw.Stage("dt", "decision_tree_regression", {"num_features": bw.long(2)}, {"features": "f"},
                     {"prediction": "y"}, tree=tree_root())
    return build(assembled(stage, columns=["x0", "x1"]))


@pytest.mark.parametrize(
    ("x0", "x1", "expected"),
    [
        (2.5, 3.0, 10.0),  # the threshold itself goes left
        (1.0, 2.0, 20.0),
        (3.0, 3.0, 40.0),  # isLeft=false: listed categories go right
        (3.0, 0.0, 30.0),  # ... and everything else left
        (3.0, 7.0, 30.0),  # even a category beyond numCategories
        (math.nan, 1.0, 40.0),  # NaN fails x <= t and goes right
        (-0.0, 3.0, 10.0),
    ],
)
def test_decision_tree_walks_continuous_and_categorical_splits(build: Build, x0: float, x1: float,
                                                               expected: float) -> None:
    assert tree_model(build).transform([{"x0": x0, "x1": x1}], select=["y"])[0]["y"] == expected


def test_decision_tree_needs_its_tree_file(build: Build) -> None:
    stage = bw.Stage("dt", "decision_tree_regression", {}, {"features": "f"}, {"prediction": "y"})
    with pytest.raises(BundleError, match=r"root/dt.node: its tree file \(tree.json or tree.pb\) is missing"):
        build(assembled(stage, columns=["x0"]))


def test_a_split_beyond_the_features_is_a_load_error(build: Build) -> None:
    stage = bw.Stage("dt", "decision_tree_regression", {}, {"features": "f"}, {"prediction": "y"},
                     tree=bw.continuous(5, 0.0, bw.leaf(1.0), bw.leaf(2.0)))
    with pytest.raises(BundleError, match=r"stage 'dt'.*a split reads feature 5 but column 'f' has 2 features"):
        build(assembled(stage, columns=["x0", "x1"]))
    stage.attributes["num_features"] = bw.long(3)
    with pytest.raises(BundleError, match=r"stage 'dt'.*a split reads feature 5 but num_features is 3"):
        build(assembled(stage, columns=["x0", "x1"]))


def test_a_leaf_written_as_null_predicts_nan(build: Build) -> None:
    stage = bw.Stage("dt", "decision_tree_regression", {}, {"features": "f"}, {"prediction": "y"},
                     tree=bw.continuous(0, 0.0, bw.leaf(math.nan), bw.leaf(2.0)))
    assert math.isnan(predict(build, assembled(stage, columns=["x0"]), {"x0": -1.0}))


# -- ensembles -----------------------------------------------------------------------------------------


def ensemble(op: str, trees: list[dict[str, object]], weights: list[float]) -> bw.Stage:
    stage = bw.Stage(op.split("_")[0], op, {"num_features": bw.long(1), "tree_weights": bw.double_list(weights)},
                     {"features": "f"}, {"prediction": "y"}, trees=trees)
    return assembled(stage, columns=["x"])


def step(threshold: float, low: float, high: float) -> dict[str, object]:
    return bw.continuous(0, threshold, bw.leaf(low), bw.leaf(high))


def test_random_forest_is_the_plain_mean_of_its_trees(build: Build) -> None:
    trees = [step(0.0, 1.0, 100.0), step(1.0, 2.0, 200.0), bw.leaf(4.0)]
    # Tree weights are ignored by MLeap's and Spark's random forest.
    root = ensemble("random_forest_regression", trees, [5.0, 5.0, 5.0])
    model = build(root)
    got = [r["y"] for r in model.transform([{"x": 0.5}, {"x": -1.0}, {"x": 2.0}])]
    assert got == [(100.0 + 2.0 + 4.0) / 3, (1.0 + 2.0 + 4.0) / 3, (100.0 + 200.0 + 4.0) / 3]


def test_gbt_is_the_weighted_sum_of_its_trees(build: Build) -> None:
    trees = [step(0.0, 8.0, 80.0), step(0.0, 4.0, 40.0), step(0.0, 2.0, 20.0)]
    model = build(ensemble("gbt_regression", trees, [1.0, 0.5, 0.25]))
    assert [r["y"] for r in model.transform([{"x": -1.0}, {"x": 1.0}])] == [8.0 + 2.0 + 0.5, 80.0 + 20.0 + 5.0]


def test_gbt_sums_exactly_as_mleaps_blas(build: Build) -> None:
    # Five trees: the fifth is ddot's tail step, a fused multiply-add onto ((s0 + s1) + s2) + s3 = -1:
    # -1 + (1 + 2**-30)(1 - 2**-30) = -2**-60 exactly; unfused it would round to 0.
    e = 2.0**-30
    trees = [bw.leaf(1.0), bw.leaf(0.0), bw.leaf(0.0), bw.leaf(0.0), bw.leaf(1.0 + e)]
    model = build(ensemble("gbt_regression", trees, [-1.0, 1.0, 1.0, 1.0, 1.0 - e]))
    assert model.transform([{"x": 0.0}])[0]["y"] == -(2.0**-60)


def test_gbt_needs_one_weight_per_tree(build: Build) -> None:
    with pytest.raises(BundleError, match=r"attribute 'tree_weights': 1 weights for 2 trees"):
        build(ensemble("gbt_regression", [bw.leaf(1.0), bw.leaf(2.0)], [1.0]))


def test_ensemble_trees_must_be_regression_trees(build: Build) -> None:
    root = ensemble("gbt_regression", [bw.leaf(1.0)], [1.0])
    root.children[1].tree_op = "decision_tree_classifier"
    with pytest.raises(BundleError, match=r"root/gbt.node/tree0: expected op 'decision_tree_regression', "
                                          r"found 'decision_tree_classifier'"):
        build(root)


def test_an_ensemble_without_trees_is_a_load_error(build: Build) -> None:
    stage = bw.Stage("rf", "random_forest_regression", {"trees": bw.string_list([])}, {"features": "f"},
                     {"prediction": "y"})
    with pytest.raises(BundleError, match=r"attribute 'trees': the ensemble has no trees"):
        build(assembled(stage, columns=["x"]))


# -- the BLAS emulation against exact rational arithmetic ----------------------------------------------


def exact_fma(a: float, b: float, c: float) -> float:
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def test_fused_multiply_add_matches_exact_arithmetic() -> None:
    rng = random.Random(42)
    for _ in range(20_000):
        a = rng.uniform(-1, 1) * 2.0 ** rng.randint(-40, 40)
        b = rng.uniform(-1, 1) * 2.0 ** rng.randint(-40, 40)
        c = -a * b * (1 + rng.uniform(-1e-6, 1e-6)) if rng.random() < 0.5 else rng.uniform(-1, 1)
        assert blas.fma(a, b, c) == exact_fma(a, b, c), (a, b, c)


def java11_ddot(x: list[float], y: list[float]) -> float:
    """netlib-java's Java11BLAS.ddot, with exact rational fma."""
    n = len(x)
    bound = n - n % 4
    s = [0.0] * 4
    for i in range(bound):
        s[i % 4] = exact_fma(x[i], y[i], s[i % 4])
    total = 0.0 + (((s[0] + s[1]) + s[2]) + s[3])
    for i in range(bound, n):
        total = exact_fma(x[i], y[i], total)
    return total


def test_dense_dot_matches_java11_blas() -> None:
    rng = random.Random(7)
    for n in [0, 1, 3, 4, 5, 8, 13, 50]:
        for _ in range(200):
            x = [rng.uniform(-1e3, 1e3) for _ in range(n)]
            y = [rng.uniform(-1, 1) for _ in range(n)]
            assert blas.Coefficients(y).dense(x) == java11_ddot(x, y)


def test_precomputed_products_sum_like_java11_blas() -> None:
    rng = random.Random(9)
    for n in [1, 4, 7, 50]:
        for _ in range(200):
            values = [rng.uniform(-100, 100) for _ in range(n)]
            weights = [1.0] + [0.1] * (n - 1)
            hi = [v * w for v, w in zip(values, weights, strict=True)]
            lo = [float(Fraction(v) * Fraction(w) - Fraction(h)) for v, w, h in zip(values, weights, hi, strict=True)]
            assert blas.fused_sum(hi, lo, list(range(n))) == java11_ddot(values, weights)


@pytest.mark.parametrize(("nnz", "sparse"), [(5, True), (6, False)])
def test_compressed_keeps_the_smaller_encoding(nnz: int, sparse: bool) -> None:
    # Spark: sparse when 1.5 * (nnz + 1) < size; for size 10 that is nnz <= 5.
    x = [1.0] * nnz + [0.0] * (10 - nnz)
    assert blas.is_compressed_sparse(x) is sparse
    assert blas.is_compressed_sparse([math.nan] * nnz + [-0.0] * (10 - nnz)) is sparse
