"""Activation functions: the non-linearity a neuron applies to its weighted sum.

Every function here is elementwise: it takes an array-like ``z`` of any shape and returns an array of
the same shape (a 0-d input gives a NumPy scalar). Floating inputs keep their dtype (float32 stays
float32); integer and boolean inputs are computed in float64.

The Activations and losses chapter adds leaky ReLU, GELU, the derivatives of each (for plotting and
for the layers of :mod:`mlbook.nn.layers_activation`), and the functions that act along an axis
rather than elementwise: :func:`softmax` (re-exported from :mod:`mlbook.einsum`), :func:`log_softmax`
and :func:`logsumexp`. Those are deliberately not in :data:`ACTIVATIONS`, the names a single
:class:`~mlbook.nn.Neuron` accepts.
"""

from __future__ import annotations

from typing import Callable, Union

import math

import numpy as np
from numpy.typing import ArrayLike

from mlbook.einsum import softmax

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "gelu",
    "gelu_derivative",
    "identity",
    "leaky_relu",
    "leaky_relu_derivative",
    "log_softmax",
    "logsumexp",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "step",
    "tanh",
    "tanh_derivative",
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


def relu_derivative(z: ArrayLike) -> np.ndarray:
    """``d relu / dz``: 1 where ``z > 0``, else 0. At ``z = 0`` the derivative does not exist; like
    PyTorch we use 0 there. Shape: any shape in, the same shape out."""
    z = _as_float_array(z)
    return _scalar_if_0d((z > 0).astype(z.dtype))


def leaky_relu(z: ArrayLike, negative_slope: float = 0.01) -> np.ndarray:
    """``z`` for ``z >= 0`` and ``negative_slope * z`` below: a ReLU whose negative side still has a
    small gradient, so a unit pushed below zero can recover. ``negative_slope`` defaults to 0.01, as in
    :func:`torch.nn.functional.leaky_relu`. Shape: any shape in, the same shape out."""
    z = _as_float_array(z)
    slope = _check_slope(negative_slope)
    return _scalar_if_0d(np.where(z >= 0, z, z * slope).astype(z.dtype, copy=False))


def leaky_relu_derivative(z: ArrayLike, negative_slope: float = 0.01) -> np.ndarray:
    """``d leaky_relu / dz``: 1 where ``z > 0``, ``negative_slope`` elsewhere (PyTorch's choice at 0)."""
    z = _as_float_array(z)
    slope = _check_slope(negative_slope)
    return _scalar_if_0d(np.where(z > 0, 1.0, slope).astype(z.dtype))


def _check_slope(negative_slope: float) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float, np.floating, np.integer)):
        raise TypeError(f"negative_slope must be a real number, got {type(negative_slope).__name__}")
    if not math.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be finite, got {negative_slope}")
    return float(negative_slope)


def tanh_derivative(z: ArrayLike) -> np.ndarray:
    """``d tanh / dz = 1 - tanh(z)**2``, largest (1) at 0 and vanishing for large ``|z|``."""
    z = _as_float_array(z)
    return _scalar_if_0d(1.0 - np.tanh(z) ** 2)


_erfc = np.frompyfunc(math.erfc, 1, 1)  # NumPy has no erf/erfc; math's are accurate to double precision
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_APPROXIMATIONS = ("none", "tanh")


def _check_approximate(approximate: str) -> str:
    if approximate not in _GELU_APPROXIMATIONS:
        raise ValueError(f"approximate must be one of {_GELU_APPROXIMATIONS}, got {approximate!r}")
    return approximate


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = erfc(-z / sqrt 2) / 2, the standard normal's cumulative distribution function.

    Equal to ``(1 + erf(z / sqrt 2)) / 2``, but that form cancels for very negative z (1 + erf is
    1 - 0.99999...), losing relative accuracy in the tail; erfc keeps it.
    """
    erfc = np.asarray(_erfc(-z / math.sqrt(2.0)), dtype=np.float64)
    return (0.5 * erfc).astype(z.dtype, copy=False)


def gelu(z: ArrayLike, approximate: str = "none") -> np.ndarray:
    """The Gaussian error linear unit ``z * Phi(z)``, with ``Phi`` the standard normal CDF.

    ``approximate="none"`` (the default, as in :func:`torch.nn.functional.gelu`) is the exact form
    ``z * (1 + erf(z / sqrt(2))) / 2``. ``approximate="tanh"`` is the formula of Hendrycks and Gimpel,
    ``z * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z**3))) / 2``, which torch computes for
    ``approximate='tanh'`` and which GPT-2 used; the two differ by less than 5e-4 everywhere.
    Shape: any shape in, the same shape out.
    """
    z = _as_float_array(z)
    if _check_approximate(approximate) == "tanh":
        inner = _SQRT_2_OVER_PI * (z + 0.044715 * z**3)
        return _scalar_if_0d(0.5 * z * (1.0 + np.tanh(inner)))
    return _scalar_if_0d(z * _normal_cdf(z))


def gelu_derivative(z: ArrayLike, approximate: str = "none") -> np.ndarray:
    """``d gelu / dz``. Exact form: ``Phi(z) + z * phi(z)`` with ``phi`` the normal density. The tanh
    form differentiates its own formula. Unlike ReLU's it is smooth, and slightly negative for z < -0.75.
    Shape: any shape in, the same shape out."""
    z = _as_float_array(z)
    if _check_approximate(approximate) == "tanh":
        inner = _SQRT_2_OVER_PI * (z + 0.044715 * z**3)
        t = np.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z**2)
        return _scalar_if_0d(0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * d_inner)
    with np.errstate(under="ignore"):
        density = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return _scalar_if_0d((_normal_cdf(z) + z * density).astype(z.dtype, copy=False))


def logsumexp(x: ArrayLike, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(x)))`` along ``axis``, without overflow or underflow: ``m + log(sum(exp(x - m)))``
    with ``m = max(x)``. Every ``exp`` then has an argument <= 0 and the largest term is exactly 1, so the
    sum lies in [1, n] and its log is safe. Rows of all ``-inf`` give ``-inf`` (the log of an empty sum).

    x: (..., n, ...) -> the same shape without ``axis`` (or with it kept as size 1 if ``keepdims``).
    Matches :func:`torch.logsumexp` and :func:`scipy.special.logsumexp`.
    """
    x = _as_float_array(x)
    if x.ndim == 0:
        raise ValueError("logsumexp needs at least one axis, got a 0-D array")
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype, copy=False)  # avoid (-inf) - (-inf) = NaN
    with np.errstate(divide="ignore", under="ignore"):
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` along ``axis``, computed as ``x - logsumexp(x)``: finite wherever ``x`` is,
    even where ``softmax`` itself underflows to 0 (whose log would be ``-inf``). Shape: same as ``x``."""
    x = _as_float_array(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


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
