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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bundle import Tree
from ..columns import Scratch

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


# -- compiled walks ------------------------------------------------------------------------------------
#
# At load the flattened trees are also turned into Python source (nested ``if``/``else``, one block per
# tree) and compiled, which CPython runs several times faster than the table walk above. The source is
# built only from numbers this module validated: feature indices and leaf indices as ``int``, finite
# floats as their ``repr`` (checked to read back bit for bit); non-finite thresholds and category sets
# are bound as constants of the generated function's namespace under names made here. No text from the
# bundle ever reaches the source. Ensembles too large to compile cheaply keep the table walk.

MAX_COMPILED_NODES = 1 << 15  # split + leaf nodes per stage; beyond this, the table walk is used
MAX_COMPILED_DEPTH = 64  # deeper trees (only with a raised MAX_TREE_DEPTH) keep the table walk too
_MAX_HOISTED_FEATURES = 32  # features read into locals once per row; beyond this, x[f] at each test
_MAX_EQUALITY_TESTS = 4  # categorical splits with at most this many categories test with ==


def features_needed(flat: FlatTrees, size: int | None, column: str) -> int:
    """How many features a row must have for these trees; refuses a column too short for their splits."""
    if size is not None and flat.max_feature >= size:
        raise ValueError(f"a split reads feature {flat.max_feature} but column {column!r} has {size} features")
    return flat.max_feature + 1


def walk(flat: FlatTrees, x: Sequence[float]) -> list[int]:
    """The reference walk: the leaf each tree reaches, in tree order."""
    nodes = flat.nodes
    leaves = []
    for i in flat.roots:
        while i >= 0:
            f, test, left, right, categorical = nodes[i]
            if categorical:  # noqa: SIM108
                i = left if x[f] in test else right  # type: ignore[operator]
            else:
                i = left if x[f] <= test else right  # type: ignore[operator]
        leaves.append(~i)
    return leaves


@dataclass(frozen=True)
class Generated:
    """A compiled function and the source it was compiled from (kept for tests and debugging)."""

    function: Callable[..., Any]
    source: str


class _Source:
    """Accumulates generated lines and the namespace constants they refer to."""

    def __init__(self, flat: FlatTrees) -> None:
        self.flat = flat
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        features = sorted({node[0] for node in flat.nodes})
        self.hoisted = len(features) <= _MAX_HOISTED_FEATURES
        self.features = features

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def number(self, value: float) -> str:
        """A float as source text: a literal when finite (checked to read back exactly), else a constant."""
        value = float(value)
        if math.isfinite(value):
            text = repr(value)
            if float(text).hex() == value.hex():
                return text
        return self.constant(value)

    def feature(self, f: int) -> str:
        f = int(f)
        return f"x{f}" if self.hoisted else f"x[{f}]"

    def header(self, name: str) -> None:
        self.lines.append(f"def {name}(x):")
        if self.hoisted and self.features:
            for start in range(0, len(self.features), 16):
                chunk = self.features[start:start + 16]
                targets = ", ".join(f"x{int(f)}" for f in chunk)
                sources = ", ".join(f"x[{int(f)}]" for f in chunk)
                self.lines.append(f"    {targets}, = {sources},")

    def tree(self, root: int, leaf: Callable[[int, str], None]) -> None:
        """Emit one tree's nested tests; ``leaf(j, indent)`` emits what a leaf does."""
        nodes = self.flat.nodes
        # An explicit stack of (reference, depth, is_else): pre-order, the else branch after the if body.
        stack: list[tuple[int, int, bool]] = [(root, 1, False)]
        while stack:
            ref, depth, is_else = stack.pop()
            indent = "    " * depth
            if is_else:
                self.lines.append(indent[4:] + "else:")
            if ref < 0:
                leaf(~ref, indent)
                continue
            f, test, left, right, categorical = nodes[ref]
            if categorical:
                assert isinstance(test, frozenset)
                cats = sorted(float(c) for c in test)  # never NaN (see flatten)
                if 0 < len(cats) <= _MAX_EQUALITY_TESTS and all(math.isfinite(c) for c in cats):
                    # Equal to set membership for non-NaN categories (-0.0 == 0.0 in both).
                    feature = self.feature(f)
                    tests = " or ".join(f"{feature} == {self.number(c)}" for c in cats)
                    self.lines.append(f"{indent}if {tests}:")
                else:
                    self.lines.append(f"{indent}if {self.feature(f)} in {self.constant(frozenset(cats))}:")
            else:
                assert isinstance(test, float)
                self.lines.append(f"{indent}if {self.feature(f)} <= {self.number(test)}:")
            stack.append((right, depth + 1, True))
            stack.append((left, depth + 1, False))

    def compile(self, name: str) -> Generated:
        source = "\n".join(self.lines) + "\n"
        code = compile(source, f"<mleap trees {name}>", "exec")
        namespace = dict(self.namespace)
        namespace["__builtins__"] = {}
        exec(code, namespace)  # the source is built above from validated numbers only
        return Generated(namespace[name], source)


