"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mlbook.optim.base import FIRST_STEP, Optimizer, cast_scalars, effective_gradient

__all__ = ["SGD", "sgd_update_numpy"]


def sgd_update_numpy(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None,
                     scratch: tuple[np.ndarray, np.ndarray], *, lr: float, momentum: float, dampening: float,
                     weight_decay: float, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """One SGD step on one parameter, in place. All arrays have ``param``'s shape; ``scratch`` is two
    work arrays of that shape, so that the step allocates nothing."""
    work = scratch[1]
    # Nesterov adds to g in place below, so g must then be a copy, never the caller's gradient.
    g = effective_gradient(param, grad, scratch, l2_penalty=weight_decay, maximize=maximize,
                           will_modify=momentum != 0 and nesterov)
    if momentum != 0:
        if first_step:  # the buffer starts at the first gradient, without dampening
            np.copyto(momentum_buffer, g)
        else:  # buf <- momentum * buf + (1 - dampening) * g
            momentum_buffer *= momentum
            np.multiply(g, 1 - dampening, out=work)
            momentum_buffer += work
        if nesterov:  # look ahead: g <- g + momentum * buf
            np.multiply(momentum_buffer, momentum, out=work)
            g += work
        else:
            g = momentum_buffer
    np.multiply(g, lr, out=work)
    param -= work


class SGD(Optimizer):
    """Stochastic gradient descent, with the arguments and defaults of ``torch.optim.SGD``.

    With momentum :math:`\\mu`, dampening :math:`\\tau` and weight decay :math:`\\lambda`, for each
    parameter :math:`\\theta` and gradient :math:`g_t`:
    :math:`g_t \\leftarrow g_t + \\lambda\\theta`, :math:`b_1 = g_1`,
    :math:`b_t = \\mu b_{t-1} + (1 - \\tau) g_t`, then :math:`\\theta \\leftarrow \\theta - \\eta b_t`
    (or :math:`\\theta - \\eta (g_t + \\mu b_t)` with ``nesterov=True``).
    ``maximize=True`` ascends. ``backend`` is ``"numpy"``, ``"numba"`` or ``"cuda"``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 backend: str = "numpy") -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, backend=backend)

    _kernel_name = "sgd_kernel"

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"])
        self._check_range("momentum", group["momentum"])
        self._check_range("dampening", group["dampening"], 0.0, 1.0)
        self._check_range("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"Nesterov momentum requires momentum > 0 and dampening = 0, got momentum="
                             f"{group['momentum']} and dampening={group['dampening']}")

    def _state_spec(self, group: dict[str, Any]) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if group["momentum"] != 0 else {}

    def _has_step(self) -> bool:
        return False

    def _numpy_update(self, param, grad, state, group, scratch) -> None:
        sgd_update_numpy(param, grad, state.get("momentum_buffer"), scratch, lr=group["lr"],
                         momentum=group["momentum"], dampening=group["dampening"],
                         weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                         maximize=group["maximize"], first_step=state.get(FIRST_STEP, False))

    def _kernel_arrays(self, state, group, param) -> tuple[Any, ...]:
        return (state.get("momentum_buffer", param),)

    def _kernel_scalars(self, state, group, dtype) -> tuple[Any, ...]:
        return cast_scalars((float(group["lr"]), float(group["momentum"]), 1.0 - group["dampening"],
                             float(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]),
                             bool(state.get(FIRST_STEP, False))), dtype)
