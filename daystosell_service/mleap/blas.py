"""Dot products rounded the way MLeap's JVM computes them, so results match it bit for bit.

MLeap's LinearRegression and GBT call Spark's mllib-local ``BLAS.dot``:

* sparse x dense: one running sum over the sparse vector's stored entries, in index order, each step
  ``sum += x * y`` (product rounded, then sum rounded);
* dense x dense: netlib-java's ``ddot``. On Java 11+ (without the incubating vector module, as MLeap
  runs) that is ``Java11BLAS``: four partial sums over blocks of four, each step a fused
  ``s = Math.fma(x, y, s)`` (one rounding), combined as ``0.0 + (((s0 + s1) + s2) + s3)``, then the
  tail with ``fma`` again. (Java 8 uses the same order without fma; Spark 4 itself may use vector
  lanes, whose order depends on the CPU. MLeap on Java 11+ is the reference here.)

Python 3.11 has no fused multiply-add, so it is emulated with error-free transformations: a product is
split exactly into ``hi + lo`` (Dekker), and ``round(s + hi + lo)`` is computed as
``t + ((s - (t - bp)) + (hi - bp) + lo)`` with ``t = s + hi`` (Knuth's TwoSum). This is the correctly
rounded result except in near-tie cases of vanishing probability (none in the tests' tens of thousands
of random and near-cancelling cases, checked against exact rational arithmetic). Non-finite values,
where the transformations break down, fall back to the plain operations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's constant for splitting a double into two halves
# Beyond this magnitude the split overflows; such values take the plain path.
_SPLIT_LIMIT = 2.0**995


def split(a: float) -> tuple[float, float]:
    """Veltkamp split: ``a == hi + lo`` with each half fitting in 26 bits, so half-products are exact."""
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_product(a: float, b: float) -> tuple[float, float]:
    """Dekker: ``a * b == p + e`` exactly, ``p`` the rounded product (finite, non-huge inputs)."""
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fma(a: float, b: float, c: float) -> float:
    """``Math.fma(a, b, c)``: ``a * b + c`` with one rounding (see the module docstring for the
    precision of the emulation)."""
    if not (abs(a) < _SPLIT_LIMIT and abs(b) < _SPLIT_LIMIT and math.isfinite(c)):
        return a * b + c
    hi, lo = two_product(a, b)
    return _add3(c, hi, lo)


def _add3(s: float, hi: float, lo: float) -> float:
    """``round(s + hi + lo)`` for an exact product ``hi + lo``."""
    t = s + hi
    bp = t - s
    result = t + (((s - (t - bp)) + (hi - bp)) + lo)
    return result if math.isfinite(result) else t


def leaf_products(values: Sequence[float], tree_of_leaf: Sequence[int],
                  weights: Sequence[float]) -> tuple[list[float], list[float]]:
    """Each leaf value times its tree's weight, as ``hi + lo`` with ``lo`` the exact rounding error
    (0.0 where anything is not finite): BLAS.dot over tree predictions multiplies each leaf by its
    weight, and with finitely many leaves every product can be computed once, at load."""
    hi: list[float] = []
    lo: list[float] = []
    for value, tree in zip(values, tree_of_leaf, strict=True):
        weight = weights[tree]
        product = value * weight
        hi.append(product)
        exact = math.isfinite(value) and math.isfinite(weight) and math.isfinite(product)
        lo.append(float(Fraction(value) * Fraction(weight) - Fraction(product)) if exact else 0.0)
    return hi, lo


def fused_sum(hi: Sequence[float], lo: Sequence[float], index: Sequence[int]) -> float:
    """``ddot`` when the products are known exactly in advance: product ``k`` is
    ``hi[index[k]] + lo[index[k]]`` (GBT: the leaf each tree reached, times its tree's weight, split
    at load). Java11BLAS's order, with fused accumulation."""
    n = len(index)
    bound = n - n % 4
    s0 = s1 = s2 = s3 = 0.0
    for k in range(0, bound, 4):
        j = index[k]
        h = hi[j]
        t = s0 + h
        bp = t - s0
        s0 = t + (((s0 - (t - bp)) + (h - bp)) + lo[j])
        j = index[k + 1]
        h = hi[j]
        t = s1 + h
        bp = t - s1
        s1 = t + (((s1 - (t - bp)) + (h - bp)) + lo[j])
        j = index[k + 2]
        h = hi[j]
        t = s2 + h
        bp = t - s2
        s2 = t + (((s2 - (t - bp)) + (h - bp)) + lo[j])
        j = index[k + 3]
        h = hi[j]
        t = s3 + h
        bp = t - s3
        s3 = t + (((s3 - (t - bp)) + (h - bp)) + lo[j])
    total = 0.0 + (((s0 + s1) + s2) + s3)
    for k in range(bound, n):
        j = index[k]
        total = _add3(total, hi[j], lo[j])
    if not math.isfinite(total):
        # An overflow inside the transformations yields NaN: redo it plainly, as the JVM would get
        # the same infinity or NaN.
        return plain_ddot_products([hi[j] for j in index])
    return total