def depth(flat: FlatTrees) -> int:
    """Splits on the longest root-to-leaf path of any tree."""
    deepest = 0
    stack = [(root, 0) for root in flat.roots]
    while stack:
        ref, level = stack.pop()
        if ref < 0:
            deepest = max(deepest, level)
        else:
            _, _, left, right, _ = flat.nodes[ref]
            stack.append((left, level + 1))
            stack.append((right, level + 1))
    return deepest


def compilable(flat: FlatTrees) -> bool:
    """Small and shallow enough to compile (CPython caps nesting at 100 indentation levels)."""
    return len(flat.nodes) + len(flat.leaf_values) <= MAX_COMPILED_NODES and depth(flat) <= MAX_COMPILED_DEPTH


def compile_leaves(flat: FlatTrees) -> Generated | None:
    """``f(x) -> list[int]``, the same as ``walk(flat, x)``; None when the trees are too large."""
    if not compilable(flat):
        return None
    src = _Source(flat)
    src.header("leaves")
    for k, root in enumerate(flat.roots):
        def leaf(j: int, indent: str, k: int = k) -> None:
            src.lines.append(f"{indent}j{k} = {int(j)}")

        src.tree(root, leaf)
    src.lines.append("    return [" + ", ".join(f"j{k}" for k in range(len(flat.roots))) + "]")
    return src.compile("leaves")


def _fused_step(lines: list[str], s: str, h: str, e: str) -> None:
    """One ``blas.fused_sum`` block step, ``s = fma-add(s, h + e)``, exactly as written there."""
    lines.append(f"    t = {s} + {h}")
    lines.append(f"    bp = t - {s}")
    lines.append(f"    {s} = t + ((({s} - (t - bp)) + ({h} - bp)) + {e})")


def compile_fused_dot(flat: FlatTrees, hi: Sequence[float], lo: Sequence[float]) -> Generated | None:
    """``f(x) -> float``, the same as ``blas.fused_sum(hi, lo, walk(flat, x))`` bit for bit: the walk
    and the sum in one function, each leaf binding its product's ``hi``/``lo`` as literals."""
    if not compilable(flat):
        return None
    from .. import blas  # local: blas imports nothing from here, but keep trees.py light

    src = _Source(flat)
    src.namespace["_isfinite"] = math.isfinite
    src.namespace["_plain"] = blas.plain_ddot_products
    src.header("fused_dot")
    lines = src.lines

    n = len(flat.roots)
    bound = n - n % 4
    for k, root in enumerate(flat.roots):
        def leaf(j: int, indent: str, k: int = k) -> None:
            if k < bound and k < 4:
                # The first step of each lane starts from 0.0: done here at load, with the same
                # operations, so the row only picks its result.
                h, e, s = hi[j], lo[j], 0.0
                t = s + h
                bp = t - s
                first = t + (((s - (t - bp)) + (h - bp)) + e)
                lines.append(f"{indent}h{k} = {src.number(h)}; s{k} = {src.number(first)}")
            else:
                lines.append(f"{indent}h{k} = {src.number(hi[j])}; e{k} = {src.number(lo[j])}")

        src.tree(root, leaf)
    if bound == 0:
        lines.append("    s0 = s1 = s2 = s3 = 0.0")
    for k in range(4, bound, 4):
        for lane in range(4):
            _fused_step(lines, f"s{lane}", f"h{k + lane}", f"e{k + lane}")
    lines.append("    total = 0.0 + (((s0 + s1) + s2) + s3)")
    for k in range(bound, n):  # blas._add3
        lines.append(f"    t = total + h{k}")
        lines.append("    bp = t - total")
        lines.append(f"    r = t + (((total - (t - bp)) + (h{k} - bp)) + e{k})")
        lines.append("    total = r if _isfinite(r) else t")
    lines.append("    if not _isfinite(total):")
    lines.append("        return _plain([" + ", ".join(f"h{k}" for k in range(n)) + "])")
    lines.append("    return total")
    return src.compile("fused_dot")


# -- arrays, for the columnar path's compiled walks (see ``kernels``) ------------------------------------


