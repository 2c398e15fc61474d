"""Strassen's algorithm: seven half-size products instead of eight, for matrices of any shape.

Split ``A`` (m, k) and ``B`` (k, n) into 2 x 2 blocks. The ordinary block product needs the eight
products ``A_ij @ B_jl``; Strassen (1969) found seven products ``M1 ... M7`` of sums of blocks from
which the four blocks of ``C`` follow by additions alone. Applied recursively this costs
``O(n^log2(7)) = O(n^2.807)`` multiplications, at the price of 18 block additions per level, extra
memory and slightly larger rounding errors; below a *leaf size* the recursion hands over to BLAS.

Odd dimensions are handled by *padding*: a matrix with an odd number of rows or columns gets one zero
row or column (zeros add nothing to any product), and the padding is cut off the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["matmul_strassen", "strassen_products", "STRASSEN_LEAF"]

#: Below this many rows, columns or inner length, a block product goes straight to BLAS.
STRASSEN_LEAF = 1024


def _pad_even(X: np.ndarray) -> np.ndarray:
    rows, cols = X.shape
    if rows % 2 == 0 and cols % 2 == 0:
        return X
    padded = np.zeros((rows + rows % 2, cols + cols % 2), dtype=X.dtype)
    padded[:rows, :cols] = X
    return padded


def strassen_products(A: np.ndarray, B: np.ndarray, multiply=np.matmul) -> tuple[np.ndarray, ...]:
    """The seven products ``M1 ... M7`` of one Strassen step; ``A`` (2a, 2b) and ``B`` (2b, 2c) even-sized.

    ``multiply`` computes each half-size product (BLAS by default, the recursion in
    :func:`matmul_strassen`).
    """
    h, w, v = A.shape[0] // 2, A.shape[1] // 2, B.shape[1] // 2
    A11, A12, A21, A22 = A[:h, :w], A[:h, w:], A[h:, :w], A[h:, w:]
    B11, B12, B21, B22 = B[:w, :v], B[:w, v:], B[w:, :v], B[w:, v:]
    return (
        multiply(A11 + A22, B11 + B22),
        multiply(A21 + A22, B11),
        multiply(A11, B12 - B22),
        multiply(A22, B21 - B11),
        multiply(A11 + A12, B22),
        multiply(A21 - A11, B11 + B12),
        multiply(A12 - A22, B21 + B22),
    )


def matmul_strassen(A: np.ndarray, B: np.ndarray, leaf: int = STRASSEN_LEAF) -> np.ndarray:
    """``C = A @ B`` by Strassen's recursion down to blocks of ``leaf``, then BLAS.

    ``A`` is (m, k), ``B`` is (k, n), any sizes (odd ones are zero-padded one row or column per
    level). ``leaf`` must be at least 1; ``leaf=1`` recurses to single numbers (slow, but exact
    Strassen all the way down).
    """
    if leaf < 1:
        raise ValueError(f"leaf size must be at least 1, got {leaf}")
    m, k = A.shape
    k2, n = B.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: A has shape {A.shape} and B has shape {B.shape}")
    if min(m, k, n) <= leaf:
        return np.matmul(A, B)
    Ap, Bp = _pad_even(A), _pad_even(B)

    def recurse(X, Y):
        return matmul_strassen(X, Y, leaf)

    M1, M2, M3, M4, M5, M6, M7 = strassen_products(Ap, Bp, recurse)
    h, v = Ap.shape[0] // 2, Bp.shape[1] // 2
    C = np.empty((Ap.shape[0], Bp.shape[1]), dtype=M1.dtype)
    # C11 = M1 + M4 - M5 + M7, C12 = M3 + M5, C21 = M2 + M4, C22 = M1 - M2 + M3 + M6,
    # written with out= so that no temporaries the size of a block are made.
    C11, C12, C21, C22 = C[:h, :v], C[:h, v:], C[h:, :v], C[h:, v:]
    np.add(M1, M4, out=C11)
    C11 -= M5
    C11 += M7
    np.add(M3, M5, out=C12)
    np.add(M2, M4, out=C21)
    np.subtract(M1, M2, out=C22)
    C22 += M3
    C22 += M6
    return C[:m, :n] if (m, n) != C.shape else C
