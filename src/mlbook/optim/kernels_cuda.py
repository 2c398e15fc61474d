"""The fused optimizer steps as Numba CUDA kernels: the CPU kernels' loop body, one GPU thread per element.

The per-element rules are the same Python functions as on the CPU (:mod:`mlbook.optim.elementwise`),
compiled here as CUDA device functions. Each kernel walks its arrays with a *grid-stride loop*: thread
``k`` of a grid of ``T`` threads handles elements ``k, k + T, k + 2T, ...``, so one launch of a
moderately sized grid covers an array of any length, and neighbouring threads touch neighbouring
elements (coalesced memory access).

Arrays are Numba device arrays. A CUDA ``torch.Tensor`` (or CuPy array) is wrapped through its
``__cuda_array_interface__`` by :func:`numba.cuda.as_cuda_array` without a copy, so the optimizer updates
the tensor's own memory. Without a GPU the module still imports and runs under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), which the tests use on small arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from mlbook.optim import elementwise

__all__ = ["sgd_kernel", "adam_kernel", "rmsprop_kernel", "adagrad_kernel", "launch", "flat_view", "full_like"]

THREADS_PER_BLOCK = 256
MAX_BLOCKS = 65_535

_sgd = cuda.jit(device=True)(elementwise.sgd_element)
_adam = cuda.jit(device=True)(elementwise.adam_element)
_rmsprop = cuda.jit(device=True)(elementwise.rmsprop_element)
_adagrad = cuda.jit(device=True)(elementwise.adagrad_element)


@cuda.jit
def sgd_kernel(param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p, b = _sgd(param[i], grad[i], buf[i], lr, momentum, one_minus_dampening, weight_decay, nesterov,
                    maximize, first_step)
        param[i] = p
        if momentum != 0:
            buf[i] = b


@cuda.jit
def adam_kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, eps,
                weight_decay, decay_factor, step_size, inv_bias_correction2_sqrt, amsgrad, maximize, decoupled):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p, m, v, v_max = _adam(param[i], grad[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i],
                               one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                               step_size, inv_bias_correction2_sqrt, amsgrad, maximize, decoupled)
        param[i] = p
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            max_exp_avg_sq[i] = v_max


@cuda.jit
def rmsprop_kernel(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, one_minus_alpha, eps,
                   weight_decay, momentum, centered, maximize):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p, s, a, b = _rmsprop(param[i], grad[i], square_avg[i], grad_avg[i], momentum_buffer[i], lr, alpha,
                              one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
        param[i] = p
        square_avg[i] = s
        if centered:
            grad_avg[i] = a
        if momentum > 0:
            momentum_buffer[i] = b


@cuda.jit
def adagrad_kernel(param, grad, state_sum, clr, eps, weight_decay, maximize):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        p, s = _adagrad(param[i], grad[i], state_sum[i], clr, eps, weight_decay, maximize)
        param[i] = p
        state_sum[i] = s


def launch(kernel: Any, param: Any, *args: Any) -> None:
    """Launch ``kernel`` over the 1-D device array ``param`` with enough blocks for one element per thread
    (capped: the grid-stride loop covers the rest)."""
    threads = max(1, min(THREADS_PER_BLOCK, param.size))  # a small array gets one small block
    blocks = max(1, min(MAX_BLOCKS, -(-param.size // threads)))
    kernel[blocks, threads](param, *args)


def flat_view(array: Any) -> Any:
    """A 1-D view (no copy) of a C-contiguous device array."""
    return array.reshape(array.size) if array.ndim != 1 else array


def full_like(array: Any, fill: float) -> Any:
    """A new device array of ``array``'s shape and dtype, every element ``fill``."""
    return cuda.to_device(np.full(tuple(array.shape), fill, dtype=np.dtype(array.dtype)))
