"""Trees compiled to Python at load: bit-identical to the table walk and ``blas.fused_sum`` on random
trees and rows (categorical splits, NaN and infinite thresholds and features, unseen categories), and
their generated source holds nothing but numbers and names the generator made."""

from __future__ import annotations

import io
import math
import random
import re
import tokenize
from pathlib import Path

import pytest

from daystosell_service.mleap import blas, load_bundle
from daystosell_service.mleap.bundle import Split, Tree, TreeNode
from daystosell_service.mleap.ops import trees
from daystosell_service.mleap.ops.trees import FlatTrees, compile_fused_dot, compile_leaves, flatten, walk

from . import bundle_writer as bw

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, 2.0, 5e-324, 1e308]


def random_value(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(SPECIAL)
    if roll < 0.5:
        return float(rng.randrange(6))  # category-like
    return rng.uniform(-3.0, 3.0)


def random_tree(rng: random.Random, num_features: int, max_depth: int) -> Tree:
    nodes: list[TreeNode] = []

    def grow(depth: int) -> int:
        index = len(nodes)
        nodes.append(TreeNode(None, (), -1, -1))
        if depth >= max_depth or rng.random() < 0.2:
            nodes[index] = TreeNode(None, (random_value(rng),), -1, -1)
            return index
        feature = rng.randrange(num_features)
        if rng.random() < 0.5:
            split = Split("continuous", feature, random_value(rng), (), True, 0)
        else:
            count = rng.choice([0, 1, 1, 2, 3, 5, 8])
            cats = tuple(rng.choice([*map(float, range(6)), math.nan, -0.0, 2.5]) for _ in range(count))
            split = Split("categorical", feature, math.nan, cats, rng.random() < 0.5, 6)
        left = grow(depth + 1)
        right = grow(depth + 1)
        nodes[index] = TreeNode(split, (), left, right)
        return index

    grow(0)
    return Tree(nodes=tuple(nodes), depth=max_depth, path="t")


def random_forest(rng: random.Random, count: int, num_features: int = 6, max_depth: int = 6) -> FlatTrees:
    return flatten([random_tree(rng, num_features, max_depth) for _ in range(count)])


def random_row(rng: random.Random, num_features: int) -> list[float]:
    # Values 6..9 and 2.5 are categories no split lists ("unseen"); NaN, ±inf and -0.0 appear too.
    return [rng.choice([random_value(rng), float(rng.randrange(10))]) for _ in range(num_features)]


def bits(x: float) -> str:
    return x.hex() if not math.isnan(x) else "nan"


@pytest.mark.parametrize("seed", range(20))
def test_compiled_leaves_match_the_table_walk(seed: int) -> None:
    rng = random.Random(seed)
    flat = random_forest(rng, rng.randrange(1, 12))
    compiled = compile_leaves(flat)
    assert compiled is not None
    for _ in range(300):
        x = random_row(rng, 6)
        assert compiled.function(x) == walk(flat, x)


def random_products(rng: random.Random, flat: FlatTrees, wild: bool) -> tuple[list[float], list[float]]:
    weights = [rng.choice([1.0, 0.1, -0.3, 1e-3]) for _ in flat.roots]
    hi, lo = [], []
    for value, tree in zip(flat.leaf_values, flat.leaf_tree, strict=True):
        if wild:
            h, e = rng.choice([*SPECIAL, rng.uniform(-1e300, 1e300), rng.uniform(-1, 1)]), rng.uniform(-1e-17, 1e-17)
        else:
            value = rng.uniform(-50.0, 50.0) if not math.isfinite(value) else value
            h, e = blas.two_product(value, weights[tree])
        hi.append(h)
        lo.append(e)
    return hi, lo


@pytest.mark.parametrize("seed", range(30))
def test_compiled_gbt_sum_matches_fused_sum_bit_for_bit(seed: int) -> None:
    rng = random.Random(1000 + seed)
    count = [1, 2, 3, 4, 5, 7, 8, 9, 13, 50][seed % 10]  # tails, no full block, several blocks
    flat = random_forest(rng, count)
    hi, lo = random_products(rng, flat, wild=seed % 3 == 0)
    compiled = compile_fused_dot(flat, hi, lo)
    assert compiled is not None
    for _ in range(200):
        x = random_row(rng, 6)
        assert bits(compiled.function(x)) == bits(blas.fused_sum(hi, lo, walk(flat, x)))


_OWN_NAMES = re.compile(r"(def|if|else|return|or|in|not|x\d*|[jhes]\d+|t|bp|r|total|_k\d+|_isfinite|_plain|"
                        r"leaves|fused_dot)\Z")


def assert_only_numbers_and_own_names(source: str) -> None:
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        assert token.type != tokenize.STRING, token
        if token.type == tokenize.NAME:
            assert _OWN_NAMES.match(token.string), token
        if token.type == tokenize.NUMBER:
            float(token.string)  # a plain int or float literal


@pytest.mark.parametrize("seed", range(5))
def test_generated_source_holds_only_numbers_and_generated_names(seed: int) -> None:
    rng = random.Random(2000 + seed)
    flat = random_forest(rng, 9)
    hi, lo = random_products(rng, flat, wild=True)
    for generated in (compile_leaves(flat), compile_fused_dot(flat, hi, lo)):
        assert generated is not None
        assert_only_numbers_and_own_names(generated.source)


def test_bundle_strings_never_reach_the_source(tmp_path: Path) -> None:
    evil = "__import__('os').system('x')"
    tree = bw.continuous(0, 0.5, bw.categorical(1, [1.0], False, bw.leaf(1.0), bw.leaf(-5.0)), bw.leaf(-2.0))
    stage = bw.Stage("gbt", "gbt_regression",
                     {"num_features": bw.long(2), "tree_weights": bw.double_list([1.0, 0.1]),
                      "trees": bw.string_list(["tree0", "tree1"])},
                     {"features": "f"}, {"prediction": "y"},
                     trees=[tree, bw.leaf(3.0)])
    root = bw.pipeline("p", bw.assembler("va", ["a", evil], "f"), stage)
    model = load_bundle(bw.write_bundle(tmp_path / "b", root))
    gbt = model._plan.steps[-1].stage
    generated = gbt.compiled()  # type: ignore[attr-defined]
    assert "import" not in generated.source and "os" not in generated.source
    assert_only_numbers_and_own_names(generated.source)
    y = model.transform([{"a": 0.0, evil: 1.0}, {"a": 0.0, evil: 0.0}, {"a": math.nan, evil: 0.0}],
                        select=["y"])
    # x1 = 1.0 is listed with isLeft=false, so it goes right; NaN fails x0 <= 0.5 and goes right.
    assert [r["y"] for r in y] == pytest.approx([-4.7, 1.3, -1.7], rel=1e-15)


def chain(levels: int) -> FlatTrees:
    """A tree ``levels`` splits deep: split k goes left to a leaf, right to split k + 1."""
    nodes: list[TreeNode] = []
    for level in range(levels):
        nodes.append(TreeNode(Split("continuous", level % 3, float(level), (), True, 0), (),
                              2 * level + 1, 2 * level + 2))
        nodes.append(TreeNode(None, (float(level),), -1, -1))
    nodes.append(TreeNode(None, (float(levels),), -1, -1))
    return flatten([Tree(nodes=tuple(nodes), depth=levels, path="t")])


def test_trees_too_large_or_too_deep_keep_the_table_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    flat = random_forest(random.Random(7), 3)
    assert compile_leaves(flat) is not None
    monkeypatch.setattr(trees, "MAX_COMPILED_NODES", 2)
    assert compile_leaves(flat) is None
    assert compile_fused_dot(flat, [0.0] * len(flat.leaf_values), [0.0] * len(flat.leaf_values)) is None
    monkeypatch.undo()
    deep = chain(65)
    assert trees.depth(deep) == 65
    assert compile_leaves(deep) is None


def test_a_64_deep_tree_compiles_and_matches() -> None:
    flat = chain(64)
    assert trees.depth(flat) == 64
    compiled = compile_leaves(flat)
    assert compiled is not None
    for x in ([100.0, 100.0, 100.0], [5.0, 30.0, 100.0], [math.nan] * 3, [-1.0] * 3, [70.0, 70.0, 62.5]):
        assert compiled.function(x) == walk(flat, x)


@pytest.mark.parametrize("op", ["gbt_regression", "random_forest_regression", "gbt_classifier",
                                "random_forest_classifier"])
def test_models_score_the_same_compiled_or_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  op: str) -> None:
    rng = random.Random(op)
    classifier = op.endswith("classifier")

    def random_json(depth: int) -> bw.Json:
        if depth == 0 or rng.random() < 0.2:
            if op == "random_forest_classifier":
                return {"type": "leaf", "values": [float(rng.randrange(5)), float(rng.randrange(1, 5))]}
            return bw.leaf(rng.uniform(-10.0, 10.0))
        feature = rng.randrange(4)
        if rng.random() < 0.5:
            return bw.continuous(feature, rng.uniform(-2.0, 2.0), random_json(depth - 1), random_json(depth - 1))
        cats = sorted({float(rng.randrange(4)) for _ in range(rng.randrange(1, 4))})
        return bw.categorical(feature, cats, rng.random() < 0.5, random_json(depth - 1), random_json(depth - 1))

    count = 11
    attributes: dict[str, bw.Json] = {
        "num_features": bw.long(4), "tree_weights": bw.double_list([rng.uniform(0.01, 1.0) for _ in range(count)]),
        "trees": bw.string_list([f"tree{i}" for i in range(count)])}
    outputs = {"prediction": "y"}
    if classifier:
        attributes["num_classes"] = bw.long(2)
        outputs |= {"raw_prediction": "raw", "probability": "p"}
    tree_op = "decision_tree_classifier" if op == "random_forest_classifier" else "decision_tree_regression"
    stage = bw.Stage("m", op, attributes, {"features": "f"}, outputs, trees=[random_json(5) for _ in range(count)],
                     tree_op=tree_op)
    root = bw.pipeline("p", bw.assembler("va", ["a", "b", "c", "d"], "f"), stage)
    path = bw.write_bundle(tmp_path / "b", root)
    rows = [{c: rng.choice([math.nan, float(rng.randrange(6)), rng.uniform(-3, 3)]) for c in "abcd"}
            for _ in range(400)]
    fast = load_bundle(path).transform(rows)
    monkeypatch.setattr(trees, "MAX_COMPILED_NODES", 0)
    slow = load_bundle(path).transform(rows)
    assert repr(fast) == repr(slow)
    assert [bits(r["y"]) for r in fast] == [bits(r["y"]) for r in slow]
