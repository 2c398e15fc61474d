"""AdaGrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mlbook.optim.base import effective_gradient, Optimizer, cast_scalars

__all__ = ["Adagrad", "adagrad_update_numpy"]


def adagrad_update_numpy(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray,
                         scratch: tuple[np.ndarray, np.ndarray], *, step: int, lr: float, lr_decay: float,
                         weight_decay: float, eps: float, maximize: bool) -> None:
    """One AdaGrad step (``step`` counts from 1) on one parameter, in place."""
    work = scratch[1]
    g = effective_gradient(param, grad, scratch, l2_penalty=weight_decay, maximize=maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    np.multiply(g, g, out=work)
    state_sum += work  # the sum only grows ...
    np.sqrt(state_sum, out=work)
    work += eps
    np.divide(g, work, out=work)  # ... so the effective rate lr / (sqrt(sum) + eps) only shrinks
    work *= clr
    param -= work


class Adagrad(Optimizer):
    """AdaGrad (Duchi, Hazan & Singer, 2011), with the arguments and defaults of ``torch.optim.Adagrad``
    (note ``eps=1e-10``, added outside the square root, and the state created at construction with
    ``initial_accumulator_value``). ``backend`` is ``"numpy"``, ``"numba"`` or ``"cuda"``."""

    _kernel_name = "adagrad_kernel"

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
                 backend: str = "numpy") -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults, backend=backend)
        for group in self.param_groups:  # like torch, AdaGrad's state exists before the first step
            for i in self._group_indices(group):
                self._init_state(group, i)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"])
        self._check_range("lr_decay", group["lr_decay"])
        self._check_range("weight_decay", group["weight_decay"])
        self._check_range("initial_accumulator_value", group["initial_accumulator_value"])
        self._check_range("eps", group["eps"])

    def _state_spec(self, group: dict[str, Any]) -> dict[str, float]:
        return {"sum": float(group["initial_accumulator_value"])}

    def _numpy_update(self, param, grad, state, group, scratch) -> None:
        adagrad_update_numpy(param, grad, state["sum"], scratch, step=state["step"], lr=group["lr"],
                             lr_decay=group["lr_decay"], weight_decay=group["weight_decay"], eps=group["eps"],
                             maximize=group["maximize"])

    def _kernel_arrays(self, state, group, param) -> tuple[Any, ...]:
        return (state["sum"],)

    def _kernel_scalars(self, state, group, dtype) -> tuple[Any, ...]:
        clr = float(group["lr"]) / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        return cast_scalars((clr, float(group["eps"]), float(group["weight_decay"]), bool(group["maximize"])), dtype)
