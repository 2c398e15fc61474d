"""A single artificial neuron, how to train it, and an exact test of what it can represent.

Batch-first, like PyTorch: a batch is a 2-D array ``X`` of shape ``(batch, n_inputs)``, one example per
row. A neuron has one weight per input and one bias, and gives one number per example::

    z = X @ w + b          # (batch, n_inputs) @ (n_inputs,) + scalar -> (batch,)
    a = activation(z)      # (batch,)

- :class:`Neuron`: the forward pass (``pre_activation``, ``forward``, ``predict``).
- :func:`logistic_loss_and_gradient`, :func:`fit_logistic_neuron`: logistic regression, which is a
  sigmoid neuron trained by gradient descent on binary cross-entropy.
- :func:`separability_certificate`, :func:`is_linearly_separable`: decide exactly, in rational
  arithmetic, whether *any* neuron can classify a labelled data set perfectly, and return the proof.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from mlbook.nn.activations import get_activation, sigmoid

__all__ = [
    "Neuron",
    "SeparabilityCertificate",
    "fit_logistic_neuron",
    "is_linearly_separable",
    "logistic_loss_and_gradient",
    "separability_certificate",
]


def _numeric_array(values: ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(values)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.issubdtype(
        array.dtype, np.complexfloating
    ):
        raise TypeError(f"{what} must be real numbers, got dtype {array.dtype}")
    return array


def _check_batch(X: ArrayLike, what: str = "X") -> np.ndarray:
    """``X`` as a finite float64 array of shape ``(batch, n_features)``."""
    X = _numeric_array(X, what)
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D of shape (batch, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{what} must hold at least one example and one feature, got shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return X


def _check_binary_labels(y: ArrayLike, n_samples: int) -> np.ndarray:
    """``y`` as a float64 array of shape ``(n_samples,)`` holding only 0s and 1s."""
    y = _numeric_array(y, "y")
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},) to match X's {n_samples} rows, got shape {y.shape}")
    y = y.astype(np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if np.any(bad):
        raise ValueError(f"y must contain only the labels 0 and 1, got {np.unique(y[bad])[:5].tolist()}")
    return y


class Neuron:
    """One artificial neuron: ``activation(x . w + b)``.

    Parameters
    ----------
    weights : array-like, shape ``(n_inputs,)``
        One weight per input.
    bias : float
        Added to the weighted sum. A McCulloch-Pitts threshold ``theta`` is the bias ``-theta``.
    activation : str or callable
        ``"sigmoid"`` (default), ``"step"``, ``"relu"``, ``"tanh"``, ``"identity"``, or any
        elementwise function of the pre-activation.

    Attributes
    ----------
    weights : ndarray, shape ``(n_inputs,)``, float64 (a copy of the argument)
    bias : float
    activation : str, the activation's name (``__name__`` for a callable)

    Shapes
    ------
    A batch ``X`` of shape ``(batch, n_inputs)`` gives outputs of shape ``(batch,)``: a neuron has
    one output, so there is no trailing axis of size 1. A single example of shape ``(n_inputs,)``
    gives a scalar. Inputs are computed in float64. The Layers chapter's dense layer generalises
    this to ``n_outputs`` neurons side by side, with outputs ``(batch, n_outputs)``.
    """

    def __init__(
        self,
        weights: ArrayLike,
        bias: float = 0.0,
        activation: Union[str, Callable[[np.ndarray], np.ndarray]] = "sigmoid",
    ) -> None:
        w = np.array(_numeric_array(weights, "weights"), dtype=np.float64)  # a copy, never a view
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"weights must be a non-empty 1-D array of shape (n_inputs,), got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"weights must be finite, got {w}")
        bias_array = _numeric_array(bias, "bias")
        if bias_array.ndim != 0:
            raise ValueError(f"bias must be a scalar, got shape {bias_array.shape}")
        if not np.isfinite(bias_array):
            raise ValueError(f"bias must be finite, got {bias}")
        self.weights = w
        self.bias = float(bias_array)
        self._activation = get_activation(activation)
        self.activation = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")

    @property
    def n_inputs(self) -> int:
        """How many inputs (features) the neuron takes: the length of its weight vector."""
        return self.weights.shape[0]

    def _check_inputs(self, X: ArrayLike) -> np.ndarray:
        X = _numeric_array(X, "inputs")
        n = self.n_inputs
        if X.ndim not in (1, 2):
            raise ValueError(
                f"a neuron takes one example of shape ({n},) or a batch of shape (batch, {n}); "
                f"got a {X.ndim}-D array of shape {X.shape}"
            )
        if X.shape[-1] != n:
            hint = ""
            if X.ndim == 2 and X.shape[0] == n:
                hint = f" (this looks like the (features, batch) column layout: pass X.T, of shape {X.T.shape})"
            raise ValueError(
                f"the neuron has {n} weights, so inputs need shape (batch, {n}) or ({n},); "
                f"got shape {X.shape}, whose last axis has {X.shape[-1]}{hint}"
            )
        return X.astype(np.float64, copy=False)

    def pre_activation(self, X: ArrayLike) -> np.ndarray:
        """The weighted sum ``z = X @ w + b``: shape ``(batch,)`` for a batch, a scalar for one example."""
        X = self._check_inputs(X)
        return X @ self.weights + self.bias

    def forward(self, X: ArrayLike) -> np.ndarray:
        """The neuron's output ``activation(X @ w + b)``: shape ``(batch,)``, or a scalar for one example."""
        return self._activation(self.pre_activation(X))

    __call__ = forward

    def predict(self, X: ArrayLike, threshold: float = 0.5) -> np.ndarray:
        """Class labels: 1 where the output is ``>= threshold``, else 0 (int64, shape ``(batch,)``).

        With a sigmoid, output ``>= 0.5`` is the same as ``z >= 0``: the decision boundary is the
        hyperplane ``x . w + b = 0``. Use ``threshold=0`` for a tanh or identity neuron.
        """
        return (np.asarray(self.forward(X)) >= threshold).astype(np.int64)[()]

    def __repr__(self) -> str:
        weights = np.array2string(self.weights, precision=4, separator=", ")
        return f"Neuron(weights={weights}, bias={self.bias:.4g}, activation={self.activation!r})"


