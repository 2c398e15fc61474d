"""Matrix multiplication, from three nested Python loops to tiles, Strassen, Numba, CUDA and PyTorch.

Every method computes the same thing, ``C[i, j] = sum_p A[i, p] * B[p, j]``, under the same input rules,
which follow NumPy's ``np.matmul``:

* ``A`` is ``(m, k)`` and ``B`` is ``(k, n)``; the result is ``(m, n)``. A 1-D operand is treated as a
  row (on the left) or a column (on the right) and that axis is dropped from the result, as NumPy does.
  Operands with more than two axes are stacks of matrices whose leading axes broadcast.
* A mismatch of the inner dimensions raises ``ValueError`` naming both shapes; a 0-d operand raises
  ``ValueError`` too.
* float32 stays float32 and float64 stays float64 (a mix gives float64, NumPy's promotion).
  Integer and boolean inputs are computed in float64, which is exact while every partial sum stays
  below 2**53 (NumPy instead keeps integers and wraps silently on overflow); float16 is computed in
  float32. Complex and object arrays raise ``TypeError``.
* Any strides and memory order are accepted: kernels that need contiguous rows get a copy.
* Zero-size dimensions give an ``(m, n)`` result of zeros, as the empty sum is 0.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "MATMUL_METHODS",
    "NAIVE_MAX_MULTIPLY_ADDS",
    "matmul",
    "matmul_naive",
    "matmul_numpy",
    "matmul_blocked",
    "matmul_torch",
    "result_dtype",
    "check_matmul_shapes",
]

#: The pure-Python triple loop does roughly 5-10 million multiply-adds a second; beyond this many
#: it would run for more than about ten seconds, so it refuses.
NAIVE_MAX_MULTIPLY_ADDS = 2**26


def result_dtype(a_dtype: np.dtype, b_dtype: np.dtype) -> np.dtype:
    """The dtype every method computes and returns for inputs of these dtypes (see the module rules)."""
    a_dtype, b_dtype = np.dtype(a_dtype), np.dtype(b_dtype)
    for dt in (a_dtype, b_dtype):
        if dt.kind not in "biuf":
            raise TypeError(f"matmul supports real numbers (bool, int, float); got dtypes {a_dtype} and {b_dtype}")
    common = np.result_type(a_dtype, b_dtype)
    if common.kind in "biu":
        return np.dtype(np.float64)
    if common.itemsize < 4:  # float16 has too few bits to accumulate long sums; compute in float32
        return np.dtype(np.float32)
    if common.itemsize > 8:
        raise TypeError(f"matmul supports float32 and float64; got {common} from {a_dtype} and {b_dtype}")
    return common


def check_matmul_shapes(a_shape: Sequence[int], b_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return ``(m, k, n)`` for 2-D shapes ``(m, k)`` and ``(k, n)``; ``ValueError`` naming both if they clash."""
    if len(a_shape) != 2 or len(b_shape) != 2:
        raise ValueError(f"expected two 2-D matrices, got shapes {tuple(a_shape)} and {tuple(b_shape)}")
    (m, k), (k2, n) = a_shape, b_shape
    if k != k2:
        raise ValueError(
            f"inner dimensions differ: A has shape {tuple(a_shape)} ({k} columns) and B has shape "
            f"{tuple(b_shape)} ({k2} rows); A @ B needs columns of A == rows of B"
        )
    return m, k, n


# --------------------------------------------------------------------------------------------------
# The methods. Each takes 2-D arrays of one float dtype that already passed check_matmul_shapes.
# --------------------------------------------------------------------------------------------------


def matmul_naive(A: Any, B: Any) -> list[list[float]]:
    """``C = A @ B`` with three nested Python loops, on lists of lists (or anything indexable as such).

    ``A`` is (m, k) and ``B`` is (k, n); returns an (m, n) list of lists. Refuses products of more than
    :data:`NAIVE_MAX_MULTIPLY_ADDS` multiply-adds, which would take many seconds to minutes.
    """
    A = A.tolist() if isinstance(A, np.ndarray) else [list(row) for row in A]
    B = B.tolist() if isinstance(B, np.ndarray) else [list(row) for row in B]
    m, k = len(A), (len(A[0]) if A else 0)
    k2, n = len(B), (len(B[0]) if B else 0)
    if any(len(row) != k for row in A) or any(len(row) != n for row in B):
        raise ValueError("matmul_naive needs rectangular inputs: every row of a matrix the same length")
    if A and k == 0 and B == []:
        k2 = 0  # (m, 0) @ (0, n): B as an empty list has no rows to tell its width
    if k != k2:
        raise ValueError(f"inner dimensions differ: A has shape {(m, k)} and B has shape {(k2, n)}")
    work = m * k * n
    if work > NAIVE_MAX_MULTIPLY_ADDS:
        raise ValueError(
            f"matmul_naive refuses {m}x{k} @ {k}x{n}: {work:.3g} multiply-adds in pure Python would take "
            f"about {work / 8e6:.0f} s or more (limit {NAIVE_MAX_MULTIPLY_ADDS:.3g}); use method='numpy'"
        )
    C = [[0.0] * n for _ in range(m)]
    for i in range(m):
        row_a, row_c = A[i], C[i]
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += row_a[p] * B[p][j]
            row_c[j] = total
    return C


