"""Sparse x dense matrix products in Numba: the CSR format, and embedding lookup as a sparse product.

A matrix whose entries are mostly zero is stored in *compressed sparse row* (CSR) form by three arrays:

* ``data``: the non-zero values, row after row;
* ``indices``: the column of each value;
* ``indptr``: ``m + 1`` offsets; row ``i`` owns ``data[indptr[i]:indptr[i + 1]]``.

The product ``S @ B`` then touches only the non-zeros: ``C[i, :] += S[i, j] * B[j, :]`` for every stored
``(i, j)``, which costs ``2 * nnz * n`` flops instead of ``2 * m * k * n``. Each stored value scales a
whole row of ``B``, read with unit stride, so the inner loop vectorises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

__all__ = ["CSRMatrix", "csr_matmul", "one_hot_csr"]


@dataclass(frozen=True)
class CSRMatrix:
    """An ``(m, k)`` sparse matrix in CSR form (see the module docstring for the three arrays)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        m, k = self.shape
        if self.indptr.shape != (m + 1,):
            raise ValueError(f"indptr must have m + 1 = {m + 1} entries for shape {self.shape}, got {self.indptr.shape}")
        if self.data.shape != self.indices.shape or self.data.ndim != 1:
            raise ValueError(f"data and indices must be 1-D of one length, got {self.data.shape} and {self.indices.shape}")
        if self.indptr[0] != 0 or self.indptr[-1] != self.data.size or np.any(np.diff(self.indptr) < 0):
            raise ValueError("indptr must start at 0, never decrease, and end at the number of stored values")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= k):
            raise ValueError(f"column indices must lie in [0, {k}) for shape {self.shape}")

    @property
    def nnz(self) -> int:
        """The number of stored values."""
        return int(self.data.size)

    @property
    def density(self) -> float:
        """Stored values as a fraction of all ``m * k`` entries."""
        m, k = self.shape
        return self.nnz / (m * k) if m * k else 0.0

    @classmethod
    def from_dense(cls, A: np.ndarray) -> "CSRMatrix":
        """Keep the non-zero entries of a 2-D array, row by row."""
        A = np.asarray(A)
        if A.ndim != 2:
            raise ValueError(f"from_dense needs a 2-D array, got shape {A.shape}")
        rows, cols = np.nonzero(A)
        indptr = np.zeros(A.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=A.shape[0]), out=indptr[1:])
        return cls(A[rows, cols], cols.astype(np.int64), indptr, A.shape)

    def to_dense(self) -> np.ndarray:
        """The full ``(m, k)`` array."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


@njit(parallel=True, cache=True)
def _csr_matmul(data, indices, indptr, B, C):
    for i in prange(C.shape[0]):  # rows of C are independent: one thread each, no races
        for t in range(indptr[i], indptr[i + 1]):
            value = data[t]
            b_row = B[indices[t]]
            c_row = C[i]
            for j in range(C.shape[1]):
                c_row[j] += value * b_row[j]


def csr_matmul(S: CSRMatrix, B: np.ndarray) -> np.ndarray:
    """``S @ B`` for a CSR matrix ``S`` (m, k) and a dense ``B`` (k, n); returns a dense (m, n) array.

    The result dtype is ``np.result_type(S.data, B)`` (float32 or float64).
    """
    if not isinstance(S, CSRMatrix):
        raise TypeError(f"csr_matmul needs a CSRMatrix on the left, got {type(S).__name__}")
    B = np.asarray(B)
    if B.ndim != 2 or B.shape[0] != S.shape[1]:
        raise ValueError(f"inner dimensions differ: sparse matrix has shape {S.shape}, dense matrix has shape {B.shape}")
    dtype = np.result_type(S.data.dtype, B.dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    C = np.zeros((S.shape[0], B.shape[1]), dtype=dtype)
    if S.nnz and B.shape[1]:
        _csr_matmul(S.data.astype(dtype, copy=False), S.indices, S.indptr,
                    np.ascontiguousarray(B, dtype=dtype), C)
    return C


def one_hot_csr(ids: np.ndarray, num_rows: int, dtype=np.float32) -> CSRMatrix:
    """The ``(len(ids), num_rows)`` one-hot matrix of ``ids`` in CSR form: exactly one 1 per row.

    ``one_hot_csr(ids, V) @ table`` equals ``table[ids]``: an embedding lookup is a sparse product
    whose every row has a single stored value, which is why frameworks implement it as a gather.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D array of integers, got shape {ids.shape} and dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_rows):
        raise ValueError(f"ids must lie in [0, {num_rows}), got values from {ids.min()} to {ids.max()}")
    return CSRMatrix(np.ones(ids.size, dtype=dtype), ids.astype(np.int64), np.arange(ids.size + 1, dtype=np.int64),
                     (ids.size, num_rows))