def logistic_loss_and_gradient(
    weights: ArrayLike, bias: float, X: ArrayLike, y: ArrayLike
) -> tuple[float, np.ndarray, float]:
    """Mean binary cross-entropy of a sigmoid neuron on ``(X, y)`` and its gradient.

    ``X``: ``(batch, n_inputs)``; ``y``: ``(batch,)`` of 0/1 labels; ``weights``: ``(n_inputs,)``.
    Returns ``(loss, grad_weights, grad_bias)``. The loss is computed from the logits ``z``, as
    ``log(1 + exp(z)) - y z``, which is the cross-entropy of ``p = sigmoid(z)`` rewritten so that it
    never takes the log of a probability that has rounded to 0. Its gradient with respect to ``z``
    is ``sigmoid(z) - y``; the chain rule through ``z = X @ w + b`` gives the rest.
    """
    X = _check_batch(X)
    y = _check_binary_labels(y, X.shape[0])
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (X.shape[1],):
        raise ValueError(f"weights must have shape ({X.shape[1]},) to match X of shape {X.shape}, got {w.shape}")
    return _logistic_loss_and_gradient(w, float(bias), X, y)


def _logistic_loss_and_gradient(
    w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray, float]:
    """The arithmetic of :func:`logistic_loss_and_gradient`, on arrays already checked (float64)."""
    z = X @ w + b                                   # (batch,) logits
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    residual = sigmoid(z) - y                       # (batch,): dLoss/dz_i times batch
    grad_w = X.T @ residual / X.shape[0]            # (n_inputs,)
    grad_b = float(np.mean(residual))
    return loss, grad_w, grad_b


