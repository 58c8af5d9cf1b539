"""Tree classifiers: ``decision_tree_classification``, ``random_forest_classification``,
``gbt_classification``, as Spark's models (see ``classification`` for raw -> probability ->
prediction and thresholds).

* Decision tree: a leaf's ``values`` are its class statistics (weighted counts); raw prediction = those
  statistics, probability = them divided by their sum. With neither raw nor probability output, Spark
  predicts the leaf's own prediction (the first largest statistic) and ignores thresholds.
* Random forest: raw prediction = the sum over trees (in order) of each tree's leaf statistics divided by
  their total (a tree whose total is 0 adds nothing); probability = raw divided by its sum. Tree weights
  are ignored, as in Spark. The trees are ``decision_tree_classification`` models.
* GBT (binary, logistic loss): margin ``m = BLAS.dot(tree predictions, tree_weights)`` (leaf value
  times weight, rounded as ``gbt_regression``); raw ``[-m, m]``; probability ``p0 = 1 / (1 +
  exp(2m))``, ``p1 = 1 - p0``; without thresholds, a prediction from the features alone is ``m > 0``.
  The trees are ``decision_tree_regression`` models.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import blas, javamath
from ..bundle import Node, Tree
from .base import Compiled, Infos, Slots, Stage
from .classification import (
    argmax,
    check_known,
    check_thresholds,
    normalize,
    num_classes,
    output_infos,
    ports,
    slots_by_port,
    threshold_argmax,
)
from .registry import register
from .trees import FlatTrees, compile_leaves, features_needed, flatten, walk

Vector = list[float]


class _TreeClassifier(Stage):
    known: tuple[str, ...] = ("num_features", "num_classes", "thresholds")
    tree_op = ""
    # Spark's DecisionTreeClassificationModel.predict returns the leaf's prediction, thresholds or not.
    plain_ignores_thresholds = False

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        check_known(node, self.known)
        self.num_classes = num_classes(node)
        self.num_features = node.attributes.long("num_features", -1)
        self.thresholds = check_thresholds(node, self.num_classes)
        self.inputs, self.outputs = ports(node)
        trees = self.load_trees()
        self.flat: FlatTrees = flatten(trees)
        self.leaf_stats: list[tuple[float, ...]] = [n.values for t in trees for n in t.nodes if n.split is None]
        if 0 < self.num_features <= self.flat.max_feature:
            raise self.error(f"a split reads feature {self.flat.max_feature} but num_features is "
                             f"{self.num_features}")

    def load_trees(self) -> list[Tree]:
        if not self.node.trees:
            raise self.node.attributes.error("trees", "the ensemble has no trees")
        trees: list[Tree] = []
        for model in self.node.trees:
            if model.op != self.tree_op:
                raise self.error(f"{model.path}: expected op {self.tree_op!r}, found {model.op!r}")
            if model.tree is None:
                raise self.error(f"{model.path}: its tree file (tree.json or tree.pb) is missing")
            trees.append(model.tree)
        weights = self.node.attributes.double_list("tree_weights")
        if len(weights) != len(trees):
            raise self.node.attributes.error("tree_weights", f"{len(weights)} weights for {len(trees)} trees")
        self.weights = weights
        return trees

    def check_stats(self) -> None:
        for j, stats in enumerate(self.leaf_stats):
            if len(stats) != self.num_classes:
                raise self.error(f"leaf {j} has {len(stats)} class statistics for {self.num_classes} classes")
            if not all(0.0 <= v < math.inf for v in stats):
                raise self.error(f"leaf {j} has class statistics {list(stats)[:10]}; they must be finite and "
                                 ">= 0")

    def raw(self) -> Callable[[list[int]], Vector]:
        raise NotImplementedError

    def to_probability(self, raw: Vector) -> Vector:
        try:
            return normalize(raw)
        except ValueError as e:
            raise self.row_error(str(e)) from None

    def predict_plain(self, raw_of: Callable[[list[int]], Vector]) -> Callable[[list[int]], float]:
        """``predict(features)`` when neither raw nor probability is output and there are no thresholds."""
        return lambda leaves: argmax(raw_of(leaves))

    def compile(self, slots: Slots, infos: Infos, out_slots: Slots) -> Compiled:
        flat = self.flat
        try:
            need = features_needed(flat, infos[0].size, self.inputs[0].column)
        except ValueError as e:
            raise self.error(str(e)) from None
        compiled = compile_leaves(flat)
        find = compiled.function if compiled is not None else functools.partial(walk, flat)
        by_port = slots_by_port(self.outputs, out_slots)
        slot, out = slots[0], by_port["prediction"]
        raw_out, prob_out = by_port.get("raw_prediction", -1), by_port.get("probability", -1)
        raw_of = self.raw()
        thresholds = self.thresholds
        from_probability = argmax if thresholds is None else threshold_argmax(thresholds)
        to_probability = self.to_probability
        plain = self.predict_plain(raw_of)
        plain_ignores_thresholds = self.plain_ignores_thresholds

        def step(vals: list[Any]) -> None:
            x = vals[slot]
            if len(x) < need:
                raise self.row_error(f"{len(x)} features, but the trees read feature {need - 1}")
            leaves = find(x)
            if raw_out < 0 and prob_out < 0 and (thresholds is None or plain_ignores_thresholds):
                vals[out] = plain(leaves)
                return
            raw = raw_of(leaves)
            if raw_out >= 0:
                vals[raw_out] = raw
            if prob_out >= 0 or thresholds is not None:
                probability = to_probability(list(raw))
                if prob_out >= 0:
                    vals[prob_out] = probability
                vals[out] = from_probability(probability)
            else:
                vals[out] = argmax(raw)

        return Compiled(step, output_infos(self.outputs, self.num_classes))


@register("decision_tree_classifier")
class DecisionTreeClassification(_TreeClassifier):
    plain_ignores_thresholds = True

    def load_trees(self) -> list[Tree]:
        if self.node.tree is None:
            raise self.error(f"{self.node.path}: its tree file (tree.json or tree.pb) is missing")
        return [self.node.tree]

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.check_stats()

    def raw(self) -> Callable[[list[int]], Vector]:
        stats = [list(s) for s in self.leaf_stats]
        return lambda leaves: list(stats[leaves[0]])


@register("random_forest_classifier")
class RandomForestClassification(_TreeClassifier):
    known = ("num_features", "num_classes", "thresholds", "tree_weights", "trees")
    tree_op = "decision_tree_classifier"

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.check_stats()

    def raw(self) -> Callable[[list[int]], Vector]:
        # Each leaf's statistics over their total, divided at load (classCounts(i) / total in Spark);
        # None for a leaf whose total is 0, which adds nothing.
        shares: list[list[float] | None] = []
        for stats in self.leaf_stats:
            total = 0.0
            for v in stats:
                total += v
            shares.append(None if total == 0 else [v / total for v in stats])
        k = self.num_classes

        def votes(leaves: list[int]) -> Vector:
            acc = [0.0] * k
            for j in leaves:
                share = shares[j]
                if share is not None:
                    for i in range(k):
                        acc[i] += share[i]
            return acc

        return votes


@register("gbt_classifier")
class GBTClassification(_TreeClassifier):
    known = ("num_features", "num_classes", "thresholds", "tree_weights", "trees", "lossType")
    tree_op = "decision_tree_regression"

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        if self.num_classes != 2:
            raise node.attributes.error("num_classes", f"GBT classification is binary, found {self.num_classes}")
        loss = node.attributes.string("lossType", "logistic")
        if loss != "logistic":
            raise node.attributes.error("lossType", f"only 'logistic' is supported, found {loss!r}")

    def margin(self) -> Callable[[Sequence[int]], float]:
        hi, lo = blas.leaf_products(self.flat.leaf_values, self.flat.leaf_tree, self.weights)
        fused_sum = blas.fused_sum
        return lambda leaves: fused_sum(hi, lo, leaves)

    def raw(self) -> Callable[[list[int]], Vector]:
        margin = self.margin()

        def raw(leaves: list[int]) -> Vector:
            m = margin(leaves)
            return [-m, m]

        return raw

    def to_probability(self, raw: Vector) -> Vector:
        p0 = 1.0 / (1.0 + javamath.exp(-2.0 * raw[0]))
        return [p0, 1.0 - p0]

    def predict_plain(self, raw_of: Callable[[list[int]], Vector]) -> Callable[[list[int]], float]:
        margin = self.margin()
        return lambda leaves: 1.0 if margin(leaves) > 0.0 else 0.0
