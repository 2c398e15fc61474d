"""Hand-written kernels: matrix multiplication from Python loops to Numba, CUDA and PyTorch, and sparse products.

``from mlbook.kernels import matmul, MATMUL_METHODS`` is the entry point; the individual methods are
public too. The CUDA kernels live in :mod:`mlbook.kernels.cuda_matmul` and are imported on first use.
"""

from .matmul import (
    MATMUL_METHODS,
    NAIVE_MAX_MULTIPLY_ADDS,
    check_matmul_shapes,
    matmul,
    matmul_blocked,
    matmul_naive,
    matmul_numpy,
    matmul_torch,
    result_dtype,
)
from .numba_matmul import matmul_numba, matmul_numba_blocked
from .sparse import CSRMatrix, csr_matmul, one_hot_csr
from .strassen import STRASSEN_LEAF, matmul_strassen, strassen_products

__all__ = [
    "MATMUL_METHODS",
    "NAIVE_MAX_MULTIPLY_ADDS",
    "STRASSEN_LEAF",
    "CSRMatrix",
    "check_matmul_shapes",
    "csr_matmul",
    "matmul",
    "matmul_blocked",
    "matmul_naive",
    "matmul_numba",
    "matmul_numba_blocked",
    "matmul_numpy",
    "matmul_strassen",
    "matmul_torch",
    "one_hot_csr",
    "result_dtype",
    "strassen_products",
]
