"""The CUDA kernels, run in Numba's CUDA simulator in a child process.

NUMBA_ENABLE_CUDASIM must be set before Numba is imported, and it changes Numba for the whole
process, so the check runs in a fresh interpreter and the variable never reaches the other tests.
The simulator runs each GPU thread as a Python thread: the sizes are tiny on purpose.
"""

from __future__ import annotations

import os
import textwrap

from tests._cudasim import run_under_cuda_simulator

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from mlbook.kernels import matmul
    from mlbook.kernels.cuda_matmul import (
        cuda_available, matmul_cuda_naive, matmul_cuda_register, matmul_cuda_tiled)

    assert cuda_available()
    rng = np.random.default_rng(0)
    checked = 0
    for kernel, shape in [(matmul_cuda_naive, (5, 7, 3)), (matmul_cuda_tiled, (9, 17, 7)),
                          (matmul_cuda_register, (9, 11, 5)), (matmul_cuda_tiled, (3, 0, 2))]:
        m, k, n = shape
        A = rng.standard_normal((m, k)).astype(np.float32)
        B = rng.standard_normal((k, n)).astype(np.float32)
        C = kernel(A, B)
        assert C.shape == (m, n) and C.dtype == np.float32, (C.shape, C.dtype)
        np.testing.assert_allclose(C, A @ B, rtol=1e-5, atol=1e-5)
        checked += 1
    # float64, a Fortran-ordered input and the dispatcher
    A = np.asfortranarray(rng.standard_normal((6, 5)))
    B = rng.standard_normal((5, 4))
    for method in ("cuda_naive", "cuda_tiled", "cuda_register"):
        C = matmul(A, B, method)
        assert C.dtype == np.float64
        np.testing.assert_allclose(C, A @ B, rtol=1e-12, atol=1e-12)
        checked += 1
    try:
        matmul_cuda_naive(A.astype(np.float32), B)
    except TypeError as err:
        assert "float32 or two float64" in str(err)
        checked += 1
    try:
        matmul_cuda_tiled(A, A)
    except ValueError as err:
        assert "(6, 5)" in str(err)
        checked += 1
    print("checked", checked)
    """
)


def test_cuda_kernels_in_simulator():
    result = run_under_cuda_simulator("-c", SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 9" in result.stdout


def test_simulator_variable_did_not_leak():
    assert os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("", "0")


def test_cuda_available_is_false_without_gpu_or_simulator():
    from mlbook.kernels.cuda_matmul import cuda_available

    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_gpu = False
    if has_gpu:
        pytest.skip("a real GPU is present")
    assert cuda_available() is False
