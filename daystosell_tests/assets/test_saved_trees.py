"""Trees read back from Spark ML's saved format are the trees Spark fitted: the same nodes, splits, predictions
and weights as the model reports through its Python API, and a bundle written from them scores as Spark does."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from daystosell_assets.mleap.saved_trees import (
    CategoricalSplit,
    ContinuousSplit,
    SavedTree,
    SavedTreeError,
    read_saved_trees,
    saved_trees,
)

MAKES = ("audi", "bmw", "ford", "kia", "seat", "skoda", "fiat", "mini")
SCHEMA = {"make": "string", "x": "double", "y": "double"}
KINDS = ("decision_tree_regression", "random_forest_regression", "gbt_regression",
         "decision_tree_classifier", "random_forest_classifier", "gbt_classifier")
CLASSIFIERS = {"decision_tree_classifier": 3, "random_forest_classifier": 3, "gbt_classifier": 2}
TRAINING_ROWS = 400


def _rows(seed: int, n: int, *, classes: int = 0) -> list[dict[str, Any]]:
    from daystosell_tests.conformance.harness import categories, rng

    gen = rng(seed)
    makes = categories(gen, n, MAKES)
    x, y = gen.normal(2.0, 1.0, n), gen.uniform(0.0, 3.0, n)
    rows = []
    for make, a, b in zip(makes, x.tolist(), y.tolist(), strict=True):
        # Makes with unrelated effects, so that trees split on the make index with categories on either side.
        signal = 0.8 * a - 0.5 * b + (0.9 if make in ("bmw", "kia", "fiat") else -0.4 if make == "mini" else 0.0)
        label = float(min(classes - 1, max(0, int(signal + 1.0)))) if classes else signal + 0.1 * b
        rows.append({"make": make, "x": a, "y": b, "label": label})
    return rows


def _estimator(kind: str) -> Any:
    from pyspark.ml.classification import DecisionTreeClassifier, GBTClassifier, RandomForestClassifier
    from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, RandomForestRegressor

    return {
        "decision_tree_regression": lambda: DecisionTreeRegressor(maxDepth=5),
        "random_forest_regression": lambda: RandomForestRegressor(numTrees=4, maxDepth=4, seed=7),
        "gbt_regression": lambda: GBTRegressor(maxIter=4, maxDepth=3, seed=7),
        "decision_tree_classifier": lambda: DecisionTreeClassifier(maxDepth=5),
        "random_forest_classifier": lambda: RandomForestClassifier(numTrees=4, maxDepth=4, seed=7),
        "gbt_classifier": lambda: GBTClassifier(maxIter=4, maxDepth=3, seed=7),
    }[kind]()


@pytest.fixture(scope="module", params=KINDS)
def fitted(request: pytest.FixtureRequest, spark: Any) -> tuple[str, Any]:
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    kind = request.param
    rows = _rows(5, TRAINING_ROWS, classes=CLASSIFIERS.get(kind, 0))
    # The make index as a categorical feature (StringIndexer's metadata), so trees split on category sets too.
    pipeline = Pipeline(stages=[StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
                                VectorAssembler(inputCols=["x", "y", "make_idx"], outputCol="features"),
                                _estimator(kind)])
    return kind, pipeline.fit(spark.createDataFrame(rows))


def _spark_tokens(debug: str) -> list[tuple[Any, ...]]:
    """Spark's ``toDebugString`` of one tree as its nodes in pre-order: splits (continuous ``<=`` or the
    categories that go left) and leaf predictions; Java writes every double so that it parses back exactly."""
    tokens: list[tuple[Any, ...]] = []
    for line in debug.splitlines()[1:]:
        text = line.strip()
        if m := re.fullmatch(r"If \(feature (\d+) <= (\S+)\)", text):
            tokens.append(("<=", int(m[1]), float(m[2])))
        elif m := re.fullmatch(r"If \(feature (\d+) in \{([^}]*)\}\)", text):
            tokens.append(("in", int(m[1]), tuple(float(v) for v in m[2].split(","))))
        elif m := re.fullmatch(r"Predict: (\S+)", text):
            tokens.append(("leaf", float(m[1])))
        else:
            assert text.startswith("Else ("), f"unexpected debug line {line!r}"
    return tokens


def _reader_tokens(tree: SavedTree) -> list[tuple[Any, ...]]:
    tokens: list[tuple[Any, ...]] = []
    for node in tree.preorder():
        if isinstance(node.split, ContinuousSplit):
            tokens.append(("<=", node.split.feature_index, node.split.threshold))
        elif isinstance(node.split, CategoricalSplit):
            tokens.append(("in", node.split.feature_index, node.split.left_categories))
        else:
            tokens.append(("leaf", node.prediction))
    return tokens


def test_saved_trees_are_the_trees_spark_reports(fitted: tuple[str, Any], tmp_path: Path) -> None:
    kind, model = fitted
    stage = model.stages[-1]
    trees = saved_trees(stage, scratch=tmp_path)
    # The saved copy lives only as long as the read.
    assert list(tmp_path.iterdir()) == []

    spark_trees = [stage] if kind.startswith("decision_tree") else stage.trees
    assert len(trees) == len(spark_trees) == (1 if kind.startswith("decision_tree") else stage.getNumTrees)
    if kind.startswith("decision_tree"):
        assert [t.weight for t in trees] == [1.0]
    else:
        assert [t.weight for t in trees] == list(stage.treeWeights)
        # The ensemble's own account of its weights, in its debug string.
        shown = [float(w) for w in re.findall(r"^\s*Tree \d+ \(weight (\S+)\):$", stage.toDebugString, re.M)]
        assert shown == [t.weight for t in trees]
        if kind.startswith("gbt"):
            assert trees[0].weight == 1.0 and {t.weight for t in trees[1:]} == {stage.getStepSize()}

    assert any(isinstance(n.split, CategoricalSplit) for t in trees for n in t.nodes), "no categorical split"
    classification = kind in CLASSIFIERS and not kind.startswith("gbt")
    for i, (tree, spark_tree) in enumerate(zip(trees, spark_trees, strict=True)):
        assert tree.num_nodes == spark_tree.numNodes, f"tree {i}"
        assert tree.depth == spark_tree.depth, f"tree {i}"
        assert _reader_tokens(tree) == _spark_tokens(spark_tree.toDebugString), f"tree {i}"

        leaves = [n for n in tree.nodes if n.is_leaf]
        # Every row reaches one leaf: the leaves' raw counts add up to the root's.
        assert sum(n.raw_count for n in leaves) == tree.root.raw_count > 0
        for node in leaves:
            stats = node.impurity_stats
            if classification:
                # Class counts (what MLeap's classifier leaves hold): the prediction is the most frequent class.
                assert len(stats) == stage.numClasses
                assert node.prediction == float(stats.index(max(stats)))
            else:
                # Count, sum and sum of squares of the (pseudo-)labels: the prediction is their mean.
                assert len(stats) == 3 and math.isclose(stats[1] / stats[0], node.prediction, rel_tol=1e-9,
                                                        abs_tol=1e-12)
        for node in tree.nodes:
            if isinstance(node.split, CategoricalSplit):
                left, right = set(node.split.left_categories), set(node.split.right_categories)
                assert left and right and not left & right
                assert left | right == {float(c) for c in range(node.split.num_categories)}
    if kind.startswith("decision_tree"):
        # No bootstrap: the root saw every training row.
        assert trees[0].root.raw_count == TRAINING_ROWS


def test_bundle_from_saved_trees_scores_as_spark(fitted: tuple[str, Any], tmp_path: Path, spark: Any) -> None:
    from daystosell_assets.mleap.writer import write_bundle
    from daystosell_service.mleap import load_bundle
    from daystosell_tests.conformance.harness import assert_same, frame

    kind, model = fitted
    rows = [{k: r[k] for k in SCHEMA} for r in _rows(9, 150)]
    rows += [{"make": "trabant", "x": 1e6, "y": -1e6}, {"make": "audi", "x": 0.0, "y": 0.0}]
    kinds = {"prediction": "number"} if kind not in CLASSIFIERS else {
        "prediction": "exact", "probability": "vector", "rawPrediction": "vector"}
    df = frame(spark, rows, SCHEMA)
    expected = [r.asDict() for r in model.transform(df).select("_row", *kinds).collect()]
    written = write_bundle(model, df, tmp_path / "bundle.zip", name=kind, scratch=tmp_path)
    assert written.ops[-1] == kind
    indexed = [{"_row": float(i), **row} for i, row in enumerate(rows)]
    assert_same(expected, load_bundle(written.path).transform(indexed, select=list(kinds)), kinds, kind)


def _node(node_id: int, left: int = -1, right: int = -1, feature: int = -1,
          values: tuple[float, ...] = (), categories: int = -1) -> dict[str, Any]:
    return {"id": node_id, "prediction": float(node_id), "impurity": 0.0, "impurityStats": [1.0, float(node_id), 0.0],
            "rawCount": 1, "gain": 0.0 if left >= 0 else -1.0, "leftChild": left, "rightChild": right,
            "split": {"featureIndex": feature, "leftCategoriesOrThreshold": list(values), "numCategories": categories}}


def _write_ensemble(folder: Path, trees: list[list[dict[str, Any]]], metadata_columns: list[str]) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "treesMetadata").mkdir()
    pq.write_table(pa.Table.from_pylist([{"treeID": i, "nodeData": n} for i, nodes in enumerate(trees)
                                         for n in reversed(nodes)]), folder / "data" / "part-0.parquet")
    ids = list(range(len(trees)))
    pq.write_table(pa.table([ids, ["{}"] * len(ids), [1.0 + i for i in ids]], names=metadata_columns),
                   folder / "treesMetadata" / "part-0.parquet")


@pytest.mark.parametrize("metadata_columns", [["treeID", "metadata", "weights"], ["_1", "_2", "_3"]])
def test_ensembles_read_with_either_trees_metadata_naming(tmp_path: Path, metadata_columns: list[str]) -> None:
    # Spark 3 named treesMetadata's columns, Spark 4 leaves them as tuple fields; rows come in any order.
    stump = [_node(0, 1, 2, feature=1, values=(0.5,)), _node(1), _node(2)]
    categorical = [_node(0, 1, 4, feature=0, values=(0.0, 2.0), categories=4),
                   _node(1, 2, 3, feature=2, values=(7.0,)), _node(2), _node(3), _node(4)]
    _write_ensemble(tmp_path, [stump, categorical], metadata_columns)
    first, second = read_saved_trees(tmp_path)
    assert (first.weight, second.weight) == (1.0, 2.0)
    assert [n.id for n in second.preorder()] == [0, 1, 2, 3, 4] and second.depth == 2
    assert second.root.split == CategoricalSplit(feature_index=0, left_categories=(0.0, 2.0), num_categories=4)
    assert second.root.split.right_categories == (1.0, 3.0)
    assert first.root.split == ContinuousSplit(feature_index=1, threshold=0.5) and first.num_nodes == 3


def test_node_data_that_is_not_a_preorder_tree_is_refused(tmp_path: Path) -> None:
    # Node 0's children swapped: the right subtree would be read first.
    _write_ensemble(tmp_path, [[_node(0, 2, 1, feature=0, values=(0.5,)), _node(1), _node(2)]],
                    ["treeID", "metadata", "weights"])
    with pytest.raises(SavedTreeError, match="pre-order"):
        read_saved_trees(tmp_path)


def test_a_folder_without_tree_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"coefficients": [[1.0, 2.0]], "intercept": [0.5]}), tmp_path / "data" / "part-0.parquet")
    with pytest.raises(SavedTreeError, match="not a tree model"):
        read_saved_trees(tmp_path)
    with pytest.raises(SavedTreeError, match="no data/ folder"):
        read_saved_trees(tmp_path / "missing")
