"""Matrix multiplication compiled with Numba: a simple parallel loop, then a cache-blocked kernel.

Both kernels take C-contiguous 2-D arrays of one float dtype (the dispatcher in
:mod:`mlbook.kernels.matmul` makes sure of that) and return a new ``(m, n)`` array.

``matmul_numba`` is the three loops in the order ``i, p, j``, so the innermost loop walks a row of
``B`` and a row of ``C`` with stride 1 and LLVM turns it into SIMD instructions; ``prange`` hands the
rows of ``C`` to the threads.

``matmul_numba_blocked`` is organised like a BLAS ``gemm`` (Goto's algorithm): it cuts ``B`` into
panels that stay in the shared L3 cache, copies ("packs") each panel transposed so that every column
of ``B`` becomes a contiguous run, copies a block of rows of ``A`` (sized for one core's L2 cache)
into a contiguous buffer as well, and then computes
``C`` four rows by three columns at a time. The 12 partial sums of such a 4x3 block live in
registers for the whole depth of the panel, so every value loaded from cache feeds three or four
multiply-adds.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["matmul_numba", "matmul_numba_blocked", "MR", "NR", "KC", "MC", "NC"]

MR = 4    # rows of C per micro-kernel call (register block)
NR = 3    # columns of C per micro-kernel call (4 x 3 measured fastest here)
KC = 512  # depth of a packed panel: 3 rows of B^T (6 KiB in float32) stay in L1
MC = 64   # rows of A packed per task: 64 x 512 float32 = 128 KiB, stays in L2
NC = 2046  # columns of B per packed panel (a multiple of NR): 4 MiB in L3; A is re-packed once per panel


@njit(parallel=True, cache=True)
def matmul_numba(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``C = A @ B`` with blocks of four rows of ``C`` spread over threads; ``A`` is (m, k), ``B`` is (k, n).

    Loop order ``i, p, j``: the inner loop walks a row of ``B`` and rows of ``C`` with unit stride. Each
    row of ``B`` it loads updates four rows of ``C`` (a quarter of the traffic of one row at a time), and
    the rows are 1-D views, so LLVM sees four independent unit-stride streams and vectorises them.
    """
    m, k = A.shape
    n = B.shape[1]
    C = np.zeros((m, n), dtype=A.dtype)
    for block in prange((m + 3) // 4):
        i = 4 * block
        if i + 4 <= m:
            c0, c1, c2, c3 = C[i], C[i + 1], C[i + 2], C[i + 3]
            for p in range(k):
                b = B[p]
                a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
                for j in range(n):  # unit stride in B and C: this loop becomes SIMD code
                    bj = b[j]
                    c0[j] += a0 * bj
                    c1[j] += a1 * bj
                    c2[j] += a2 * bj
                    c3[j] += a3 * bj
        else:  # the last one to three rows
            for r in range(i, m):
                c = C[r]
                for p in range(k):
                    a, b = A[r, p], B[p]
                    for j in range(n):
                        c[j] += a * b[j]
    return C


@njit(cache=True)
def _pack_rows(src, row0, rows, col0, cols, dst):
    """Copy ``src[row0:row0+rows, col0:col0+cols]`` into ``dst`` and zero the padding rows."""
    for r in range(rows):  # row slices: each copy is one contiguous, vectorised run
        dst[r, :cols] = src[row0 + r, col0:col0 + cols]
    for r in range(rows, dst.shape[0]):
        dst[r, :cols] = 0


@njit(cache=True, fastmath=True, inline="always")
def _micro_kernel(Ap, i, Bp, j, kc, C, ci, cj, rows, cols, zero):
    """Add ``Ap[i:i+4, :kc] @ Bp[j:j+3, :kc].T`` into ``C[ci:ci+rows, cj:cj+cols]``.

    The twelve sums are scalars, so LLVM keeps them in vector registers and vectorises the loop
    over ``p``; ``fastmath`` lets it reorder the additions within each sum. Twelve accumulators
    plus the seven values loaded per step fit the 16 AVX2 registers; a 4x4 block needs 16
    accumulators and spills, which measured at about half the speed.
    """
    a0r = Ap[i]
    a1r = Ap[i + 1]
    a2r = Ap[i + 2]
    a3r = Ap[i + 3]
    b0r = Bp[j]
    b1r = Bp[j + 1]
    b2r = Bp[j + 2]
    c00 = c01 = c02 = zero
    c10 = c11 = c12 = zero
    c20 = c21 = c22 = zero
    c30 = c31 = c32 = zero
    for p in range(kc):
        a0 = a0r[p]
        a1 = a1r[p]
        a2 = a2r[p]
        a3 = a3r[p]
        b0 = b0r[p]
        b1 = b1r[p]
        b2 = b2r[p]
        c00 += a0 * b0
        c01 += a0 * b1
        c02 += a0 * b2
        c10 += a1 * b0
        c11 += a1 * b1
        c12 += a1 * b2
        c20 += a2 * b0
        c21 += a2 * b1
        c22 += a2 * b2
        c30 += a3 * b0
        c31 += a3 * b1
        c32 += a3 * b2
    if rows == MR and cols == NR:
        C[ci, cj] += c00
        C[ci, cj + 1] += c01
        C[ci, cj + 2] += c02
        C[ci + 1, cj] += c10
        C[ci + 1, cj + 1] += c11
        C[ci + 1, cj + 2] += c12
        C[ci + 2, cj] += c20
        C[ci + 2, cj + 1] += c21
        C[ci + 2, cj + 2] += c22
        C[ci + 3, cj] += c30
        C[ci + 3, cj + 1] += c31
        C[ci + 3, cj + 2] += c32
    else:  # an edge block: the packed panels are zero-padded, write back only what exists
        _add_edge_block(C, ci, cj, rows, cols, ((c00, c01, c02), (c10, c11, c12), (c20, c21, c22), (c30, c31, c32)))


@njit(cache=True)
def _add_edge_block(C, ci, cj, rows, cols, block):
    """Add the top-left ``rows x cols`` corner of a 4x3 block of sums into ``C`` (kept out of line)."""
    for r in range(rows):
        row = block[r]
        for c in range(cols):
            C[ci + r, cj + c] += row[c]


@njit(parallel=True, cache=True)
def _pack_panel_transposed(B, p0, kc, j0, nc, Bp):
    """``Bp[j, :kc] = B[p0:p0+kc, j0+j]``: each column of the panel becomes a contiguous row."""
    # Tiles of 64 columns by 8 rows of B. Rows of B are often 4 KiB or 8 KiB apart, and lines that far
    # apart share one L1 cache set (8 ways), so a tile taller than 8 rows evicts its own reads.
    for jt in prange((nc + 63) // 64):
        j_start = jt * 64
        j_stop = min(j_start + 64, nc)
        for p_start in range(0, kc, 8):
            p_stop = min(p_start + 8, kc)
            for j in range(j_start, j_stop):
                packed = Bp[j]
                for p in range(p_start, p_stop):
                    packed[p] = B[p0 + p, j0 + j]
    for j in range(nc, Bp.shape[0]):
        Bp[j, :kc] = 0


@njit(parallel=True, cache=True, fastmath=True)
def _blocked_into(A, B, C, kc_max, mc_max, nc_max, zero):
    """Add ``A @ B`` into ``C``: panels of B (kc x nc) packed once, row blocks of A (mc x kc) per thread."""
    m, k = A.shape
    n = B.shape[1]
    n_row_blocks = (m + mc_max - 1) // mc_max
    Bp = np.empty(((nc_max + NR - 1) // NR * NR, kc_max), dtype=A.dtype)
    # One packing buffer per row block, allocated once: allocating inside the parallel loop
    # would map fresh pages (and take page faults) on every panel.
    # Each buffer is flat so that the 2-D view of it stays C-contiguous (a contiguous layout is
    # what lets the micro-kernel vectorise).
    Ap_all = np.empty((n_row_blocks, (mc_max + MR - 1) // MR * MR * kc_max), dtype=A.dtype)
    for j0 in range(0, n, nc_max):
        nc = min(nc_max, n - j0)
        nc_padded = (nc + NR - 1) // NR * NR
        for p0 in range(0, k, kc_max):
            kc = min(kc_max, k - p0)
            _pack_panel_transposed(B, p0, kc, j0, nc, Bp[:nc_padded])
            for block in prange(n_row_blocks):  # each thread owns whole rows of C: no races
                i0 = block * mc_max
                mc = min(mc_max, m - i0)
                mc_padded = (mc + MR - 1) // MR * MR
                Ap = Ap_all[block, : mc_padded * kc].reshape((mc_padded, kc))
                _pack_rows(A, i0, mc, p0, kc, Ap)
                for jj in range(0, nc_padded, NR):
                    cols = min(NR, nc - jj)
                    for ii in range(0, mc_padded, MR):
                        rows = min(MR, mc - ii)
                        _micro_kernel(Ap, ii, Bp, jj, kc, C, i0 + ii, j0 + jj, rows, cols, zero)


def matmul_numba_blocked(A: np.ndarray, B: np.ndarray, *, kc: int = KC, mc: int = MC,
                         nc: int = NC) -> np.ndarray:
    """``C = A @ B`` with cache blocking, packed panels and a 4x3 register-tiled micro-kernel.

    ``A`` is (m, k), ``B`` is (k, n), both C-contiguous with the same float dtype. ``kc``, ``mc``
    and ``nc`` are the panel depth, the rows of ``A`` per task and the columns of ``B`` per panel.
    """
    for name, value in (("kc", kc), ("mc", mc), ("nc", nc)):
        if value < 1:
            raise ValueError(f"block size {name} must be at least 1, got {value}")
    m, k = A.shape
    n = B.shape[1]
    C = np.zeros((m, n), dtype=A.dtype)
    if m and n and k:
        _blocked_into(A, B, C, _balanced(k, kc, 1), _balanced(m, mc, MR), _balanced(n, nc, NR),
                      A.dtype.type(0))
    return C


def _balanced(size: int, block: int, multiple: int) -> int:
    """A block no larger than ``block`` (rounded up to ``multiple``) that splits ``size`` evenly.

    2048 columns in blocks of at most 2046 would leave a last block of two columns, which costs a
    whole extra pass over ``A``; two blocks of 1026 (rounded to the multiple) do not.
    """
    count = -(-size // block)
    even = -(-size // count)
    return -(-even // multiple) * multiple
