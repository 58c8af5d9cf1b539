"""Tree regressors: ``decision_tree_regression``, ``random_forest_regression``, ``gbt_regression``.

Mirrors mleap-core: a tree predicts its leaf's first value; a random forest the plain mean of its trees
(``sum / numTrees``, summed in tree order; tree weights are ignored, as in MLeap and Spark); a GBT
``BLAS.dot(tree predictions, tree_weights)``, rounded as MLeap's BLAS does (see ``blas``), from each
leaf's value x weight product computed exactly at load. An ensemble's trees live in sub-folders named
by its ``trees`` attribute, each a ``decision_tree_regression`` model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import blas, kernels
from ..bundle import Node, Tree
from ..errors import RowError
from .base import DOUBLE, BatchStep, Compiled, Infos, Slots, Stage, single_io
from .registry import register
from .trees import (
    FlatTrees,
    Generated,
    compile_fused_dot,
    compile_leaves,
    features_needed,
    flatten,
    tree_arrays,
    walk,
)

TREE_OP = "decision_tree_regression"


class _TreeStage(Stage):
    """Shared by the three: ``features`` -> ``prediction`` through flattened trees."""

    flat: FlatTrees

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.inputs, self.outputs = single_io(node, "vector", "features", "prediction")
        self.num_features = node.attributes.long("num_features", -1)

    def _set_trees(self, trees: list[Tree]) -> None:
        self.flat = flatten(trees)
        if 0 < self.num_features <= self.flat.max_feature:
            raise self.error(f"a split reads feature {self.flat.max_feature} but num_features is "
                             f"{self.num_features}")

    def combine(self) -> Callable[[list[int]], float]:
        """The prediction from the leaf each tree reached (leaf indices, in tree order)."""
        raise NotImplementedError

    def compiled(self) -> Generated | None:
        """``f(features) -> prediction`` compiled at load (see ``trees``); None: use the table walk."""
        leaves = compile_leaves(self.flat)
        if leaves is None:
            return None
        find, combine = leaves.function, self.combine()
        return Generated(lambda x: combine(find(x)), leaves.source)

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        flat = self.flat
        try:
            need = features_needed(flat, infos[0].size, self.inputs[0].column)
        except ValueError as e:
            raise self.error(str(e)) from None
        slot, out = slots[0], out_slots[0]
        fast = self.compiled()
        if fast is not None:
            predict = fast.function
        else:
            combine = self.combine()

            def predict(x: list[float]) -> float:
                return combine(walk(flat, x))

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) < need:
                raise self.row_error(f"{len(x)} features, but the trees read feature {need - 1}")
            vals[out] = predict(x)

        return Compiled(step, [DOUBLE])

    def combine_rows(self) -> Callable[[np.ndarray], np.ndarray]:
        """The columnar ``combine``: ``(rows, trees)`` leaf indices -> predictions (see ``kernels``)."""
        raise NotImplementedError

    def compile_batch(self, slots: Slots, infos: Infos, out_slots: Slots, rowwise: BatchStep) -> BatchStep:
        need = self.flat.max_feature + 1
        slot, out = slots[0], out_slots[0]
        find, combine = tree_arrays(self.flat).leaves, self.combine_rows()

        def step(cols: list[Any], n: int) -> None:
            x = cols[slot]
            if x.dtype == object:  # vectors of differing lengths
                rowwise(cols, n)
                return
            if n and x.shape[1] < need:
                raise RowError(0, str(self.row_error(f"{x.shape[1]} features, but the trees read feature "
                                                     f"{need - 1}")))
            cols[out] = combine(find(np.ascontiguousarray(x, dtype=np.float64)))

        return step


@register("decision_tree_regression")
class DecisionTreeRegression(_TreeStage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        if node.tree is None:
            raise self.error(f"{node.path}: its tree file (tree.json or tree.pb) is missing")
        self._set_trees([node.tree])

    def combine(self) -> Callable[[list[int]], float]:
        values = self.flat.leaf_values
        return lambda leaves: values[leaves[0]]

    def combine_rows(self) -> Callable[[np.ndarray], np.ndarray]:
        values = np.array(self.flat.leaf_values, dtype=np.float64)
        return lambda leaves: values[leaves[:, 0]]


class _Ensemble(_TreeStage):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        if not node.trees:
            raise node.attributes.error("trees", "the ensemble has no trees")
        trees: list[Tree] = []
        for model in node.trees:
            if model.op != TREE_OP:
                raise self.error(f"{model.path}: expected op {TREE_OP!r}, found {model.op!r}")
            if model.tree is None:
                raise self.error(f"{model.path}: its tree file (tree.json or tree.pb) is missing")
            trees.append(model.tree)
        self._set_trees(trees)


@register("random_forest_regression")
class RandomForestRegression(_Ensemble):
    def combine(self) -> Callable[[list[int]], float]:
        count = len(self.flat.roots)
        values = self.flat.leaf_values

        def mean(leaves: list[int]) -> float:
            total = 0.0  # Scala's Seq.sum: a left fold from 0.0, in tree order
            for j in leaves:
                total += values[j]
            return total / count

        return mean

    def combine_rows(self) -> Callable[[np.ndarray], np.ndarray]:
        values = np.array(self.flat.leaf_values, dtype=np.float64)
        return lambda leaves: kernels.forest_mean(leaves, values)


@register("gbt_regression")
class GBTRegression(_Ensemble):
    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.weights = node.attributes.double_list("tree_weights")
        if len(self.weights) != len(self.flat.roots):
            raise node.attributes.error("tree_weights", f"{len(self.weights)} weights for "
                                                         f"{len(self.flat.roots)} trees")

    def products(self) -> tuple[list[float], list[float]]:
        return blas.leaf_products(self.flat.leaf_values, self.flat.leaf_tree, self.weights)

    def combine(self) -> Callable[[list[int]], float]:
        hi, lo = self.products()
        fused_sum = blas.fused_sum

        def dot(leaves: list[int]) -> float:
            return fused_sum(hi, lo, leaves)

        return dot

    def compiled(self) -> Generated | None:
        hi, lo = self.products()
        return compile_fused_dot(self.flat, hi, lo)

    def combine_rows(self) -> Callable[[np.ndarray], np.ndarray]:
        hi, lo = (np.array(v, dtype=np.float64) for v in self.products())
        return lambda leaves: kernels.fused_dot(leaves, hi, lo)
