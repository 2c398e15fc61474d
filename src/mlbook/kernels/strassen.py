"""Strassen's algorithm: seven half-size products instead of eight, for matrices of any shape.

Split ``A`` (m, k) and ``B`` (k, n) into 2 x 2 blocks. The ordinary block product needs the eight
products ``A_ij @ B_jl``; Strassen (1969) found seven products ``M1 ... M7`` of sums of blocks from
which the four blocks of ``C`` follow by additions alone. Applied recursively this costs
``O(n^log2(7)) = O(n^2.807)`` multiplications, at the price of 18 block additions per level, extra
memory and slightly larger rounding errors; below a *leaf size* the recursion hands over to BLAS.

Odd dimensions are handled by *padding*: a matrix with an odd number of rows or columns gets one zero
row or column (zeros add nothing to any product), and the padding is cut off the result.

``matmul_strassen`` computes Winograd's variant of the seven products, which needs 15 block additions
per level instead of 18, and writes each product straight into a block of ``C``
(``np.matmul(..., out=block)``: BLAS writes into a block of a larger matrix through its leading
dimension), so a level needs only two half-size scratch buffers. ``strassen_products`` gives
Strassen's original ``M1 ... M7`` for checking the identities.
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
    C = np.empty((m, n), dtype=np.result_type(A, B))
    _strassen_into(A, B, C, leaf)
    return C


def _strassen_into(A: np.ndarray, B: np.ndarray, C: np.ndarray, leaf: int) -> None:
    """Write ``A @ B`` into ``C`` (which may be a view, such as a block of a larger matrix)."""
    if min(A.shape[0], A.shape[1], B.shape[1]) <= leaf:
        np.matmul(A, B, out=C)
        return
    Ap, Bp = _pad_even(A), _pad_even(B)
    if Ap is not A or Bp is not B:  # odd sizes: work on zero-padded copies, keep the top-left corner
        padded = np.empty((Ap.shape[0], Bp.shape[1]), dtype=C.dtype)
        _strassen_into(Ap, Bp, padded, leaf)
        C[...] = padded[:C.shape[0], :C.shape[1]]
        return
    A11, A12, A21, A22 = _quadrants(A)
    B11, B12, B21, B22 = _quadrants(B)
    C11, C12, C21, C22 = _quadrants(C)
    # Winograd's form of the seven products (15 block additions instead of Strassen's 18), in the
    # schedule of Boyer, Dumas, Pernet and Zhou (2009): each product is written straight into a block of
    # C that is free at that moment, so a level needs only two half-size buffers, X for sums of A's
    # blocks (and later P1) and Y for sums of B's blocks. Fresh large arrays are not free: the first
    # write to each page costs a page fault, and every addition is a pass over memory.
    (h, w), v = A11.shape, B11.shape[1]
    X_memory = np.empty(max(h * w, h * v), dtype=C.dtype)
    X, P1 = X_memory[:h * w].reshape(h, w), X_memory[:h * v].reshape(h, v)
    Y = np.empty((w, v), dtype=C.dtype)

    def product(U: np.ndarray, V: np.ndarray, out: np.ndarray) -> None:
        _strassen_into(U, V, out, leaf)

    product(np.subtract(A11, A21, out=X), np.subtract(B22, B12, out=Y), C21)  # C21 = P7 = S3 T3
    product(np.add(A21, A22, out=X), np.subtract(B12, B11, out=Y), C22)  # C22 = P5 = S1 T1
    product(np.subtract(X, A11, out=X), np.subtract(B22, Y, out=Y), C12)  # C12 = P6 = S2 T2
    product(np.subtract(A12, X, out=X), B22, C11)  # C11 = P3 = S4 B22
    product(A11, B11, P1)  # the sums in X are used up: X now holds P1
    C12 += P1  # U2 = P1 + P6
    C21 += C12  # U3 = U2 + P7
    C12 += C22  # U4 = U2 + P5
    C22 += C21  # C22 = U3 + P5, final
    C12 += C11  # C12 = U4 + P3, final
    product(A22, np.subtract(Y, B21, out=Y), C11)  # C11 = P4 = A22 T4, with T4 = T2 - B21
    C21 -= C11  # C21 = U3 - P4, final
    product(A12, B21, C11)  # C11 = P2
    C11 += P1  # C11 = P1 + P2, final
