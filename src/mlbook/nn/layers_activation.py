"""Activation layers: the non-linearities of :mod:`mlbook.nn.activations` as :class:`Module` objects.

Each layer keeps the :class:`~mlbook.nn.module.Module` contract: ``forward(x)`` returns an array shaped
like ``x`` and caches what the derivative needs; ``backward(grad_output)`` returns dL/dx, shaped like
``x``. They have no parameters, so ``params`` and ``grads`` stay empty.

Elementwise layers multiply the incoming gradient by the local derivative (``grad_output * f'(x)``).
:class:`Softmax` mixes the entries of a row, so its backward is a Jacobian-vector product instead:
``s * (g - sum(g * s))``.

:func:`make_activation` builds a layer from its name (``"relu"``, ``"leaky_relu"``, ``"sigmoid"``,
``"tanh"``, ``"softmax"``, ``"gelu"``, ``"identity"``) and raises a ``ValueError`` listing the valid
names for anything else.
"""

from __future__ import annotations

import numpy as np

from mlbook.nn.activations import (
    _check_approximate,
    _check_slope,
    gelu,
    gelu_derivative,
    leaky_relu,
    sigmoid,
    softmax,
)
from mlbook.nn.module import Module

__all__ = [
    "ACTIVATION_LAYERS",
    "GELU",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "make_activation",
]


def _as_input(x: np.ndarray, layer: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer} expects a floating-point array, got dtype {x.dtype}")
    return x


class _Elementwise(Module):
    """Shared plumbing: remember the input, check the gradient's shape."""

    def _cached(self, grad_output: np.ndarray, name: str) -> np.ndarray:
        cache = getattr(self, name, None)
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        grad_output = np.asarray(grad_output)
        if grad_output.shape != cache.shape:
            raise ValueError(
                f"{type(self).__name__}.backward: grad_output has shape {grad_output.shape}, "
                f"but forward produced shape {cache.shape}"
            )
        return grad_output


class ReLU(_Elementwise):
    """``max(x, 0)``; its gradient passes where the input was positive and is 0 elsewhere (0 at x = 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "ReLU")
        self.positive = x > 0
        return np.where(self.positive, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "positive")
        return grad_output * self.positive


class LeakyReLU(_Elementwise):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (default 0.01, as in ``torch.nn.LeakyReLU``)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _check_slope(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "LeakyReLU")
        self.positive = x > 0
        return leaky_relu(x, self.negative_slope)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "positive")
        return grad_output * np.where(self.positive, 1.0, self.negative_slope).astype(grad_output.dtype)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Sigmoid(_Elementwise):
    """The logistic sigmoid, computed without overflow for any input (:func:`~mlbook.nn.activations.sigmoid`).

    Backward uses ``sigmoid(x) * sigmoid(-x)`` rather than ``s * (1 - s)``: the two are equal, but
    ``1 - s`` rounds to 0 once ``s`` rounds to 1 (x above about 37 in float64, 17 in float32),
    while ``sigmoid(-x)`` keeps the tiny true value.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "Sigmoid")
        self.out = np.asarray(sigmoid(x))
        self.out_negated = np.asarray(sigmoid(-x))  # = 1 - out, without the cancellation
        return self.out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "out")
        return grad_output * self.out * self.out_negated


class Tanh(_Elementwise):
    """``tanh(x)``; derivative ``1 - tanh(x)**2``, computed from the cached output."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "Tanh")
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "out")
        return grad_output * (1.0 - self.out**2)


class GELU(_Elementwise):
    """``x * Phi(x)`` (exact, with erf) or its tanh approximation, like ``torch.nn.GELU(approximate=...)``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _check_approximate(approximate)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "GELU")
        self.x = x
        return np.asarray(gelu(x, self.approximate))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "x")
        return grad_output * gelu_derivative(self.x, self.approximate)

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"


class Identity(_Elementwise):
    """No activation: returns its input; the gradient passes through unchanged."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "Identity")
        self.shape_seen = np.empty(x.shape, dtype=bool)
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return self._cached(grad_output, "shape_seen")


class Softmax(_Elementwise):
    """``exp(x) / sum(exp(x))`` along ``axis`` (default the last: one distribution per row).

    Each output depends on every input of its row, with Jacobian ``diag(s) - s s^T``. Multiplying the
    incoming gradient ``g`` by it gives ``s * (g - sum(g * s))`` without ever forming the n x n matrix.
    When a loss follows, fuse the two instead (:func:`mlbook.nn.losses.cross_entropy` takes logits).
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
        self.axis = int(axis)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_input(x, "Softmax")
        if x.ndim == 0 or not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"Softmax(axis={self.axis}) needs an input with that axis, got shape {x.shape}")
        self.out = softmax(x, axis=self.axis)
        return self.out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_output = self._cached(grad_output, "out")
        s = self.out
        return s * (grad_output - np.sum(grad_output * s, axis=self.axis, keepdims=True))

    def __repr__(self) -> str:
        return f"Softmax(axis={self.axis})"


ACTIVATION_LAYERS: dict[str, type[Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
    "identity": Identity,
}
"""Activation layers by name, for builders that take ``activation="relu"``."""


def make_activation(name: str, **kwargs) -> Module:
    """A new activation layer from its name, e.g. ``make_activation("leaky_relu", negative_slope=0.2)``.

    Names are case-insensitive; ``"none"`` and ``"linear"`` mean :class:`Identity`. Raises ``ValueError``
    for an unknown name, listing the valid ones.
    """
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    key = {"none": "identity", "linear": "identity", "leakyrelu": "leaky_relu"}.get(key, key)
    if key not in ACTIVATION_LAYERS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATION_LAYERS)}")
    return ACTIVATION_LAYERS[key](**kwargs)
