"""Activation functions: the non-linearity a neuron applies to its weighted sum.

Every function here is elementwise: it takes an array-like ``z`` of any shape and returns an array of
the same shape (a 0-d input gives a NumPy scalar). Floating inputs keep their dtype (float32 stays
float32); integer and boolean inputs are computed in float64.

Later chapters (Activations and losses) add leaky ReLU, softmax and log-sum-exp here.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "identity",
    "relu",
    "sigmoid",
    "sigmoid_derivative",
    "step",
    "tanh",
]

Activation = Callable[[ArrayLike], np.ndarray]


def _as_float_array(z: ArrayLike) -> np.ndarray:
    """``z`` as an array of floats: floating dtypes are kept, anything else becomes float64."""
    array = np.asarray(z)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"expected a numeric array, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"activations are defined for real inputs, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _scalar_if_0d(result: np.ndarray):
    return result[()] if result.ndim == 0 else result


def sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic sigmoid ``1 / (1 + exp(-z))``, elementwise, without overflow for any input.

    The textbook formula overflows for large negative ``z`` (``exp(1000)`` is ``inf``). Writing
    ``e = exp(-|z|)``, which is never larger than 1, gives two exact rearrangements:

    - ``z >= 0``: ``1 / (1 + e)``
    - ``z < 0``:  ``e / (1 + e)``  (multiply the top and bottom of the formula by ``exp(z)``)

    Shape: any shape in, the same shape out. ``exp`` underflowing to 0 for very negative ``z`` is
    the correct limit, so that underflow is not reported.
    """
    z = _as_float_array(z)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
        result = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)
    return _scalar_if_0d(result)


def sigmoid_derivative(z: ArrayLike) -> np.ndarray:
    """``d sigmoid / dz`` at the pre-activation ``z``: ``sigmoid(z) * sigmoid(-z)``.

    This equals the familiar ``s * (1 - s)`` with ``s = sigmoid(z)``, but ``1 - s`` cancels
    catastrophically for large positive ``z`` (``s`` rounds to exactly 1 from z of about 37 on in
    float64, so ``1 - s`` is 0 while the true derivative is ``exp(-z)``). ``sigmoid(-z)`` is the same
    quantity computed without the subtraction. The maximum, 1/4, is at ``z = 0``.

    Takes ``z``, not the activation. Shape: any shape in, the same shape out.
    """
    z = _as_float_array(z)
    return _scalar_if_0d(np.asarray(sigmoid(z) * sigmoid(-z)))


def step(z: ArrayLike) -> np.ndarray:
    """The Heaviside step: 1 where ``z >= 0``, else 0 (the McCulloch-Pitts and perceptron unit).

    The convention at ``z = 0`` is to fire, so a McCulloch-Pitts neuron with threshold ``theta``
    (fires when ``w . x >= theta``) is ``step(w . x + b)`` with ``b = -theta``. Same as
    ``np.heaviside(z, 1.0)``. Shape: any shape in, the same shape out.
    """
    z = _as_float_array(z)
    return _scalar_if_0d((z >= 0).astype(z.dtype))


def relu(z: ArrayLike) -> np.ndarray:
    """The rectified linear unit ``max(z, 0)``, elementwise. Shape: any shape in, the same out."""
    z = _as_float_array(z)
    return _scalar_if_0d(np.maximum(z, 0).astype(z.dtype, copy=False))


def tanh(z: ArrayLike) -> np.ndarray:
    """The hyperbolic tangent, ``2 * sigmoid(2 z) - 1``: a sigmoid stretched to (-1, 1), zero-centred."""
    z = _as_float_array(z)
    return _scalar_if_0d(np.tanh(z))


def identity(z: ArrayLike) -> np.ndarray:
    """No activation at all: ``z`` itself (a linear neuron, as in linear regression)."""
    z = _as_float_array(z)
    return _scalar_if_0d(z.copy())


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": sigmoid,
    "step": step,
    "relu": relu,
    "tanh": tanh,
    "identity": identity,
}
"""The activations a :class:`~mlbook.nn.Neuron` accepts by name."""


def get_activation(activation: Union[str, Activation]) -> Activation:
    """The activation function called ``activation`` (see :data:`ACTIVATIONS`), or ``activation`` itself
    when it is already a callable. Raises ``ValueError`` for an unknown name, listing the valid ones."""
    if callable(activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")
    try:
        return ACTIVATIONS[activation.lower()]
    except KeyError:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} or pass a callable"
        ) from None
