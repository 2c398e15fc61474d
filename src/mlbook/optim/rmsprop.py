"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mlbook.optim.base import effective_gradient, Optimizer, cast_scalars

__all__ = ["RMSprop", "rmsprop_update_numpy"]


def rmsprop_update_numpy(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                         momentum_buffer: np.ndarray | None, scratch: tuple[np.ndarray, np.ndarray], *, lr: float,
                         alpha: float, eps: float, weight_decay: float, momentum: float, centered: bool,
                         maximize: bool) -> None:
    """One RMSprop step on one parameter, in place, with ``scratch`` as work space."""
    work = scratch[1]
    g = effective_gradient(param, grad, scratch, l2_penalty=weight_decay, maximize=maximize)
    # s <- alpha s + (1 - alpha) g^2
    square_avg *= alpha
    np.multiply(g, g, out=work)
    work *= 1 - alpha
    square_avg += work
    if centered:  # subtract the squared mean gradient: divide by a running standard deviation
        np.subtract(g, grad_avg, out=work)
        work *= 1 - alpha
        grad_avg += work
        np.multiply(grad_avg, grad_avg, out=work)
        np.subtract(square_avg, work, out=work)
        np.sqrt(work, out=work)
    else:
        np.sqrt(square_avg, out=work)
    work += eps
    np.divide(g, work, out=work)  # g / (sqrt(s) + eps)
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += work
        np.multiply(momentum_buffer, lr, out=work)
    else:
        work *= lr
    param -= work


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton, 2012), with the arguments and defaults of ``torch.optim.RMSprop``
    (``alpha`` is the decay of the running mean of squared gradients; ``eps`` is added *outside* the
    square root). ``backend`` is ``"numpy"``, ``"numba"`` or ``"cuda"``."""

    _kernel_name = "rmsprop_kernel"

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, backend: str = "numpy") -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults, backend=backend)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"])
        self._check_range("eps", group["eps"])
        self._check_range("alpha", group["alpha"], 0.0, 1.0)
        self._check_range("weight_decay", group["weight_decay"])
        self._check_range("momentum", group["momentum"])

    def _state_spec(self, group: dict[str, Any]) -> dict[str, float]:
        spec = {"square_avg": 0.0}
        if group["momentum"] > 0:
            spec["momentum_buffer"] = 0.0
        if group["centered"]:
            spec["grad_avg"] = 0.0
        return spec

    def _numpy_update(self, param, grad, state, group, scratch) -> None:
        rmsprop_update_numpy(param, grad, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                             scratch, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                             weight_decay=group["weight_decay"], momentum=group["momentum"],
                             centered=group["centered"], maximize=group["maximize"])

    def _kernel_arrays(self, state, group, param) -> tuple[Any, ...]:
        square_avg = state["square_avg"]
        return square_avg, state.get("grad_avg", square_avg), state.get("momentum_buffer", square_avg)

    def _kernel_scalars(self, state, group, dtype) -> tuple[Any, ...]:
        alpha = float(group["alpha"])
        return cast_scalars((float(group["lr"]), alpha, 1 - alpha, float(group["eps"]),
                             float(group["weight_decay"]), float(group["momentum"]), bool(group["centered"]),
                             bool(group["maximize"])), dtype)
