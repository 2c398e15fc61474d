"""Tiny Numba kernels that measure the machine: its floating-point peak and its memory bandwidth.

:func:`mlbook.bench.measure_peak_flops` and :func:`mlbook.bench.measure_bandwidth` time these; they
live here so that they are compiled once and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["fma_kernel", "FMA_CHAINS", "read_kernel"]

#: Independent multiply-add chains per thread. A fused multiply-add takes 4 cycles on current x86
#: cores and two can start per cycle, so at least 8 chains (vectors) are needed to keep both units busy.
FMA_CHAINS = 10


@njit(parallel=True, fastmath=True, cache=True)
def fma_kernel(x, repeats, out):
    """Every thread does ``repeats * len(x) * FMA_CHAINS`` multiply-adds on ``x`` (kept in L1).

    One value loaded from ``x`` feeds ten independent sums, so the loop is bound by the FMA units,
    not by loads; LLVM vectorises it (8 float32 or 4 float64 lanes per AVX2 register).
    """
    for t in prange(out.shape[0]):
        a0, a1, a2, a3, a4 = x[0], x[1], x[2], x[3], x[4]
        a5, a6, a7, a8, a9 = x[5], x[6], x[7], x[8], x[9]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = s9 = x[0] - x[0]  # a zero of x's dtype
        for _ in range(repeats):
            for p in range(x.shape[0]):
                v = x[p]
                s0 += v * a0
                s1 += v * a1
                s2 += v * a2
                s3 += v * a3
                s4 += v * a4
                s5 += v * a5
                s6 += v * a6
                s7 += v * a7
                s8 += v * a8
                s9 += v * a9
        out[t] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9


@njit(parallel=True, fastmath=True, cache=True)
def read_kernel(x, out):
    """Sum ``x`` in ``len(out)`` contiguous chunks, one per thread: a pure stream of reads from memory."""
    chunks = out.shape[0]
    size = x.shape[0]
    for t in prange(chunks):
        start = t * size // chunks
        stop = (t + 1) * size // chunks
        total = x[0] - x[0]
        for i in range(start, stop):
            total += x[i]
        out[t] = total