def fit_logistic_neuron(
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float = 1.0,
    epochs: int = 1000,
    seed: Optional[int] = 0,
    init_scale: float = 0.01,
    initial_weights: Optional[ArrayLike] = None,
    initial_bias: float = 0.0,
) -> tuple[Neuron, np.ndarray]:
    """Train a sigmoid neuron by full-batch gradient descent on binary cross-entropy (logistic regression).

    ``X``: ``(batch, n_inputs)``; ``y``: ``(batch,)`` of 0/1 labels. The weights start from
    ``initial_weights`` or, by default, from ``N(0, init_scale**2)`` drawn with
    ``numpy.random.default_rng(seed)``; the bias starts at ``initial_bias``. Each epoch takes one step
    ``w -= lr * grad_w; b -= lr * grad_b``.

    Returns ``(neuron, history)``: the trained :class:`Neuron` and the loss before every step plus
    the final loss, shape ``(epochs + 1,)`` (``history[k]`` is the loss after ``k`` steps).
    """
    X = _check_batch(X)
    y = _check_binary_labels(y, X.shape[0])
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if initial_weights is None:
        if not (isinstance(init_scale, numbers.Real) and init_scale >= 0):
            raise ValueError(f"init_scale must be a non-negative number, got {init_scale!r}")
        weights = np.random.default_rng(seed).normal(0.0, init_scale, size=X.shape[1])
    else:
        weights = np.array(initial_weights, dtype=np.float64)
        if weights.shape != (X.shape[1],):
            raise ValueError(
                f"initial_weights must have shape ({X.shape[1]},) to match X of shape {X.shape}, got {weights.shape}"
            )
    bias = float(initial_bias)

    history = np.empty(epochs + 1)
    for epoch in range(epochs):
        history[epoch], grad_weights, grad_bias = _logistic_loss_and_gradient(weights, bias, X, y)
        weights = weights - lr * grad_weights
        bias = bias - lr * grad_bias
    history[epochs] = _logistic_loss_and_gradient(weights, bias, X, y)[0]
    return Neuron(weights, bias, "sigmoid"), history


# ---------------------------------------------------------------------------------------------------
# Linear separability, decided exactly.
#
# A neuron with a step activation classifies every example correctly iff s_i (w . x_i + b) > 0 for all
# i, where s_i = +1 for label 1 and -1 for label 0. Gordan's theorem of the alternative says that
# exactly one of these two systems has a solution:
#
#   (P)  s_i ([x_i, 1] . v) > 0 for every i                      (v = (w, b): a separating neuron)
#   (D)  lambda >= 0, sum(lambda) = 1, sum_i lambda_i s_i [x_i, 1] = 0    (a proof that none exists)
#
# (D) is a linear-programming feasibility problem in standard form, solved below by phase one of the
# simplex method in exact rational arithmetic (fractions.Fraction), with Bland's rule so it always
# terminates. If (D) is feasible, lambda is the certificate of inseparability. If it is not, the
# simplex multipliers of the final tableau solve (P): no rounding, no tolerance, no iteration cap.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeparabilityCertificate:
    """The answer to "can one neuron classify this data perfectly?", with its proof, in exact arithmetic.

    If ``separable``: ``exact_weights`` and ``exact_bias`` define a neuron with margin at least 1,
    ``s_i (x_i . w + b) >= 1`` for every example, where ``s_i = 2 y_i - 1``.
    If not: ``exact_multipliers`` are ``lambda_i >= 0`` summing to 1 with
    ``sum_i lambda_i s_i x_i = 0`` and ``sum_i lambda_i s_i = 0``. Adding up the inequalities
    ``s_i (x_i . w + b) > 0`` with these weights gives ``0 > 0`` for every ``(w, b)``: a contradiction.

    ``weights``, ``bias`` and ``multipliers`` are the same numbers as floats (``None`` when absent).
    The object is truthy exactly when the data are separable.
    """

    separable: bool
    exact_weights: Optional[tuple[Fraction, ...]] = None
    exact_bias: Optional[Fraction] = None
    exact_multipliers: Optional[tuple[Fraction, ...]] = None

    @property
    def weights(self) -> Optional[np.ndarray]:
        return None if self.exact_weights is None else np.array([float(v) for v in self.exact_weights])

    @property
    def bias(self) -> Optional[float]:
        return None if self.exact_bias is None else float(self.exact_bias)

    @property
    def multipliers(self) -> Optional[np.ndarray]:
        return None if self.exact_multipliers is None else np.array([float(v) for v in self.exact_multipliers])

    def __bool__(self) -> bool:
        return self.separable


