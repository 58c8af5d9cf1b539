"""Column forms of the columnar path beyond plain numpy arrays (see ``batch``)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class Scratch:
    """A reusable work array, one per thread: steps that fill a large array for every chunk reuse one
    instead of asking the allocator for fresh pages each time (which measurably costs more than the
    work itself). Callers must not let it escape the chunk (``batch`` copies the columns it returns)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        array: np.ndarray | None = getattr(self._local, "array", None)
        rows, rest = shape[0], shape[1:]
        if array is None or array.shape[1:] != rest or array.dtype != dtype or array.shape[0] < rows:
            array = self._local.array = np.empty((max(rows, 1), *rest), dtype=dtype)
        return array[:rows]


class OneHotColumn:
    """A one-hot vector column held as the index of its one per row (``index >= width``: all zeros).

    ``one_hot_encoder`` makes these and ``vector_assembler`` scatters them straight into the vector it
    builds, so the wide zero-filled matrix is only made when something else reads the column."""

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, index: np.ndarray, width: int) -> None:
        self.index = index
        self.width = width
        self.shape = (len(index), width)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, keep: np.ndarray) -> OneHotColumn:
        return OneHotColumn(self.index[keep], self.width)

    def dense(self) -> np.ndarray:
        vector = np.zeros(self.shape, dtype=np.float64)
        self.scatter(vector, 0)
        return vector

    def scatter(self, into: np.ndarray, first: int) -> None:
        """Set the ones into columns ``first .. first + width`` of ``into`` (already zero there)."""
        rows = np.flatnonzero(self.index < self.width)
        # One flat index per one: measurably faster than numpy's (rows, columns) fancy indexing.
        into.reshape(-1)[rows * into.shape[1] + (first + self.index[rows])] = 1.0

    def tolist(self) -> list[list[float]]:
        return self.dense().tolist()


def dense(column: Any) -> Any:
    return column.dense() if isinstance(column, OneHotColumn) else column
