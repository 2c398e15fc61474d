"""The CUDA convolution kernel, run in Numba's CUDA simulator in a child process.

NUMBA_ENABLE_CUDASIM must be set before Numba is imported and changes Numba for the whole process,
so the check runs in a fresh interpreter and the variable never reaches the other tests. The
simulator runs each GPU thread as a Python thread: the sizes are tiny on purpose.
"""

from __future__ import annotations

import os
import textwrap

from tests._cudasim import run_under_cuda_simulator

SCRIPT = textwrap.dedent(
    """
    import numpy as np, torch, torch.nn.functional as F
    from mlbook.kernels.conv import conv2d
    from mlbook.kernels.conv_cuda import conv2d_cuda, cuda_available

    assert cuda_available()
    rng = np.random.default_rng(0)
    checked = 0
    for dtype, x_shape, w_shape, kwargs, use_bias in [
        (np.float32, (2, 3, 6, 5), (2, 3, 3, 2), dict(), True),
        (np.float64, (1, 2, 7, 7), (3, 2, 3, 3), dict(stride=2, padding=1, dilation=(1, 2)), False),
        (np.float32, (1, 1, 4, 4), (1, 1, 1, 1), dict(padding=(0, 1)), True),
    ]:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype) if use_bias else None
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                            None if b is None else torch.from_numpy(b), **kwargs).numpy()
        out = conv2d(x, w, b, method="cuda", **kwargs)
        assert out.dtype == dtype and out.shape == expected.shape, (out.dtype, out.shape)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
        checked += 1
    try:
        conv2d_cuda(np.zeros((1, 2, 4, 4)), np.zeros((1, 3, 3, 3)))
    except ValueError as err:
        assert "channel mismatch" in str(err)
        checked += 1
    print("checked", checked)
    """
)


def test_cuda_conv_in_simulator():
    result = run_under_cuda_simulator("-c", SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 4" in result.stdout


def test_simulator_variable_did_not_leak():
    assert os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("", "0")


def test_cuda_method_without_gpu_says_so():
    import pytest
    import numpy as np

    from mlbook.kernels.conv_cuda import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU, or NUMBA_ENABLE_CUDASIM=1"):
        from mlbook.kernels.conv import conv2d

        conv2d(np.zeros((1, 1, 3, 3), dtype=np.float32), np.zeros((1, 1, 2, 2), dtype=np.float32), method="cuda")
