"""Decision trees flattened into one node table, for scoring without per-row objects or recursion.

All trees of an ensemble share one table. A node reference is a node index (>= 0) or, for a leaf,
``~leaf_index`` (< 0), so a walk ends as soon as it reaches a leaf. Each node is a tuple
``(feature, test, left, right, categorical)``:

* continuous: go left when ``x[feature] <= test`` (a float threshold; NaN goes right, as in MLeap);
* categorical: go left when ``x[feature] in test`` (a frozenset of categories).

A categorical split with ``isLeft=false`` sends its listed categories right; its children are swapped
here so that every categorical test reads "in the set -> left". One tuple per node, unpacked in one
step, is measurably faster in CPython than parallel lists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..bundle import Tree

TreeNode = tuple[int, "float | frozenset[float]", int, int, bool]


@dataclass
class FlatTrees:
    nodes: list[TreeNode] = field(default_factory=list)
    leaf_values: list[float] = field(default_factory=list)  # prediction of leaf j (its first value)
    leaf_tree: list[int] = field(default_factory=list)  # which tree leaf j belongs to
    roots: list[int] = field(default_factory=list)  # reference of each tree's root
    max_feature: int = -1  # largest feature index any split reads


def flatten(trees: Sequence[Tree]) -> FlatTrees:
    flat = FlatTrees()
    for tree_index, tree in enumerate(trees):
        refs: list[int] = []
        for node in tree.nodes:
            if node.split is None:
                refs.append(~len(flat.leaf_values))
                flat.leaf_values.append(node.values[0])
                flat.leaf_tree.append(tree_index)
            else:
                refs.append(len(flat.nodes))
                flat.nodes.append((0, 0.0, 0, 0, False))  # filled below, once children have refs
        for node, ref in zip(tree.nodes, refs, strict=True):
            split = node.split
            if split is None:
                continue
            left, right = refs[node.left], refs[node.right]
            flat.max_feature = max(flat.max_feature, split.feature)
            if split.kind == "continuous":
                flat.nodes[ref] = (split.feature, split.threshold, left, right, False)
            else:
                # NaN never equals a feature value in MLeap's contains(), so it can never match.
                categories = frozenset(c for c in split.categories if not math.isnan(c))
                if not split.is_left:
                    left, right = right, left
                flat.nodes[ref] = (split.feature, categories, left, right, True)
        flat.roots.append(refs[0])
    return flat