def matmul_numpy(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``np.matmul``: NumPy hands the product to its BLAS library (OpenBLAS here)."""
    return np.matmul(A, B)


def matmul_blocked(A: np.ndarray, B: np.ndarray, tile: int = 512) -> np.ndarray:
    """``C = A @ B`` computed tile by tile: ``C[I, J] += A[I, P] @ B[P, J]`` over ``tile``-sized blocks.

    ``A`` is (m, k), ``B`` is (k, n). Each tile product goes to BLAS, so this is as fast as the tiles
    are large; it shows the block-matrix identity that every fast kernel is built on.
    """
    if tile < 1:
        raise ValueError(f"tile must be at least 1, got {tile}")
    m, k = A.shape
    n = B.shape[1]
    C = np.empty((m, n), dtype=np.result_type(A, B))
    if k == 0:
        C[...] = 0
        return C
    partial = np.empty((min(tile, m), min(tile, n)), dtype=C.dtype)
    for i0 in range(0, m, tile):
        i1 = min(i0 + tile, m)
        for j0 in range(0, n, tile):
            j1 = min(j0 + tile, n)
            block = C[i0:i1, j0:j1]
            np.matmul(A[i0:i1, :tile], B[:tile, j0:j1], out=block)  # the first product needs no addition
            out = partial[: i1 - i0, : j1 - j0]
            for p0 in range(tile, k, tile):
                p1 = min(p0 + tile, k)
                np.matmul(A[i0:i1, p0:p1], B[p0:p1, j0:j1], out=out)  # no temporary per tile
                block += out
    return C


def matmul_torch(A: Any, B: Any) -> Any:
    """``torch.matmul`` on whatever device the tensors live on; NumPy inputs go in and come back as NumPy."""
    import torch

    if isinstance(A, torch.Tensor) and isinstance(B, torch.Tensor):
        return torch.matmul(A, B)
    # torch cannot wrap a read-only buffer (a broadcast view), so such an operand is copied first
    a, b = (torch.from_numpy(np.require(X, requirements="W")) for X in (A, B))
    return torch.matmul(a, b).numpy()


def _strassen(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    from .strassen import matmul_strassen

    return matmul_strassen(A, B)


def _numba(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    from .numba_matmul import matmul_numba

    return matmul_numba(A, B)


def _numba_blocked(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    from .numba_matmul import matmul_numba_blocked

    return matmul_numba_blocked(A, B)


def _cuda(kind: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def run(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        from . import cuda_matmul

        return getattr(cuda_matmul, f"matmul_cuda_{kind}")(A, B)

    return run


def _naive(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.array(matmul_naive(A, B), dtype=A.dtype).reshape(A.shape[0], B.shape[1])


_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "naive": _naive,
    "numpy": matmul_numpy,
    "blocked": matmul_blocked,
    "strassen": _strassen,
    "numba": _numba,
    "numba_blocked": _numba_blocked,
    "cuda_naive": _cuda("naive"),
    "cuda_tiled": _cuda("tiled"),
    "cuda_register": _cuda("register"),
    "torch": matmul_torch,
}

#: Every method :func:`matmul` accepts, slowest idea first.
MATMUL_METHODS: tuple[str, ...] = tuple(_METHODS)

# Methods whose compiled code reads rows with unit stride: they get C-contiguous copies when needed.
_NEEDS_CONTIGUOUS = {"numba", "numba_blocked", "cuda_naive", "cuda_tiled", "cuda_register"}


def matmul(A: Any, B: Any, method: str = "numpy") -> Any:
    """``A @ B`` by the named ``method`` (one of :data:`MATMUL_METHODS`), under NumPy's input rules.

    Shapes: ``(m, k) @ (k, n) -> (m, n)``; 1-D operands and stacks of matrices as in ``np.matmul``.
    The result is a NumPy array of :func:`result_dtype`, except for ``method="torch"`` given two
    tensors, which returns a tensor on their device.
    """
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(MATMUL_METHODS)}")
    if method == "torch":
        import torch

        if isinstance(A, torch.Tensor) and isinstance(B, torch.Tensor):
            return torch.matmul(A, B)
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim == 0 or B.ndim == 0:
        raise ValueError(f"matmul needs operands with at least one axis, got shapes {A.shape} and {B.shape}")
    dtype = result_dtype(A.dtype, B.dtype)
    # NumPy's 1-D rule: a vector on the left is a row, on the right a column; the axis is dropped after.
    drop_row, drop_col = A.ndim == 1, B.ndim == 1
    A2 = A[None, :] if drop_row else A
    B2 = B[:, None] if drop_col else B
    if A2.shape[-1] != B2.shape[-2]:
        raise ValueError(
            f"inner dimensions differ: A has shape {A.shape} and B has shape {B.shape}; "
            f"A's last axis ({A2.shape[-1]}) must equal B's second-to-last ({B2.shape[-2]})"
        )
    try:
        batch = np.broadcast_shapes(A2.shape[:-2], B2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the stack (batch) axes of shapes {A.shape} and {B.shape} do not broadcast: "
            f"{A2.shape[:-2]} vs {B2.shape[:-2]}"
        ) from None
    m, k, n = A2.shape[-2], A2.shape[-1], B2.shape[-1]
    kernel = _METHODS[method]
    C = np.zeros(batch + (m, n), dtype=dtype)
    if C.size and k:
        A_stack = np.broadcast_to(A2, batch + (m, k))
        B_stack = np.broadcast_to(B2, batch + (k, n))
        for index in np.ndindex(*batch):
            a, b = A_stack[index].astype(dtype, copy=False), B_stack[index].astype(dtype, copy=False)
            if method in _NEEDS_CONTIGUOUS:
                a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
            C[index] = kernel(a, b)
    if drop_col:
        C = C[..., 0]
    if drop_row:
        C = C[..., 0, :] if not drop_col else C[..., 0]
    return C
