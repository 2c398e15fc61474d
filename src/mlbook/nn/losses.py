"""Loss functions from logits, written the numerically stable way, each with its gradient.

API
---
Every loss is a plain function that returns a pair ``(loss, grad)``:

- ``loss``: a Python ``float`` for ``reduction="mean"`` (the default) or ``"sum"``; for ``"none"`` an
  array of per-example (per-element, for MSE and BCE) losses.
- ``grad``: dL/d(first argument), an array shaped like the first argument. For ``"none"`` it is the
  gradient of the *sum* of the per-example losses.

::

    loss, grad = cross_entropy(logits, labels)        # logits (N, C); labels (N,) ints or (N, C) floats
    loss, grad = bce_with_logits(logits, targets)     # any shape; targets in [0, 1], same shape
    loss, grad = mse_loss(predictions, targets)       # any shape, same shape
    grad_input = model.backward(grad)                 # hand grad straight to the network's backward

:class:`MSELoss`, :class:`BCEWithLogitsLoss` and :class:`CrossEntropyLoss` wrap the same functions
in objects with ``forward(input, target) -> loss`` and ``backward() -> grad`` for training loops that
prefer the layer-like shape. :func:`get_loss` builds one by name.

Why from logits
---------------
``log(softmax(z))`` and ``log(sigmoid(z))`` computed in two steps underflow: ``sigmoid(-800)`` is 0 in
float64, and its log is ``-inf``. Fusing the log into the loss gives ``z - logsumexp(z)`` and
``-softplus(-z)``, which are finite for every finite logit, and a gradient that is simply
``probabilities - targets``. All three match :mod:`torch.nn.functional` (``mse_loss``,
``binary_cross_entropy_with_logits``, ``cross_entropy``), including at logits of +-1e4.
"""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from mlbook.nn.activations import log_softmax, sigmoid

__all__ = [
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "LOSSES",
    "Loss",
    "MSELoss",
    "bce_with_logits",
    "cross_entropy",
    "get_loss",
    "mse_loss",
    "softplus",
]

