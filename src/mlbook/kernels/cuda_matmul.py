"""Matrix multiplication on an NVIDIA GPU with Numba CUDA: naive, shared-memory tiles, register tiles.

Each kernel computes ``C = A @ B`` for ``A`` (m, k) and ``B`` (k, n) of dtype float32 or float64.
Without a GPU the same kernels run in Numba's CUDA *simulator*: set ``NUMBA_ENABLE_CUDASIM=1`` in the
environment before Numba is imported. The simulator runs every GPU thread as a Python thread, so it
is for checking correctness on tiny matrices, never for timing.

* ``naive``: one thread per entry of ``C``; each reads a row of ``A`` and a column of ``B`` from
  global memory, so every input is read ``n`` (or ``m``) times from DRAM or L2.
* ``tiled``: a block of ``TILE x TILE`` threads copies a tile of ``A`` and one of ``B`` into shared
  memory, synchronises, and multiplies out of shared memory: each value fetched from global memory is
  used ``TILE`` times.
* ``register``: each thread computes a ``TM x TN`` patch of ``C`` in registers from ``BM x BK`` and
  ``BK x BN`` shared tiles; every value read from shared memory is used ``TM`` or ``TN`` times.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numba
import numpy as np
from numba import cuda

__all__ = [
    "matmul_cuda_naive",
    "matmul_cuda_tiled",
    "matmul_cuda_register",
    "cuda_available",
    "TILE",
    "BM",
    "BN",
    "BK",
    "TM",
    "TN",
]

TILE = 16                  # tiled kernel: 16 x 16 threads, two 16 x 16 shared tiles
BM, BN, BK = 64, 64, 8     # register kernel: a block computes a 64 x 64 tile of C, 8 deep at a time
TM, TN = 4, 4              # ... each of its 16 x 16 = 256 threads a 4 x 4 patch
THREADS_REGISTER = (BM // TM) * (BN // TN)


def cuda_available() -> bool:
    """True when a CUDA GPU (or the simulator) can run the kernels."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a driver that is installed but broken also means "no"
        return False