def _phase_one(A: list[list[Fraction]], b: list[Fraction]) -> tuple[Fraction, list[Fraction], list[Fraction]]:
    """Phase one of the simplex method, exactly: minimise ``sum(a)`` subject to ``A x + a = b``, ``x, a >= 0``.

    ``A`` is ``m x n`` with ``b >= 0``. Returns ``(value, x, multipliers)``: the optimal sum of the
    artificial variables ``a`` (0 iff ``A x = b, x >= 0`` is feasible), the optimal ``x`` (length
    ``n``), and the simplex multipliers ``y`` (length ``m``), which satisfy ``y . A[:, j] <= 0`` for
    every column ``j`` and ``y . b = value``. Bland's rule (lowest index enters and leaves) rules out
    cycling, so the loop terminates.
    """
    m, n = len(A), len(A[0])
    zero, one = Fraction(0), Fraction(1)
    tableau = [row[:] + [one if k == i else zero for k in range(m)] + [b[i]] for i, row in enumerate(A)]
    basis = list(range(n, n + m))
    # Reduced costs of the phase-one objective (cost 1 on each artificial), and -value in the last slot.
    reduced = [-sum((tableau[i][j] for i in range(m)), zero) for j in range(n)] + [zero] * m + [-sum(b, zero)]
    while True:
        entering = next((j for j in range(n + m) if reduced[j] < 0), None)
        if entering is None:
            break
        # The phase-one objective is bounded below by 0, so some entry of this column is positive.
        leaving = min(
            (i for i in range(m) if tableau[i][entering] > 0),
            key=lambda i: (tableau[i][-1] / tableau[i][entering], basis[i]),
        )
        pivot = tableau[leaving][entering]
        tableau[leaving] = [v / pivot for v in tableau[leaving]]
        pivot_row = tableau[leaving]
        for i in range(m):
            factor = tableau[i][entering]
            if i != leaving and factor != 0:
                tableau[i] = [v - factor * p for v, p in zip(tableau[i], pivot_row)]
        factor = reduced[entering]
        reduced = [v - factor * p for v, p in zip(reduced, pivot_row)]
        basis[leaving] = entering
    x = [zero] * n
    for i, column in enumerate(basis):
        if column < n:
            x[column] = tableau[i][-1]
    multipliers = [one - reduced[n + i] for i in range(m)]  # reduced cost of artificial i is 1 - y_i
    return -reduced[-1], x, multipliers


def separability_certificate(X: ArrayLike, y: ArrayLike) -> SeparabilityCertificate:
    """Decide exactly whether one neuron (a hyperplane) separates the 0s from the 1s, and prove it.

    ``X``: ``(n_samples, n_features)`` of finite numbers (converted to exact fractions: a float is a
    rational number); ``y``: ``(n_samples,)`` of 0/1 labels. "Separable" means strictly: some
    ``(w, b)`` puts every 1 on the side ``x . w + b > 0`` and every 0 on ``x . w + b < 0``.

    Works in any number of dimensions. The cost is a small exact linear program with
    ``n_features + 2`` constraints and ``n_samples`` unknowns: meant for the small data sets that
    illustrate the idea (logic gates, a few hundred points), not for large ones.
    """
    X = _check_batch(X)
    labels = _check_binary_labels(y, X.shape[0])
    signs = [1 if label == 1 else -1 for label in labels]
    n_samples, n_features = X.shape
    points = [[Fraction(float(v)) for v in row] + [Fraction(1)] for row in X]  # [x_i, 1]

    # (D): rows are sum_i lambda_i s_i [x_i, 1]_k = 0 for each coordinate k, then sum_i lambda_i = 1.
    A = [[s * p[k] for s, p in zip(signs, points)] for k in range(n_features + 1)]
    A.append([Fraction(1)] * n_samples)
    rhs = [Fraction(0)] * (n_features + 1) + [Fraction(1)]
    value, lambdas, multipliers = _phase_one(A, rhs)

    if value == 0:
        return SeparabilityCertificate(separable=False, exact_multipliers=tuple(lambdas))

    # Optimality gives, for every column j: y . (s_j [x_j, 1]) + y_last <= 0 and y_last = value > 0,
    # so v = -y[:-1] satisfies s_j ([x_j, 1] . v) >= value > 0: a strict separator. Rescale to margin 1.
    v = [-t for t in multipliers[:-1]]
    margins = [s * sum((pk * vk for pk, vk in zip(p, v)), Fraction(0)) for s, p in zip(signs, points)]
    smallest = min(margins)
    if smallest <= 0:  # pragma: no cover - would mean a bug in _phase_one, never a property of the data
        raise RuntimeError("internal error: the simplex multipliers do not separate the data")
    v = [vk / smallest for vk in v]
    return SeparabilityCertificate(separable=True, exact_weights=tuple(v[:-1]), exact_bias=v[-1])


def is_linearly_separable(X: ArrayLike, y: ArrayLike) -> bool:
    """Whether one neuron can classify ``(X, y)`` perfectly: ``bool(separability_certificate(X, y))``.

    ``X``: ``(n_samples, n_features)``; ``y``: ``(n_samples,)`` of 0/1 labels. Exact (rational
    arithmetic), in any dimension.
    """
    return separability_certificate(X, y).separable
