"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay and AMSGrad."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mlbook.optim.base import Optimizer, cast_scalars, effective_gradient

__all__ = ["Adam", "AdamW", "adam_update_numpy"]


def adam_update_numpy(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                      max_exp_avg_sq: np.ndarray | None, scratch: tuple[np.ndarray, np.ndarray], *, step: int,
                      lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool,
                      maximize: bool, decoupled_weight_decay: bool) -> None:
    """One Adam step (``step`` counts from 1) on one parameter, in place, allocating nothing: every
    intermediate lands in one of the two ``scratch`` arrays of ``param``'s shape."""
    work = scratch[1]
    # Adam's weight decay is an L2 penalty added to the gradient; AdamW's shrinks the weights directly.
    g = effective_gradient(param, grad, scratch, l2_penalty=0.0 if decoupled_weight_decay else weight_decay,
                           maximize=maximize)
    if decoupled_weight_decay and weight_decay != 0:
        param *= 1 - lr * weight_decay
    # m <- m + (1 - beta1) (g - m), the same as beta1 m + (1 - beta1) g
    np.subtract(g, exp_avg, out=work)
    work *= 1 - beta1
    exp_avg += work
    # v <- beta2 v + (1 - beta2) g^2
    exp_avg_sq *= beta2
    np.multiply(g, g, out=work)
    work *= 1 - beta2
    exp_avg_sq += work
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    if amsgrad:  # use the largest v seen so far, so the effective step never grows
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    else:
        second_moment = exp_avg_sq
    # denominator sqrt(v_hat) + eps, with v_hat = v / (1 - beta2^t)
    np.sqrt(second_moment, out=work)
    work /= bias_correction2**0.5
    work += eps
    # p <- p - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1^t)
    np.divide(exp_avg, work, out=work)
    work *= lr / bias_correction1
    param -= work


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with the arguments and defaults of ``torch.optim.Adam``.

    ``weight_decay`` adds :math:`\\lambda\\theta` to the gradient (an L2 penalty) unless
    ``decoupled_weight_decay=True``, which makes this AdamW. ``amsgrad=True`` divides by the running
    maximum of :math:`\\hat v`. ``maximize=True`` ascends. ``backend`` is ``"numpy"``, ``"numba"`` or
    ``"cuda"``.
    """

    _kernel_name = "adam_kernel"

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, backend: str = "numpy") -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, backend=backend)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"])
        self._check_range("eps", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self._check_range("beta1 (betas[0])", betas[0], 0.0, 1.0, high_inclusive=False)
        self._check_range("beta2 (betas[1])", betas[1], 0.0, 1.0, high_inclusive=False)
        self._check_range("weight_decay", group["weight_decay"])

    def _state_spec(self, group: dict[str, Any]) -> dict[str, float]:
        spec = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            spec["max_exp_avg_sq"] = 0.0
        return spec

    def _numpy_update(self, param, grad, state, group, scratch) -> None:
        beta1, beta2 = group["betas"]
        adam_update_numpy(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                          scratch, step=state["step"], lr=group["lr"], beta1=beta1, beta2=beta2,
                          eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                          maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"])

    def _kernel_arrays(self, state, group, param) -> tuple[Any, ...]:
        return state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq", state["exp_avg_sq"])

    def _kernel_scalars(self, state, group, dtype) -> tuple[Any, ...]:
        beta1, beta2 = (float(b) for b in group["betas"])
        lr, weight_decay, step = float(group["lr"]), float(group["weight_decay"]), state["step"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        return cast_scalars((1 - beta1, beta2, 1 - beta2, float(group["eps"]), weight_decay,
                             1 - lr * weight_decay, lr / bias_correction1, 1 / bias_correction2**0.5,
                             bool(group["amsgrad"]), bool(group["maximize"]),
                             bool(group["decoupled_weight_decay"])), dtype)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay, which multiplies the
    weights by :math:`1 - \\eta\\lambda` instead of adding :math:`\\lambda\\theta` to the gradient. The
    arguments and defaults of ``torch.optim.AdamW`` (note ``weight_decay=1e-2``)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 backend: str = "numpy") -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, backend=backend)