def plain_ddot_products(products: Sequence[float]) -> float:
    """The same order with the products taken as given (used when they are not finite)."""
    n = len(products)
    bound = n - n % 4
    s0 = s1 = s2 = s3 = 0.0
    for i in range(0, bound, 4):
        s0 += products[i]
        s1 += products[i + 1]
        s2 += products[i + 2]
        s3 += products[i + 3]
    total = 0.0 + (((s0 + s1) + s2) + s3)
    for i in range(bound, n):
        total += products[i]
    return total


class Coefficients:
    """A fixed vector (a model's coefficients) dotted with each row's features; its Veltkamp splits
    are computed once, so a fused step costs one split per feature."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = [float(v) for v in values]
        self.splittable = all(abs(v) < _SPLIT_LIMIT for v in self.values)
        halves = [split(v) if abs(v) < _SPLIT_LIMIT else (v, 0.0) for v in self.values]
        self.hi = [h for h, _ in halves]
        self.lo = [lo for _, lo in halves]

    def __len__(self) -> int:
        return len(self.values)

    def dense(self, x: Sequence[float]) -> float:
        """``ddot(x, self)`` in Java11BLAS's order with fused steps."""
        y, y_hi, y_lo = self.values, self.hi, self.lo
        n = len(x)
        bound = n - n % 4
        acc = [0.0, 0.0, 0.0, 0.0]
        total = 0.0
        for i in range(n):
            if i == bound:
                total = 0.0 + (((acc[0] + acc[1]) + acc[2]) + acc[3])
            a = x[i]
            s = acc[i & 3] if i < bound else total
            if abs(a) < _SPLIT_LIMIT and self.splittable and math.isfinite(s):
                # Dekker's product a * y[i] == p + e, then TwoSum(s, p) + e: one rounding overall.
                t = _SPLITTER * a
                ah = t - (t - a)
                al = a - ah
                p = a * y[i]
                e = ((ah * y_hi[i] - p) + ah * y_lo[i] + al * y_hi[i]) + al * y_lo[i]
                t = s + p
                bp = t - s
                r = t + (((s - (t - bp)) + (p - bp)) + e)
                if not math.isfinite(r):
                    r = t
            else:
                r = a * y[i] + s
            if i < bound:
                acc[i & 3] = r
            else:
                total = r
        if bound == n:
            total = 0.0 + (((acc[0] + acc[1]) + acc[2]) + acc[3])
        return total

    def sparse(self, x: Sequence[float]) -> float:
        """Dot product of a vector Spark holds sparse (its non-zeros only), index order, unfused."""
        y = self.values
        total = 0.0
        for i, v in enumerate(x):
            if v != 0.0:
                total += v * y[i]
        return total

    def compressed(self, x: Sequence[float]) -> float:
        """``dot(v.compressed, self)`` for a vector a VectorAssembler built."""
        return self.sparse(x) if is_compressed_sparse(x) else self.dense(x)


def is_compressed_sparse(x: Sequence[float]) -> bool:
    """Whether Spark's ``Vector.compressed`` keeps this vector sparse (it picks the smaller encoding)."""
    n = len(x)
    nnz = n - x.count(0.0)  # NaN counts as non-zero, -0.0 as zero, as in Spark
    return 1.5 * (nnz + 1.0) < n
