"""Direct 2-D convolution on an NVIDIA GPU with Numba CUDA: one thread per output value.

Thread ``(n, o, i, j)`` computes ``y[n, o, i, j] = b[o] + sum_{c,u,v} x[n, c, i s - p + u d, j s - p + v d] w[o, c, u, v]``.
Neighbouring threads (consecutive ``j``) read neighbouring input columns, so global loads coalesce
for stride 1; the weights of one output channel are shared by a whole block, so they stay in L1/L2.
The kernel runs unchanged in Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before Numba is
imported), which is how the book checks it without a GPU: correct, and far too slow to time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numba
import numpy as np
from numba import cuda

from mlbook.kernels.conv import IntOrPair, _as_float_arrays, conv_geometry

__all__ = ["conv2d_cuda", "cuda_available", "THREADS_PER_BLOCK"]

THREADS_PER_BLOCK = 128


def cuda_available() -> bool:
    """True when a CUDA GPU (or the simulator) can run the kernel."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a driver that is installed but broken also means "no"
        return False


def _on_device(a: Any) -> bool:
    return hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray)


@lru_cache(maxsize=None)
def _kernel(dtype_name: str) -> Any:
    nb_type = numba.from_dtype(np.dtype(dtype_name))

    @cuda.jit
    def direct(x, w, bias, use_bias, sh, sw, ph, pw, dh, dw, y):
        n_img, n_out, ho, wo = y.shape
        n_ch, h, width = x.shape[1], x.shape[2], x.shape[3]
        kh, kw = w.shape[2], w.shape[3]
        index = cuda.grid(1)  # flat index into y, j fastest: consecutive threads, consecutive columns
        if index >= n_img * n_out * ho * wo:
            return
        j = index % wo
        i = (index // wo) % ho
        o = (index // (wo * ho)) % n_out
        n = index // (wo * ho * n_out)
        total = bias[o] if use_bias else nb_type(0)
        for c in range(n_ch):
            for u in range(kh):
                r = i * sh - ph + u * dh
                if 0 <= r < h:
                    for v in range(kw):
                        col = j * sw - pw + v * dw
                        if 0 <= col < width:
                            total += x[n, c, r, col] * w[o, c, u, v]
        y[n, o, i, j] = total

    return direct


def conv2d_cuda(x: Any, w: Any, bias: Any = None, *, stride: IntOrPair = 1, padding: IntOrPair = 0,
                dilation: IntOrPair = 1) -> Any:
    """Direct convolution on the GPU. NumPy arrays in and out (copied to and from the device); CUDA
    device arrays in give a device array out. Shapes as :func:`mlbook.kernels.conv.conv2d`."""
    on_device = _on_device(x)
    if not on_device:
        x, w, bias = _as_float_arrays(x, w, bias)
    elif x.dtype != w.dtype:
        raise TypeError(f"input and weights must share a dtype, got {x.dtype} and {w.dtype}")
    g = conv_geometry(tuple(x.shape), tuple(w.shape), stride, padding, dilation)
    if not cuda_available():
        raise RuntimeError("method='cuda' needs a CUDA GPU, or NUMBA_ENABLE_CUDASIM=1 set before numba is imported")
    dtype = np.dtype(x.dtype)
    use_bias = bias is not None
    b = np.zeros(g.out_channels, dtype=dtype) if bias is None else bias
    dx, dw_, db = (a if _on_device(a) else cuda.to_device(np.ascontiguousarray(a)) for a in (x, w, b))
    y = cuda.device_array(g.output_shape, dtype=dtype)
    total = int(np.prod(g.output_shape))
    if total:
        blocks = (total + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        _kernel(dtype.name)[blocks, THREADS_PER_BLOCK](dx, dw_, db, use_bias, *g.stride, *g.padding, *g.dilation, y)
    return y if on_device else y.copy_to_host()
