"""Gradient checking by central differences: the test every hand-written backward pass must pass.

For a scalar function f, the central difference (f(x + h e_i) - f(x - h e_i)) / 2h has error O(h^2),
against O(h) for the one-sided difference, so in float64 with h ~ 1e-6 it agrees with a correct analytic
gradient to about 1e-8 relative.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mlbook.nn.module import Module

__all__ = ["numerical_gradient", "relative_error", "check_module_gradients"]


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dL/dx of the scalar ``f()`` by central differences, perturbing ``x`` in place (then restoring it).

    ``f`` takes no arguments and must read ``x`` (a float array) when called. Returns an array shaped like x.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a floating-point array, got dtype {x.dtype}")
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view for contiguous x; checked below so that writes reach x
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs an array whose reshape(-1) is a view (make it contiguous)")
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = float(f())
        flat[i] = original - eps
        f_minus = float(f())
        flat[i] = original
        grad.reshape(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """max |a - b| / max(|a| + |b|, floor): scale-free, and 0 when both are exactly zero."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare gradients of shapes {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor), initial=0.0))


def check_module_gradients(module: Module, x: np.ndarray, *, eps: float = 1e-6,
                           seed: int = 0) -> dict[str, float]:
    """Relative error of ``module.backward`` against central differences, for the input and every parameter.

    Uses the loss L = sum(forward(x) * R) for a fixed random R, whose gradient with respect to the output
    is R. Returns ``{"input": err, "<param name>": err, ...}``. Run it in float64 and with the module in a
    deterministic mode (e.g. eval() for dropout).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    out = module.forward(x)
    projection = np.random.default_rng(seed).standard_normal(out.shape)

    def loss() -> float:
        return float(np.sum(module.forward(x) * projection))

    module.forward(x)
    grad_input = module.backward(projection)
    analytic = {name: grad.copy() for name, _, grad in module.named_parameters()}
    errors = {"input": relative_error(grad_input, numerical_gradient(loss, x, eps))}
    for name, param, _ in module.named_parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, param, eps))
    return errors
