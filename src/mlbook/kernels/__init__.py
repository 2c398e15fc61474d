"""Hand-written kernels: matrix multiplication and convolution from Python loops to Numba, CUDA and PyTorch.

``from mlbook.kernels import matmul, MATMUL_METHODS`` and ``conv2d, CONV_METHODS`` are the entry points;
the individual methods are public too. The CUDA kernels (:mod:`mlbook.kernels.cuda_matmul`,
:mod:`mlbook.kernels.conv_cuda`) and the Numba convolution are imported on first use.
"""

from .conv import CONV_METHODS, col2im, conv2d, conv2d_backward, conv_geometry, conv_output_size, im2col
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
from .pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .sparse import CSRMatrix, csr_matmul, one_hot_csr
from .strassen import STRASSEN_LEAF, matmul_strassen, strassen_products

__all__ = [
    "CONV_METHODS",
    "avg_pool2d",
    "avg_pool2d_backward",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv_geometry",
    "conv_output_size",
    "im2col",
    "max_pool2d",
    "max_pool2d_backward",
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
