"""Fitted decision trees read back from Spark ML's own saved-model format.

A tree model is saved with ``write().save(...)``, which works alike on a classic (py4j) session and on a
Spark Connect client, where the model lives in the server and has no Python-side tree to walk; the few KB of
Parquet it writes are then read here with pyarrow rather than with another Spark job.

The layout, as Spark's ``DecisionTreeModelReadWrite`` and ``EnsembleModelReadWrite`` write it:

* ``data/``: one row per node. A single tree's rows are the node's fields; an ensemble's rows are a
  ``treeID`` and a ``nodeData`` struct of the same fields. Node ids number each tree in pre-order from 0
  (root, left subtree, right subtree); a leaf's ``leftChild`` and ``rightChild`` are -1. A split is
  ``featureIndex``, ``leftCategoriesOrThreshold`` (a continuous split's threshold alone, else the
  categories that go left) and ``numCategories`` (-1 for a continuous split).
* ``treesMetadata/`` (ensembles only): one row per tree with its id, its params as JSON and its weight,
  named ``treeID``, ``metadata``, ``weights`` by Spark 3 and left as tuple fields ``_1``, ``_2``, ``_3``
  by Spark 4, in the same order.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

# Spark marks a missing child, and a leaf's split fields, with -1.
NONE = -1
TREES_METADATA_COLUMNS = ("treeID", "metadata", "weights")


class SavedTreeError(ValueError):
    """The saved model is not a tree model, or its node data does not form trees."""


@dataclass(frozen=True)
class ContinuousSplit:
    feature_index: int
    threshold: float  # feature <= threshold goes left


@dataclass(frozen=True)
class CategoricalSplit:
    feature_index: int
    left_categories: tuple[float, ...]  # ascending, as Spark saves them
    num_categories: int

    @property
    def right_categories(self) -> tuple[float, ...]:
        left = set(self.left_categories)
        return tuple(float(c) for c in range(self.num_categories) if float(c) not in left)


Split = ContinuousSplit | CategoricalSplit


@dataclass(frozen=True)
class TreeNode:
    id: int
    prediction: float
    impurity: float
    # Regression: count, sum and sum of squares of the labels; classification: the (weighted) class counts.
    impurity_stats: tuple[float, ...]
    raw_count: int
    gain: float
    left: int
    right: int
    split: Split | None  # None for a leaf

    @property
    def is_leaf(self) -> bool:
        return self.split is None


@dataclass(frozen=True)
class SavedTree:
    nodes: tuple[TreeNode, ...]  # indexed by id
    weight: float = 1.0

    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def depth(self) -> int:
        """Edges on the longest path from the root to a leaf, as Spark counts it (a lone leaf is 0)."""
        deepest = 0
        stack = [(self.root, 0)]
        while stack:
            node, level = stack.pop()
            deepest = max(deepest, level)
            if not node.is_leaf:
                stack += [(self.nodes[node.left], level + 1), (self.nodes[node.right], level + 1)]
        return deepest

    def preorder(self) -> Iterator[TreeNode]:
        """Node, then its left subtree, then its right one, following the child links."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if not node.is_leaf:
                stack += [self.nodes[node.right], self.nodes[node.left]]


