"""The columnar path's inner loops in C (``kernels.c``): the tree walks numpy cannot vectorise, and the
string-label lookup, which in Python costs more than all the maths.

The library is built once per machine by ``build_kernels`` (``make setup`` and the image build run it);
the image carries it, not a compiler. The array kernels are called through ctypes: each wrapper takes
C-contiguous numpy arrays of the right dtype (the callers in ``ops/trees.py`` build them so at load).
The label lookup reads Python objects, so it is a function of the same library imported as the
extension module ``_kernels``.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any

import numpy as np

LIBRARY = Path(__file__).with_name("_kernels.so")

_I64 = ctypes.c_int64
_P = ctypes.c_void_p
_SIGNATURES: dict[str, list[Any]] = {
    "general_leaves": [_P, _I64, _I64, _P, _I64, _P, _P, _P, _P, _P, _P, _P],
    "perfect_leaves": [_P, _I64, _I64, _I64, _I64, _P, _P, _P, _P, _P],
    "forest_mean": [_P, _I64, _I64, _P, _P],
    "fused_dot": [_P, _I64, _I64, _P, _P, _P],
}


class KernelsMissingError(RuntimeError):
    pass


def _check_built() -> None:
    if not LIBRARY.is_file():
        raise KernelsMissingError(
            f"{LIBRARY} is not built: the columnar path needs it. Build it with "
            "`python -m daystosell_service.mleap.build_kernels` (`make setup` does)")


@functools.cache
def _module() -> Any:
    _check_built()
    from . import _kernels  # type: ignore[attr-defined]

    return _kernels


def index_labels(values: list[Any], index: dict[str, float], missing: float, out: np.ndarray) -> np.ndarray:
    """``out[i] = index[values[i]]``, or ``missing`` where ``values[i]`` is not a key (``dict.get``'s
    semantics; an unhashable value raises TypeError)."""
    _module().index_labels(values, index, missing, out)
    return out


@functools.cache
def _library() -> ctypes.CDLL:
    _check_built()
    library = ctypes.CDLL(str(LIBRARY))
    for name, argtypes in _SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes = argtypes
        function.restype = None
    return library


def _ptr(array: np.ndarray, dtype: Any) -> int:
    if array.dtype != dtype or not array.flags.c_contiguous:
        raise TypeError(f"kernel argument must be a C-contiguous {np.dtype(dtype)} array, "
                        f"found {array.dtype} {'contiguous' if array.flags.c_contiguous else 'strided'}")
    return int(array.ctypes.data)


def _rows(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    x = np.ascontiguousarray(x, dtype=np.float64)
    return x, x.shape[0], x.shape[1]


def general_leaves(x: np.ndarray, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
                   children: np.ndarray, cat_start: np.ndarray, cat_end: np.ndarray, categories: np.ndarray,
                   out: np.ndarray) -> np.ndarray:
    """``(rows, trees)``: the leaf each tree reaches for each row (``trees.TreeArrays``)."""
    x, n, width = _rows(x)
    i64, f64 = np.int64, np.float64
    _library().general_leaves(_ptr(x, f64), n, width, _ptr(roots, i64), len(roots), _ptr(feature, i64),
                              _ptr(threshold, f64), _ptr(children, i64), _ptr(cat_start, i64),
                              _ptr(cat_end, i64), _ptr(categories, f64), _ptr(out, i64))
    return out


def perfect_leaves(x: np.ndarray, depth: int, feature: np.ndarray, low: np.ndarray, high: np.ndarray,
                   leaf: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The same for trees laid out complete to ``depth`` (``trees.PerfectTrees``)."""
    x, n, width = _rows(x)
    i64, f64 = np.int64, np.float64
    _library().perfect_leaves(_ptr(x, f64), n, width, depth, feature.shape[0], _ptr(feature, i64),
                              _ptr(low, f64), _ptr(high, f64), _ptr(leaf, i64), _ptr(out, i64))
    return out


def forest_mean(reached: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Random forest regression: the mean of the trees' leaves, summed in tree order from 0.0."""
    n, count = reached.shape
    out = np.empty(n, dtype=np.float64)
    _library().forest_mean(_ptr(reached, np.int64), n, count, _ptr(values, np.float64), _ptr(out, np.float64))
    return out


def fused_dot(reached: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """GBT: ``blas.fused_sum(hi, lo, leaves)`` for each row, the same operations in the same order."""
    n, count = reached.shape
    out = np.empty(n, dtype=np.float64)
    _library().fused_dot(_ptr(reached, np.int64), n, count, _ptr(hi, np.float64), _ptr(lo, np.float64),
                         _ptr(out, np.float64))
    return out
