"""The update rules for one element, as plain scalar Python functions.

Each function takes one parameter value, its gradient and its state values, plus the step's scalars,
and returns the new values. Nothing here touches an array: :mod:`mlbook.optim.kernels_numba` compiles
these functions into a parallel CPU loop and :mod:`mlbook.optim.kernels_cuda` into a GPU kernel, so the
two backends share one definition of the arithmetic, written in the same order as ``torch.optim``'s.

The hyperparameters that do not change from step to step arrive precomputed (``one_minus_beta1``,
``step_size = lr / (1 - beta1**t)``, ...), and in the parameters' dtype, so that a float32 kernel does
float32 arithmetic throughout, like torch's. Branches test flags that are the same for every element;
the compiler hoists them out of the loop.
"""

from __future__ import annotations

import math

__all__ = ["sgd_element", "adam_element", "rmsprop_element", "adagrad_element"]


def sgd_element(p, g, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    """SGD with momentum, dampening, Nesterov and L2 weight decay. Returns ``(p, buf)``."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        if first_step:  # torch starts the buffer at the first gradient, undamped
            buf = g
        else:
            buf = momentum * buf + one_minus_dampening * g
        if nesterov:
            g = g + momentum * buf
        else:
            g = buf
    return p - lr * g, buf


def adam_element(p, g, m, v, v_max, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor,
                 step_size, inv_bias_correction2_sqrt, amsgrad, maximize, decoupled):
    """Adam / AdamW (with AMSGrad). Returns ``(p, m, v, v_max)``.

    ``step_size = lr / (1 - beta1**t)``, ``inv_bias_correction2_sqrt = 1 / (1 - beta2**t) ** 0.5`` and,
    for decoupled weight decay (AdamW), ``decay_factor = 1 - lr * weight_decay``. Where torch divides
    ``sqrt(v)`` by the bias correction, this multiplies by its reciprocal: division is the slowest
    arithmetic in the loop, and the two differ by at most a rounding.
    """
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * decay_factor
        else:
            g = g + weight_decay * p
    m = m + one_minus_beta1 * (g - m)  # = beta1 * m + (1 - beta1) * g, as torch's lerp computes it
    v = beta2 * v + one_minus_beta2 * g * g
    if amsgrad:
        v_max = max(v_max, v)
        denom = math.sqrt(v_max) * inv_bias_correction2_sqrt + eps
    else:
        denom = math.sqrt(v) * inv_bias_correction2_sqrt + eps
    return p - step_size * (m / denom), m, v, v_max


def rmsprop_element(p, g, square_avg, grad_avg, buf, lr, alpha, one_minus_alpha, eps, weight_decay, momentum,
                    centered, maximize):
    """RMSprop (centered, with momentum). Returns ``(p, square_avg, grad_avg, buf)``."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = alpha * square_avg + one_minus_alpha * g * g
    if centered:
        grad_avg = grad_avg + one_minus_alpha * (g - grad_avg)
        avg = math.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = math.sqrt(square_avg) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg
        return p - lr * buf, square_avg, grad_avg, buf
    return p - lr * (g / avg), square_avg, grad_avg, buf


def adagrad_element(p, g, total, clr, eps, weight_decay, maximize):
    """AdaGrad. ``clr = lr / (1 + (t - 1) * lr_decay)``. Returns ``(p, total)``."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    total = total + g * g
    return p - clr * (g / (math.sqrt(total) + eps)), total