@dataclass(frozen=True)
class TreeArrays:
    roots: Any
    feature: Any
    threshold: Any
    children: Any  # 2 per node: where the test sends a row when it holds, then when it does not
    cat_start: Any  # -1 for a continuous split
    cat_end: Any
    categories: Any
    scratch: Scratch = field(default_factory=Scratch)

    @classmethod
    def of(cls, flat: FlatTrees) -> TreeArrays:
        count = len(flat.nodes)
        feature = np.zeros(count, dtype=np.int64)
        threshold = np.zeros(count, dtype=np.float64)
        children = np.zeros(2 * count, dtype=np.int64)
        cat_start = np.full(count, -1, dtype=np.int64)
        cat_end = np.full(count, -1, dtype=np.int64)
        categories: list[float] = []
        for i, (f, test, left, right, categorical) in enumerate(flat.nodes):
            feature[i] = f
            children[2 * i], children[2 * i + 1] = left, right
            if categorical:
                assert isinstance(test, frozenset)
                cat_start[i] = len(categories)
                categories.extend(sorted(test))
                cat_end[i] = len(categories)
            else:
                assert isinstance(test, float)
                threshold[i] = test
        return cls(np.array(flat.roots, dtype=np.int64), feature, threshold, children, cat_start, cat_end,
                   np.array(categories, dtype=np.float64))

    def leaves(self, x: Any) -> Any:
        from .. import kernels

        out = self.scratch.get((x.shape[0], len(self.roots)), np.int64)
        return kernels.general_leaves(x, self.roots, self.feature, self.threshold, self.children, self.cat_start,
                                      self.cat_end, self.categories, out)


MAX_PERFECT_DEPTH = 10  # deeper trees keep the node-table walk: a complete layout doubles per level


@dataclass(frozen=True)
class PerfectTrees:
    """Trees laid out complete to the deepest tree's depth: node ``i`` of tree ``t`` at ``[t, i]``, its
    children at ``2i + 1`` and ``2i + 2``. Every test is ``low <= x <= high``, sending the row left when
    it holds: a continuous split is ``-inf <= x <= threshold``, a categorical split on one category ``c``
    is ``c <= x <= c`` (NaN fails both, and goes right, as in the node-table walk). Below a leaf shallower
    than the deepest, filler nodes send every row on to copies of the leaf. Trees whose categorical
    splits list several categories keep the node table."""

    depth: int
    feature: Any  # (trees, 2**depth - 1)
    low: Any
    high: Any
    leaf: Any  # (trees, 2**depth): the leaf index reached at each bottom position
    scratch: Scratch = field(default_factory=Scratch)

    @classmethod
    def of(cls, flat: FlatTrees) -> PerfectTrees | None:
        deepest = depth(flat)
        if deepest > MAX_PERFECT_DEPTH or any(n[4] and len(n[1]) > 1 for n in flat.nodes):  # type: ignore[arg-type]
            return None
        inner = (1 << deepest) - 1
        shape = (len(flat.roots), inner)
        feature = np.zeros(shape, dtype=np.int64)
        low = np.full(shape, -math.inf)
        high = np.full(shape, math.inf)
        leaf = np.zeros((len(flat.roots), inner + 1), dtype=np.int64)
        for t, root in enumerate(flat.roots):
            stack = [(root, 0, 0)]  # (reference, position, level)
            while stack:
                ref, position, level = stack.pop()
                if ref < 0:
                    span = 1 << (deepest - level)
                    first = ((position + 1) << (deepest - level)) - 1 - inner
                    leaf[t, first:first + span] = ~ref
                    continue
                f, test, left, right, categorical = flat.nodes[ref]
                feature[t, position] = f
                if not categorical:
                    high[t, position] = test
                elif test:
                    (category,) = test  # type: ignore[misc]
                    low[t, position] = high[t, position] = category
                else:  # no category: the test never holds
                    low[t, position], high[t, position] = math.inf, -math.inf
                stack.append((left, 2 * position + 1, level + 1))
                stack.append((right, 2 * position + 2, level + 1))
        return cls(deepest, feature, low, high, leaf)

    def leaves(self, x: Any) -> Any:
        from .. import kernels

        out = self.scratch.get((x.shape[0], self.feature.shape[0]), np.int64)
        return kernels.perfect_leaves(x, self.depth, self.feature, self.low, self.high, self.leaf, out)


def tree_arrays(flat: FlatTrees) -> PerfectTrees | TreeArrays:
    """The fastest layout these trees allow; ``.leaves(x)`` gives ``(rows, trees)`` leaf indices."""
    return PerfectTrees.of(flat) or TreeArrays.of(flat)
