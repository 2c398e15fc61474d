"""Small kernels for the Efficient Implementation chapter: fusion, memory locality, quantisation, pruning.

* Fusion: ``relu(x * scale + shift)`` as three NumPy passes (each writes a temporary the size of
  ``x``) or one fused Numba pass that reads ``x`` once and writes the result once.
* Locality: summing a C-ordered matrix row by row (unit stride) or column by column (a jump of a
  whole row between consecutive reads).
* Quantisation: symmetric int8 with one scale per row of ``A`` and per column of ``B``; the product is
  accumulated exactly in int32 and rescaled once.
* Pruning: zero the smallest-magnitude weights, the first step to a sparse (CSR) layer.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "scale_shift_relu_unfused",
    "scale_shift_relu_fused",
    "sum_rows_first",
    "sum_columns_first",
    "quantize_int8",
    "int8_matmul",
    "quantized_matmul",
    "prune_by_magnitude",
]


def scale_shift_relu_unfused(x: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """``max(x * scale + shift, 0)`` as NumPy writes it: three passes, two temporaries of ``x``'s size."""
    return np.maximum(x * scale + shift, 0)


@njit(parallel=True, fastmath=True, cache=True)
def _fused(flat, scale, shift, out):
    for i in prange(flat.shape[0]):
        value = flat[i] * scale + shift
        out[i] = value if value > 0 else 0


def scale_shift_relu_fused(x: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """The same as :func:`scale_shift_relu_unfused` in one fused pass: read ``x`` once, write once."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"scale_shift_relu_fused needs a float array, got dtype {x.dtype}")
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    _fused(flat, x.dtype.type(scale), x.dtype.type(shift), out)
    return out.reshape(x.shape)


@njit(cache=True)
def sum_rows_first(X: np.ndarray) -> float:
    """Sum a 2-D array walking along each row (unit stride for a C-ordered array)."""
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            total += X[i, j]
    return total


@njit(cache=True)
def sum_columns_first(X: np.ndarray) -> float:
    """Sum a 2-D array walking down each column (a stride of a whole row for a C-ordered array)."""
    total = 0.0
    for j in range(X.shape[1]):
        for i in range(X.shape[0]):
            total += X[i, j]
    return total


def quantize_int8(X: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantisation with one scale per slice along ``axis`` (0: per column, 1: per row).

    Returns ``(Q, scale)`` with ``Q`` int8 in [-127, 127] and ``X ~= Q * scale`` (``scale`` keeps the
    reduced axis as length 1, so it broadcasts back). An all-zero slice gets scale 1.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or axis not in (0, 1):
        raise ValueError(f"quantize_int8 needs a 2-D array and axis 0 or 1, got shape {X.shape} and axis {axis}")
    max_abs = np.abs(X).max(axis=axis, keepdims=True)
    scale = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32)
    Q = np.clip(np.rint(X / scale), -127, 127).astype(np.int8)
    return Q, scale


def int8_matmul(Aq: np.ndarray, a_scale: np.ndarray, Bq: np.ndarray, b_scale: np.ndarray) -> np.ndarray:
    """``(Aq * a_scale) @ (Bq * b_scale)`` computed as an exact int32 product, rescaled once.

    ``Aq`` (m, k) int8 with ``a_scale`` (m, 1); ``Bq`` (k, n) int8 with ``b_scale`` (1, n). Each
    int8 x int8 product fits in 15 bits, so int32 sums are exact for ``k`` up to 2**17.
    """
    if Aq.dtype != np.int8 or Bq.dtype != np.int8:
        raise TypeError(f"int8_matmul needs int8 operands, got {Aq.dtype} and {Bq.dtype}")
    if Aq.shape[1] != Bq.shape[0]:
        raise ValueError(f"inner dimensions differ: {Aq.shape} and {Bq.shape}")
    if a_scale.shape != (Aq.shape[0], 1) or b_scale.shape != (1, Bq.shape[1]):
        raise ValueError(f"scales must have shapes {(Aq.shape[0], 1)} and {(1, Bq.shape[1])}, "
                         f"got {a_scale.shape} and {b_scale.shape}")
    accumulated = Aq.astype(np.int32) @ Bq.astype(np.int32)
    return accumulated.astype(np.float32) * a_scale * b_scale


def quantized_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` through int8: rows of ``A`` and columns of ``B`` each get their own scale."""
    Aq, a_scale = quantize_int8(A, axis=1)
    Bq, b_scale = quantize_int8(B, axis=0)
    return int8_matmul(Aq, a_scale, Bq, b_scale)


def prune_by_magnitude(W: np.ndarray, sparsity: float) -> np.ndarray:
    """A copy of ``W`` with the ``sparsity`` fraction of smallest-magnitude entries set to zero."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    W = np.array(W, copy=True)
    drop = int(round(sparsity * W.size))
    if drop:
        order = np.argsort(np.abs(W), axis=None, kind="stable")
        W.flat[order[:drop]] = 0
    return W