def saved_trees(model: Any, scratch: Path | None = None) -> list[SavedTree]:
    """The trees of a fitted Spark tree model (a decision tree, random forest or GBT, regression or
    classification), each with its weight (1.0 for a single tree), in the model's order.

    ``model`` is saved by Spark itself, into a fresh folder under ``scratch`` (the system's temporary folder by
    default), read back and removed. Spark's driver and executors write there, and this process reads it: the
    default serves a local session and a Connect server on this machine; with a remote cluster, ``scratch`` must
    be a folder both sides see at the same path (a shared mount).
    """
    folder = Path(tempfile.mkdtemp(prefix="daystosell-trees-", dir=scratch))
    try:
        target = folder / "model"
        model.write().save(target.resolve().as_uri())
        return read_saved_trees(target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_saved_trees(path: Path) -> list[SavedTree]:
    """The trees of a tree model saved by Spark ML at ``path`` (a local folder)."""
    data = path / "data"
    if not data.is_dir():
        raise SavedTreeError(f"{path} holds no saved model data (no data/ folder)")
    table = pq.read_table(data)
    ensemble = (path / "treesMetadata").is_dir()
    needed = {"treeID", "nodeData"} if ensemble else {"id", "leftChild", "rightChild", "split"}
    if not needed <= set(table.column_names):
        raise SavedTreeError(f"{path} is not a tree model: its data has columns {table.column_names}")
    rows = table.to_pylist()
    if not ensemble:
        return [_tree(rows, where=str(path))]

    weights = _tree_weights(path / "treesMetadata")
    by_tree: dict[int, list[Mapping[str, Any]]] = {tree_id: [] for tree_id in weights}
    for row in rows:
        tree_id = row["treeID"]
        if tree_id not in by_tree:
            raise SavedTreeError(f"{path}: node data for tree {tree_id}, which treesMetadata does not list")
        by_tree[tree_id].append(row["nodeData"])
    return [_tree(by_tree[tree_id], weight=weights[tree_id], where=f"{path} tree {tree_id}")
            for tree_id in sorted(by_tree)]


def _tree_weights(folder: Path) -> dict[int, float]:
    table = pq.read_table(folder)
    names = table.column_names
    if not set(TREES_METADATA_COLUMNS) <= set(names):
        if len(names) != len(TREES_METADATA_COLUMNS):
            raise SavedTreeError(f"{folder}: unexpected treesMetadata columns {names}")
        table = table.rename_columns(list(TREES_METADATA_COLUMNS))
    ids = table.column("treeID").to_pylist()
    weights = table.column("weights").to_pylist()
    if sorted(ids) != list(range(len(ids))):
        raise SavedTreeError(f"{folder}: tree ids {sorted(ids)} are not 0..{len(ids) - 1}")
    return {int(i): float(w) for i, w in zip(ids, weights, strict=True)}


def _tree(rows: Sequence[Mapping[str, Any]], *, where: str, weight: float = 1.0) -> SavedTree:
    nodes = sorted((_node(row) for row in rows), key=lambda n: n.id)
    if not nodes:
        raise SavedTreeError(f"{where}: no nodes")
    if [n.id for n in nodes] != list(range(len(nodes))):
        raise SavedTreeError(f"{where}: node ids are not 0..{len(nodes) - 1}")
    for node in nodes:
        # Pre-order numbering: a split's left child follows it, and its right child follows the left subtree.
        if not node.is_leaf and not (node.left == node.id + 1 and node.left < node.right < len(nodes)):
            raise SavedTreeError(f"{where}: node {node.id} has children {node.left} and {node.right}, "
                                 "which do not number the tree in pre-order")
    tree = SavedTree(nodes=tuple(nodes), weight=weight)
    if sum(1 for _ in tree.preorder()) != len(nodes):
        raise SavedTreeError(f"{where}: {len(nodes)} nodes, but not all are reachable from the root just once")
    return tree


def _node(row: Mapping[str, Any]) -> TreeNode:
    left, right = int(row["leftChild"]), int(row["rightChild"])
    return TreeNode(id=int(row["id"]), prediction=float(row["prediction"]), impurity=float(row["impurity"]),
                    impurity_stats=tuple(float(v) for v in row["impurityStats"]),
                    # Spark before 3.0 saved no raw count; its own reader takes -1 for it.
                    raw_count=int(row.get("rawCount", NONE)), gain=float(row["gain"]), left=left, right=right,
                    split=None if left == NONE else _split(row["split"]))


def _split(split: Mapping[str, Any]) -> Split:
    values = [float(v) for v in split["leftCategoriesOrThreshold"]]
    feature, categories = int(split["featureIndex"]), int(split["numCategories"])
    if categories == NONE:
        if len(values) != 1:
            raise SavedTreeError(f"a continuous split on feature {feature} with thresholds {values}")
        return ContinuousSplit(feature_index=feature, threshold=values[0])
    return CategoricalSplit(feature_index=feature, left_categories=tuple(sorted(values)), num_categories=categories)
