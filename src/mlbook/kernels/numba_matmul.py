"""Matrix multiplication compiled with Numba: a simple parallel loop, then a cache-blocked kernel.

Both kernels take C-contiguous 2-D arrays of one float dtype (the dispatcher in
:mod:`mlbook.kernels.matmul` makes sure of that) and return a new ``(m, n)`` array.

``matmul_numba`` is the three loops in the order ``i, p, j``, so the innermost loop walks a row of
``B`` and a row of ``C`` with stride 1 and LLVM turns it into SIMD instructions; ``prange`` hands the
rows of ``C`` to the threads.

``matmul_numba_blocked`` is organised like a BLAS ``gemm`` (Goto's algorithm, in the loop order of
BLIS): it cuts ``B`` into panels of ``KC`` rows that stay in the shared L3 cache and ``A`` into blocks
of ``MC`` rows that stay in one core's L2 cache, copies ("packs") both into the order in which the
micro-kernel reads them, and computes ``C`` in blocks of ``MR = 6`` rows by two SIMD vectors of
columns (16 in float32, 8 in float64). Each step of the micro-kernel is an *outer product*: one row
of packed ``B`` as two vectors, times six numbers of ``A`` broadcast to vectors, into twelve vector
accumulators that stay in registers for the whole panel depth. The vectors are written explicitly
with the intrinsics of :mod:`mlbook.kernels.simd`, because LLVM does not build this register layout
out of scalar code.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from .simd import lanes, prefetch, vadd_store, vbroadcast, vfma, vload, vstore, vzeros

__all__ = ["matmul_numba", "matmul_numba_blocked", "columns_per_block", "MR", "NR", "KC", "MC", "NC"]

MR = 6     # rows of C per micro-kernel call: 12 vector accumulators + 2 of B + 1 of A fill 15 of 16 registers
KC = 256   # panel depth: a micro-panel of B (256 x 16 float32 = 16 KiB) stays in the 32 KiB L1 cache
MC = 144   # rows of A per block: 144 x 256 float32 = 144 KiB, stays in one core's 512 KiB L2 cache
NC = 4080  # columns of B per panel, a multiple of NR: 256 x 4080 float32 = 4 MiB, stays in the L3 cache


def columns_per_block(dtype: np.dtype | type) -> int:
    """Columns of ``C`` per micro-kernel call for ``dtype``: two vectors (16 float32, 8 float64)."""
    return 2 * lanes(dtype)


NR = columns_per_block(np.float32)  # columns of C per micro-kernel call in float32 (8 in float64)


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


@njit(cache=True, fastmath=True, inline="always")
def _micro_kernel(Ap, a_start, Bp, b_start, kc, half, C, ci, cj, rows, cols, tile):
    """Add ``A_micro @ B_micro`` into ``C[ci:ci+rows, cj:cj+cols]``; ``half`` is the lanes per vector.

    ``Ap[a_start + MR*p + r]`` holds ``A[ci + r, p]`` and ``Bp[b_start + 2*half*p + j]`` holds
    ``B[p, cj + j]`` for ``p < kc``: packed micro-panels, zero-padded to ``MR`` rows and ``2*half``
    columns. Every step ``p`` is one outer product, two vectors of ``B`` times six broadcast numbers
    of ``A``, added into twelve vector accumulators. Edge blocks are written through ``tile``.
    """
    nr = 2 * half
    full_block = rows == MR and cols == nr
    if full_block:  # C is needed only at the end: start fetching its six rows now
        for r in range(MR):
            prefetch(C[ci + r], cj)
            prefetch(C[ci + r], cj + nr - 1)
    c00 = vzeros(Ap)
    c01 = vzeros(Ap)
    c10 = vzeros(Ap)
    c11 = vzeros(Ap)
    c20 = vzeros(Ap)
    c21 = vzeros(Ap)
    c30 = vzeros(Ap)
    c31 = vzeros(Ap)
    c40 = vzeros(Ap)
    c41 = vzeros(Ap)
    c50 = vzeros(Ap)
    c51 = vzeros(Ap)
    for p in range(kc):
        b = b_start + nr * p
        b0 = vload(Bp, b)
        b1 = vload(Bp, b + half)
        a = a_start + MR * p
        x = vbroadcast(Ap, a)
        c00 = vfma(x, b0, c00)
        c01 = vfma(x, b1, c01)
        x = vbroadcast(Ap, a + 1)
        c10 = vfma(x, b0, c10)
        c11 = vfma(x, b1, c11)
        x = vbroadcast(Ap, a + 2)
        c20 = vfma(x, b0, c20)
        c21 = vfma(x, b1, c21)
        x = vbroadcast(Ap, a + 3)
        c30 = vfma(x, b0, c30)
        c31 = vfma(x, b1, c31)
        x = vbroadcast(Ap, a + 4)
        c40 = vfma(x, b0, c40)
        c41 = vfma(x, b1, c41)
        x = vbroadcast(Ap, a + 5)
        c50 = vfma(x, b0, c50)
        c51 = vfma(x, b1, c51)
    if full_block:
        vadd_store(C[ci], cj, c00)
        vadd_store(C[ci], cj + half, c01)
        vadd_store(C[ci + 1], cj, c10)
        vadd_store(C[ci + 1], cj + half, c11)
        vadd_store(C[ci + 2], cj, c20)
        vadd_store(C[ci + 2], cj + half, c21)
        vadd_store(C[ci + 3], cj, c30)
        vadd_store(C[ci + 3], cj + half, c31)
        vadd_store(C[ci + 4], cj, c40)
        vadd_store(C[ci + 4], cj + half, c41)
        vadd_store(C[ci + 5], cj, c50)
        vadd_store(C[ci + 5], cj + half, c51)
    else:  # the packed panels are zero-padded: compute the whole block, add only what exists
        vstore(tile, 0, c00)
        vstore(tile, half, c01)
        vstore(tile, nr, c10)
        vstore(tile, nr + half, c11)
        vstore(tile, 2 * nr, c20)
        vstore(tile, 2 * nr + half, c21)
        vstore(tile, 3 * nr, c30)
        vstore(tile, 3 * nr + half, c31)
        vstore(tile, 4 * nr, c40)
        vstore(tile, 4 * nr + half, c41)
        vstore(tile, 5 * nr, c50)
        vstore(tile, 5 * nr + half, c51)
        _add_tile(C, ci, cj, rows, cols, tile, nr)


@njit(cache=True)
def _add_tile(C, ci, cj, rows, cols, tile, nr):
    """``C[ci:ci+rows, cj:cj+cols] += tile`` where ``tile`` holds rows of ``nr`` (kept out of line)."""
    for r in range(rows):
        for c in range(cols):
            C[ci + r, cj + c] += tile[r * nr + c]


@njit(parallel=True, cache=True)
def _pack_B(B, p0, kc, j0, nc, nr, Bp):
    """Copy ``B[p0:p0+kc, j0:j0+nc]`` into micro-panels of ``nr`` columns, zero-padded on the right.

    Micro-panel ``q`` starts at ``Bp[q*kc*nr]`` and holds its ``kc`` rows of ``nr`` numbers one after
    the other, which is the order the micro-kernel reads them.
    """
    half = nr // 2
    full_panels = nc // nr
    for q in prange((nc + nr - 1) // nr):
        start = q * kc * nr
        j = j0 + q * nr
        if q < full_panels:
            for p in range(kc):
                row = B[p0 + p]
                vstore(Bp, start + p * nr, vload(row, j))
                vstore(Bp, start + p * nr + half, vload(row, j + half))
        else:
            width = nc - q * nr
            for p in range(kc):
                row = B[p0 + p]
                for c in range(nr):
                    Bp[start + p * nr + c] = row[j + c] if c < width else 0


@njit(cache=True)
def _pack_A(A, i0, mc, p0, kc, Ap):
    """Copy ``A[i0:i0+mc, p0:p0+kc]`` into micro-panels of ``MR`` rows, zero-padded at the bottom.

    Micro-panel ``q`` starts at ``Ap[q*kc*MR]`` and holds its ``kc`` columns of ``MR`` numbers one
    after the other (a transpose of each 6-row strip).
    """
    full_panels = mc // MR
    for q in range(full_panels):
        start = q * kc * MR
        i = i0 + q * MR
        a0 = A[i, p0:p0 + kc]
        a1 = A[i + 1, p0:p0 + kc]
        a2 = A[i + 2, p0:p0 + kc]
        a3 = A[i + 3, p0:p0 + kc]
        a4 = A[i + 4, p0:p0 + kc]
        a5 = A[i + 5, p0:p0 + kc]
        for p in range(kc):  # six row streams in, one contiguous stream out
            d = start + p * MR
            Ap[d] = a0[p]
            Ap[d + 1] = a1[p]
            Ap[d + 2] = a2[p]
            Ap[d + 3] = a3[p]
            Ap[d + 4] = a4[p]
            Ap[d + 5] = a5[p]
    rows = mc - full_panels * MR
    if rows:
        start = full_panels * kc * MR
        i = i0 + full_panels * MR
        for p in range(kc):
            for r in range(MR):
                Ap[start + p * MR + r] = A[i + r, p0 + p] if r < rows else 0


@njit(parallel=True, cache=True, fastmath=True)
def _blocked_into(A, B, C, kc_max, mc_max, nc_max, nr, threads):
    """Add ``A @ B`` into ``C``: each ``kc x nc`` panel of B packed once, each worker packs its own A blocks.

    The rows of ``C`` are split into ``threads`` contiguous ranges of whole micro-panels, one per worker,
    so the work is even and no two workers write the same row.
    """
    m, k = A.shape
    n = B.shape[1]
    half = nr // 2
    strips = (m + MR - 1) // MR
    workers = max(1, min(threads, strips))
    # Buffers allocated once: allocating inside the loops would map fresh pages (page faults) per panel.
    Bp = np.empty((nc_max + nr - 1) // nr * nr * kc_max, dtype=A.dtype)
    Ap_all = np.empty((workers, (mc_max + MR - 1) // MR * MR * kc_max), dtype=A.dtype)
    tiles = np.empty((workers, MR * nr), dtype=A.dtype)
    for j0 in range(0, n, nc_max):
        nc = min(nc_max, n - j0)
        for p0 in range(0, k, kc_max):
            kc = min(kc_max, k - p0)
            _pack_B(B, p0, kc, j0, nc, nr, Bp)
            for w in prange(workers):
                first = strips * w // workers * MR
                stop = min(m, strips * (w + 1) // workers * MR)
                Ap = Ap_all[w]
                tile = tiles[w]
                for i0 in range(first, stop, mc_max):
                    mc = min(mc_max, stop - i0)
                    _pack_A(A, i0, mc, p0, kc, Ap)
                    for jr in range(0, nc, nr):  # a B micro-panel stays in L1 while ...
                        cols = min(nr, nc - jr)
                        for ir in range(0, mc, MR):  # ... the A micro-panels stream past it from L2
                            _micro_kernel(Ap, ir * kc, Bp, jr * kc, kc, half, C, i0 + ir, j0 + jr,
                                          min(MR, mc - ir), cols, tile)


def matmul_numba_blocked(A: np.ndarray, B: np.ndarray, *, kc: int = KC, mc: int = MC,
                         nc: int = NC) -> np.ndarray:
    """``C = A @ B`` with cache blocking, packed panels and a 6 x 16 (float64: 6 x 8) SIMD micro-kernel.

    ``A`` is (m, k), ``B`` is (k, n), both C-contiguous with the same float dtype. ``kc``, ``mc``
    and ``nc`` are the panel depth, the rows of ``A`` per block and the columns of ``B`` per panel
    (rounded to whole micro-panels). Work is split over ``numba.get_num_threads()`` threads.
    """
    for name, value in (("kc", kc), ("mc", mc), ("nc", nc)):
        if value < 1:
            raise ValueError(f"block size {name} must be at least 1, got {value}")
    m, k = A.shape
    n = B.shape[1]
    C = np.zeros((m, n), dtype=A.dtype)
    if m and n and k:
        nr = columns_per_block(A.dtype)
        _blocked_into(A, B, C, _balanced(k, kc, 1), _balanced(m, mc, MR), _balanced(n, nc, nr), nr,
                      get_num_threads())
    return C


def _balanced(size: int, block: int, multiple: int) -> int:
    """A block no larger than ``block`` (rounded up to ``multiple``) that splits ``size`` evenly.

    4096 columns in blocks of at most 4080 would leave a last block of 16 columns, which costs a
    whole extra pass over ``A``; two blocks of 2048 do not.
    """
    count = -(-size // block)
    even = -(-size // count)
    return -(-even // multiple) * multiple
