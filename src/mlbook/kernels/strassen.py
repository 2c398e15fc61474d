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


def _quadrants(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 2 x 2 blocks ``X11, X12, X21, X22`` of an even-sized ``X``, as views."""
    r, c = X.shape[0] // 2, X.shape[1] // 2
    return X[:r, :c], X[:r, c:], X[r:, :c], X[r:, c:]


def strassen_products(A: np.ndarray, B: np.ndarray, multiply=np.matmul) -> tuple[np.ndarray, ...]:
    """The seven products ``M1 ... M7`` of one Strassen step; ``A`` (2a, 2b) and ``B`` (2b, 2c) even-sized.

    ``multiply`` computes each half-size product (BLAS by default).
    """
    A11, A12, A21, A22 = _quadrants(A)
    B11, B12, B21, B22 = _quadrants(B)
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
    h, w, v = Ap.shape[0] // 2, Ap.shape[1] // 2, Bp.shape[1] // 2
    A11, A12, A21, A22 = _quadrants(Ap)
    B11, B12, B21, B22 = _quadrants(Bp)
    C = np.empty((2 * h, 2 * v), dtype=np.result_type(A, B))
    C11, C12, C21, C22 = _quadrants(C)
    # The same seven products as strassen_products, scheduled to save memory: the sums go into two
    # reused buffers and each product is added into the blocks of C as soon as it exists, so a level
    # holds three half-size temporaries instead of seventeen. Fresh large arrays are not free: each
    # one is mapped page by page on first touch.
    S = np.empty((h, w), dtype=Ap.dtype)
    T = np.empty((w, v), dtype=Bp.dtype)
    at_leaf = min(h, w, v) <= leaf
    M = np.empty((h, v), dtype=C.dtype) if at_leaf else None

    def product(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.matmul(X, Y, out=M) if at_leaf else matmul_strassen(X, Y, leaf)

    P = product(np.add(A11, A22, out=S), np.add(B11, B22, out=T))  # M1
    C11[...] = P
    C22[...] = P
    P = product(np.add(A21, A22, out=S), B11)  # M2
    C21[...] = P
    C22 -= P
    P = product(A11, np.subtract(B12, B22, out=T))  # M3
    C12[...] = P
    C22 += P
    P = product(A22, np.subtract(B21, B11, out=T))  # M4
    C11 += P
    C21 += P
    P = product(np.add(A11, A12, out=S), B22)  # M5
    C11 -= P
    C12 += P
    P = product(np.subtract(A21, A11, out=S), np.add(B11, B12, out=T))  # M6
    C22 += P
    P = product(np.subtract(A12, A22, out=S), np.add(B21, B22, out=T))  # M7
    C11 += P
    return C[:m, :n] if (m, n) != C.shape else C