@lru_cache(maxsize=None)
def _kernels(dtype_name: str) -> dict[str, Any]:
    """Compile (lazily, on first launch) the three kernels for one dtype."""
    nb_type = numba.from_dtype(np.dtype(dtype_name))

    @cuda.jit
    def naive(A, B, C):
        row, col = cuda.grid(2)  # x runs along rows of C here; y along columns
        if row < C.shape[0] and col < C.shape[1]:
            total = nb_type(0)
            for p in range(A.shape[1]):
                total += A[row, p] * B[p, col]
            C[row, col] = total

    @cuda.jit
    def tiled(A, B, C):
        As = cuda.shared.array((TILE, TILE), dtype=nb_type)
        Bs = cuda.shared.array((TILE, TILE), dtype=nb_type)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y  # tx walks columns: neighbouring threads, neighbouring addresses
        col = cuda.blockIdx.x * TILE + tx
        row = cuda.blockIdx.y * TILE + ty
        total = nb_type(0)
        for t in range((A.shape[1] + TILE - 1) // TILE):
            a_col = t * TILE + tx
            b_row = t * TILE + ty
            As[ty, tx] = A[row, a_col] if row < A.shape[0] and a_col < A.shape[1] else nb_type(0)
            Bs[ty, tx] = B[b_row, col] if b_row < B.shape[0] and col < B.shape[1] else nb_type(0)
            cuda.syncthreads()  # the whole tile is loaded before anyone reads it
            for p in range(TILE):
                total += As[ty, p] * Bs[p, tx]
            cuda.syncthreads()  # everyone is done with the tile before it is overwritten
        if row < C.shape[0] and col < C.shape[1]:
            C[row, col] = total

    @cuda.jit
    def register(A, B, C):
        As = cuda.shared.array((BK, BM), dtype=nb_type)  # stored transposed: a column of the A tile is a row here
        Bs = cuda.shared.array((BK, BN), dtype=nb_type)
        acc = cuda.local.array((TM, TN), dtype=nb_type)
        a_reg = cuda.local.array(TM, dtype=nb_type)
        b_reg = cuda.local.array(TN, dtype=nb_type)
        tid = cuda.threadIdx.x
        thread_row = tid // (BN // TN)
        thread_col = tid % (BN // TN)
        block_row = cuda.blockIdx.y * BM
        block_col = cuda.blockIdx.x * BN
        m, k = A.shape
        n = B.shape[1]
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = nb_type(0)
        for p0 in range(0, k, BK):
            # 256 threads load the 64 x 8 tile of A and the 8 x 64 tile of B, two values each
            for e in range(tid, BM * BK, THREADS_REGISTER):
                r, c = e // BK, e % BK
                gr, gc = block_row + r, p0 + c
                As[c, r] = A[gr, gc] if gr < m and gc < k else nb_type(0)
            for e in range(tid, BK * BN, THREADS_REGISTER):
                r, c = e // BN, e % BN
                gr, gc = p0 + r, block_col + c
                Bs[r, c] = B[gr, gc] if gr < k and gc < n else nb_type(0)
            cuda.syncthreads()
            for p in range(BK):
                for i in range(TM):
                    a_reg[i] = As[p, thread_row * TM + i]
                for j in range(TN):
                    b_reg[j] = Bs[p, thread_col * TN + j]
                for i in range(TM):  # TM x TN multiply-adds from TM + TN shared-memory reads
                    for j in range(TN):
                        acc[i, j] += a_reg[i] * b_reg[j]
            cuda.syncthreads()
        for i in range(TM):
            for j in range(TN):
                r = block_row + thread_row * TM + i
                c = block_col + thread_col * TN + j
                if r < m and c < n:
                    C[r, c] = acc[i, j]

    return {"naive": naive, "tiled": tiled, "register": register}


def _launch(kind: str, A: Any, B: Any) -> Any:
    """Copy NumPy inputs to the device if needed, launch, and return the result where the inputs were."""
    # Numba device arrays (real or simulated) have copy_to_host; anything else is host memory.
    on_host = not (hasattr(A, "copy_to_host") and hasattr(B, "copy_to_host"))
    if A.dtype != B.dtype or np.dtype(A.dtype).name not in ("float32", "float64"):
        raise TypeError(f"the CUDA kernels need two float32 or two float64 arrays, got {A.dtype} and {B.dtype}")
    if len(A.shape) != 2 or len(B.shape) != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"expected (m, k) and (k, n) matrices, got shapes {tuple(A.shape)} and {tuple(B.shape)}")
    m, n = A.shape[0], B.shape[1]
    if on_host:
        A = cuda.to_device(np.ascontiguousarray(A))
        B = cuda.to_device(np.ascontiguousarray(B))
    C = cuda.device_array((m, n), dtype=A.dtype)
    kernel = _kernels(np.dtype(A.dtype).name)[kind]
    if kind == "naive":
        threads = (16, 16)
        blocks = (math.ceil(m / 16), math.ceil(n / 16))
    elif kind == "tiled":
        threads = (TILE, TILE)
        blocks = (math.ceil(n / TILE), math.ceil(m / TILE))
    else:
        threads = THREADS_REGISTER
        blocks = (math.ceil(n / BN), math.ceil(m / BM))
    if m and n:  # with k == 0 the kernels still run and write the empty sums, zeros
        kernel[blocks, threads](A, B, C)
    return C.copy_to_host() if on_host else C


def matmul_cuda_naive(A: Any, B: Any) -> Any:
    """``A @ B`` with one GPU thread per entry of ``C`` (NumPy in, NumPy out; device arrays stay on device)."""
    return _launch("naive", A, B)


def matmul_cuda_tiled(A: Any, B: Any) -> Any:
    """``A @ B`` with 16 x 16 shared-memory tiles."""
    return _launch("tiled", A, B)


def matmul_cuda_register(A: Any, B: Any) -> Any:
    """``A @ B`` with 64 x 64 block tiles and a 4 x 4 register patch per thread."""
    return _launch("register", A, B)
