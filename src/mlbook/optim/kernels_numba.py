"""Fused optimizer steps for the CPU: one parallel Numba loop reads each element's parameter, gradient
and state once, updates them in registers and writes them back once.

A NumPy step is a sequence of whole-array operations, each one a full pass over memory (Adam needs about
a dozen). The fused kernel makes one pass, so for large models it runs at the speed of the memory bus:
Adam reads four arrays (parameter, gradient, two moments) and writes three, 28 bytes per float32
parameter, and cannot go faster than that divided by the memory bandwidth.

Every kernel takes flat 1-D arrays of one dtype and the scalars of :mod:`mlbook.optim.elementwise`'s
rule. ``error_model="numpy"`` lets a division by zero give ``inf``/``nan`` as NumPy does instead of
raising, which removes a check from the loop and lets it vectorise. ``cache=True`` stores the compiled
machine code next to this file, so later processes skip the compilation.

Each kernel is compiled twice: a parallel version for large arrays, and a serial one for small arrays,
where waking the worker threads would cost more than the update itself (on a busy machine, far more).
"""

from __future__ import annotations

import types
from typing import Callable

from numba import njit, prange

from mlbook.optim import elementwise

__all__ = ["sgd_kernel", "adam_kernel", "rmsprop_kernel", "adagrad_kernel", "PARALLEL_THRESHOLD"]

PARALLEL_THRESHOLD = 1 << 16  # elements; below this the serial kernel is faster

_sgd = njit(inline="always")(elementwise.sgd_element)
_adam = njit(inline="always")(elementwise.adam_element)
_rmsprop = njit(inline="always")(elementwise.rmsprop_element)
_adagrad = njit(inline="always")(elementwise.adagrad_element)


def _sgd_loop(param, grad, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    """SGD over flat arrays; ``buf`` is the momentum buffer (any array when ``momentum == 0``)."""
    for i in prange(param.size):
        p, b = _sgd(param[i], grad[i], buf[i], lr, momentum, one_minus_dampening, weight_decay, nesterov,
                    maximize, first_step)
        param[i] = p
        if momentum != 0:
            buf[i] = b


def _adam_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, eps,
                weight_decay, decay_factor, step_size, inv_bias_correction2_sqrt, amsgrad, maximize, decoupled):
    """Adam/AdamW over flat arrays; ``max_exp_avg_sq`` is read and written only when ``amsgrad``."""
    if amsgrad:  # two loops, so that the common case carries no AMSGrad load/store
        for i in prange(param.size):
            p, m, v, v_max = _adam(param[i], grad[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i],
                                   one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                                   step_size, inv_bias_correction2_sqrt, True, maximize, decoupled)
            param[i] = p
            exp_avg[i] = m
            exp_avg_sq[i] = v
            max_exp_avg_sq[i] = v_max
    else:
        for i in prange(param.size):
            p, m, v, _ = _adam(param[i], grad[i], exp_avg[i], exp_avg_sq[i], exp_avg_sq[i],
                               one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                               step_size, inv_bias_correction2_sqrt, False, maximize, decoupled)
            param[i] = p
            exp_avg[i] = m
            exp_avg_sq[i] = v


def _rmsprop_loop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, one_minus_alpha, eps,
                  weight_decay, momentum, centered, maximize):
    """RMSprop over flat arrays; ``grad_avg`` is used only when ``centered``, ``momentum_buffer`` only
    when ``momentum > 0``."""
    if not centered and momentum == 0:  # the plain rule: a loop with no conditional stores vectorises
        for i in prange(param.size):
            p, s, _, _ = _rmsprop(param[i], grad[i], square_avg[i], square_avg[i], square_avg[i], lr, alpha,
                                  one_minus_alpha, eps, weight_decay, momentum, False, maximize)
            param[i] = p
            square_avg[i] = s
    else:
        for i in prange(param.size):
            p, s, a, b = _rmsprop(param[i], grad[i], square_avg[i], grad_avg[i], momentum_buffer[i], lr, alpha,
                                  one_minus_alpha, eps, weight_decay, momentum, centered, maximize)
            param[i] = p
            square_avg[i] = s
            if centered:
                grad_avg[i] = a
            if momentum > 0:
                momentum_buffer[i] = b


def _adagrad_loop(param, grad, state_sum, clr, eps, weight_decay, maximize):
    """AdaGrad over flat arrays."""
    for i in prange(param.size):
        p, s = _adagrad(param[i], grad[i], state_sum[i], clr, eps, weight_decay, maximize)
        param[i] = p
        state_sum[i] = s


def _compile(loop: Callable[..., None], parallel: bool) -> Callable[..., None]:
    """Compile ``loop`` with ``prange`` parallel or serial. Each version is compiled from its own copy of
    the function, under its own name, so that the two get separate entries in Numba's on-disk cache."""
    name = loop.__name__.lstrip("_").replace("_loop", "_parallel" if parallel else "_serial")
    copy = types.FunctionType(loop.__code__, loop.__globals__, name, loop.__defaults__, loop.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = loop.__doc__
    return njit(parallel=parallel, cache=True, error_model="numpy")(copy)


def _dispatch(loop: Callable[..., None]) -> Callable[..., None]:
    parallel, serial = _compile(loop, True), _compile(loop, False)

    def kernel(param, *args):
        (parallel if param.size >= PARALLEL_THRESHOLD else serial)(param, *args)

    kernel.__name__ = kernel.__qualname__ = loop.__name__.lstrip("_").replace("_loop", "_kernel")
    kernel.__doc__ = loop.__doc__
    kernel.parallel, kernel.serial = parallel, serial
    return kernel


sgd_kernel = _dispatch(_sgd_loop)
adam_kernel = _dispatch(_adam_loop)
rmsprop_kernel = _dispatch(_rmsprop_loop)
adagrad_kernel = _dispatch(_adagrad_loop)