_REDUCTIONS = ("mean", "sum", "none")
LossValue = Union[float, np.ndarray]


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _float_array(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str, loss: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{loss}: {a_name} has shape {a.shape} but {b_name} has shape {b.shape}; they must match")


def _reduce(per_item: np.ndarray, grad_of_sum: np.ndarray, reduction: str, count: int) -> tuple[LossValue, np.ndarray]:
    """Apply the reduction to the losses and the matching factor to the gradient of their sum."""
    if reduction == "none":
        return per_item, grad_of_sum
    if reduction == "sum":
        return float(np.sum(per_item)), grad_of_sum
    if count == 0:
        raise ValueError("cannot average a loss over an empty batch")
    return float(np.sum(per_item) / count), grad_of_sum / count


def softplus(z: ArrayLike) -> np.ndarray:
    """``log(1 + exp(z))`` without overflow: ``max(z, 0) + log1p(exp(-|z|))``. Shape: same as ``z``."""
    z = _float_array(z, "z")
    with np.errstate(under="ignore"):
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def mse_loss(predictions: ArrayLike, targets: ArrayLike, reduction: str = "mean") -> tuple[LossValue, np.ndarray]:
    """Mean squared error ``mean((predictions - targets)**2)`` over every element, and its gradient.

    predictions, targets: any shape, the same shape (no silent broadcasting: ``(N,)`` against
    ``(N, 1)`` would give an (N, N) matrix of differences). Gradient: ``2 (predictions - targets) / n``
    with ``n`` the number of elements (for ``"mean"``).
    """
    reduction = _check_reduction(reduction)
    p = _float_array(predictions, "predictions")
    t = _float_array(targets, "targets")
    _same_shape(p, "predictions", t, "targets", "mse_loss")
    diff = p - t
    return _reduce(diff**2, 2.0 * diff, reduction, diff.size)


def bce_with_logits(logits: ArrayLike, targets: ArrayLike, reduction: str = "mean") -> tuple[LossValue, np.ndarray]:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets`` in [0, 1], never forming the log.

    Per element, ``-[y log s + (1 - y) log(1 - s)]`` with ``s = sigmoid(z)`` simplifies to
    ``softplus(z) - y z`` (since ``log s = -softplus(-z)`` and ``log(1 - s) = -softplus(z)``), which is
    finite for every finite ``z``. The gradient is ``sigmoid(z) - y`` (divided by the element count
    for ``"mean"``).

    logits, targets: any shape, the same shape. Targets may be soft (e.g. 0.9 for label smoothing).
    """
    reduction = _check_reduction(reduction)
    z = _float_array(logits, "logits")
    y = _float_array(targets, "targets")
    _same_shape(z, "logits", y, "targets", "bce_with_logits")
    per_item = softplus(z) - y * z
    return _reduce(per_item, sigmoid(z) - y, reduction, z.size)


def cross_entropy(logits: ArrayLike, targets: ArrayLike, reduction: str = "mean") -> tuple[LossValue, np.ndarray]:
    """Softmax cross-entropy from logits, with integer class labels or with class probabilities.

    logits: (N, C). targets either

    - integer labels, shape (N,), each in ``0..C-1`` (``torch.nn.functional.cross_entropy`` with a
      ``Long`` target): loss ``-log_softmax(z)[i, y_i]``;
    - probabilities (one-hot, smoothed or soft), float shape (N, C): loss ``-sum_c y_c log_softmax(z)_c``.

    ``log_softmax`` is ``z - logsumexp(z)``, so logits of +-1e4 give finite losses. The gradient with
    respect to the logits is ``softmax(z) - y`` per example (``softmax(z) * sum(y) - y`` when a soft
    target row does not sum to 1), divided by N for ``"mean"``. ``"none"`` returns the N losses.
    """
    reduction = _check_reduction(reduction)
    z = _float_array(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be 2-D (batch, classes), got shape {z.shape}")
    n, c = z.shape
    t = np.asarray(targets)
    log_p = log_softmax(z, axis=1)
    p = np.exp(log_p)
    if np.issubdtype(t.dtype, np.integer):
        if t.shape != (n,):
            raise ValueError(
                f"cross_entropy: integer targets must have shape (batch,) = ({n},) for logits {z.shape}, got {t.shape}"
            )
        if t.size and (t.min() < 0 or t.max() >= c):
            bad = t[(t < 0) | (t >= c)]
            raise ValueError(f"cross_entropy: class labels must lie in [0, {c - 1}], got {bad[:5].tolist()}")
        rows = np.arange(n)
        per_item = -log_p[rows, t]
        grad = p.copy()
        grad[rows, t] -= 1.0
    elif np.issubdtype(t.dtype, np.floating):
        if t.shape != z.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the logits' shape {z.shape}, got {t.shape} "
                "(pass integer labels of shape (batch,) for class indices)"
            )
        per_item = -np.sum(t * log_p, axis=1)
        grad = p * np.sum(t, axis=1, keepdims=True) - t
    else:
        raise TypeError(f"cross_entropy: targets must be integer labels or float probabilities, got dtype {t.dtype}")
    return _reduce(per_item.astype(z.dtype, copy=False), grad.astype(z.dtype, copy=False), reduction, n)


class Loss:
    """A loss as an object: ``forward(input, target)`` returns the loss, ``backward()`` dL/d(input)."""

    function = staticmethod(mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = _check_reduction(reduction)
        self._grad: np.ndarray | None = None

    def forward(self, input: ArrayLike, target: ArrayLike) -> LossValue:
        loss, self._grad = type(self).function(input, target, self.reduction)
        return loss

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(Loss):
    """:func:`mse_loss` as an object."""

    function = staticmethod(mse_loss)


class BCEWithLogitsLoss(Loss):
    """:func:`bce_with_logits` as an object."""

    function = staticmethod(bce_with_logits)


class CrossEntropyLoss(Loss):
    """:func:`cross_entropy` as an object."""

    function = staticmethod(cross_entropy)


LOSSES: dict[str, type[Loss]] = {
    "mse": MSELoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "cross_entropy": CrossEntropyLoss,
}


def get_loss(name: str, reduction: str = "mean") -> Loss:
    """A loss object by name (``"mse"``, ``"bce_with_logits"``, ``"cross_entropy"``); ValueError otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a string, got {type(name).__name__}")
    if name.lower() not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name.lower()](reduction)
