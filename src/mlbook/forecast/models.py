"""Baselines and regression: naive, seasonal naive, and linear / ridge least squares solved by QR.

Why QR rather than the normal equations ``(X^T X) w = X^T y``: forming ``X^T X`` squares the condition
number. With lag features that are strongly correlated (``y[t-24]`` and ``y[t-48]``) and indicator
columns, ``kappa(X)`` of 1e4 becomes 1e8 in ``X^T X``, and half of float64's sixteen digits are gone
before the solve starts. QR works on ``X`` itself: ``X = QR``, then ``R w = Q^T y`` by back substitution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from mlbook.forecast._threads import single_threaded_blas
from mlbook.forecast.data import check_series

__all__ = ["naive_forecast", "seasonal_naive_forecast", "LinearModel", "fit_linear", "solve_least_squares"]


def naive_forecast(history: ArrayLike, horizon: int) -> np.ndarray:
    """``(horizon,)`` copies of the last value: "tomorrow looks like right now"."""
    y = check_series(history, name="history")
    if int(horizon) < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    return np.full(int(horizon), y[-1])


def seasonal_naive_forecast(history: ArrayLike, horizon: int, season: int) -> np.ndarray:
    """``(horizon,)`` forecasts repeating the last full season: ``yhat[n + j] = y[n + j - season * k]``
    with the smallest ``k`` that lands in the history. Needs at least one full season of history."""
    y = check_series(history, name="history")
    if int(season) < 1:
        raise ValueError(f"season must be a positive integer, got {season}")
    if int(horizon) < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if y.size < season:
        raise ValueError(f"history has {y.size} values, shorter than one season of {season}")
    steps = np.arange(int(horizon))
    return y[y.size - season + steps % season]


def solve_least_squares(X: np.ndarray, y: np.ndarray, *, rcond: float = 1e-10) -> tuple[np.ndarray, float]:
    """Minimise ``||X w - y||`` by Householder QR: returns ``w`` ``(k,)`` and the condition number of ``X``.

    Raises ``ValueError`` if ``X`` is rank-deficient (a diagonal entry of ``R`` below ``rcond`` times the
    largest): the minimiser is then not unique; add a ridge penalty or drop the redundant column.
    """
    Q, R = np.linalg.qr(X, mode="reduced")
    diag = np.abs(np.diag(R))
    if diag.size and diag.min() <= rcond * diag.max():
        col = int(np.argmin(diag))
        raise ValueError(f"X ({X.shape[0]} x {X.shape[1]}) is rank-deficient: column {col} is (nearly) a linear "
                         "combination of the others; use alpha > 0 (ridge) or drop a redundant column")
    w = np.linalg.solve(R, Q.T @ y) if R.shape[0] else np.zeros(0)  # R is upper-triangular and well posed
    singular = np.linalg.svd(R, compute_uv=False)
    return w, float(singular[0] / singular[-1]) if singular.size else 1.0


@dataclass(frozen=True)
class LinearModel:
    """``y = X @ coef + intercept``, fitted by :func:`fit_linear`. ``condition`` is ``kappa`` of the
    centred (and, for ridge, augmented) design."""

    coef: np.ndarray
    intercept: float
    alpha: float
    condition: float
    feature_names: tuple[str, ...] | None = field(default=None, repr=False)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """``(rows,)`` predictions for ``X`` ``(rows, features)``."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.coef.size:
            raise ValueError(f"X must have shape (rows, {self.coef.size}), got {X.shape}")
        return X @ self.coef + self.intercept


def fit_linear(X: ArrayLike, y: ArrayLike, *, alpha: float = 0.0, fit_intercept: bool = True) -> LinearModel:
    """Least squares (``alpha = 0``) or ridge: minimise ``||y - X w - b||^2 + alpha ||w||^2``.

    ``X``: ``(rows, features)``; ``y``: ``(rows,)``. The intercept ``b`` is not penalised (it is
    removed by centring). Ridge is solved as ordinary least squares on the augmented system
    ``[X; sqrt(alpha) I] w = [y; 0]`` by QR, which never forms ``X^T X``.
    The objective is scikit-learn's ``Ridge(alpha)`` and ``LinearRegression`` for ``alpha = 0``.
    """
    names = tuple(str(c) for c in X.columns) if hasattr(X, "columns") else None
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    for name, a in (("X", X), ("y", y)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has NaN or infinite values; drop those rows (make_features does) first")
    if X.shape[0] < X.shape[1] + int(fit_intercept) and alpha == 0:
        raise ValueError(f"{X.shape[0]} rows cannot determine {X.shape[1]} coefficients without ridge (alpha > 0)")
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    y_mean = float(y.mean()) if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean
    if alpha > 0:
        Xc = np.vstack([Xc, np.sqrt(alpha) * np.eye(X.shape[1])])
        yc = np.concatenate([yc, np.zeros(X.shape[1])])
    with single_threaded_blas():  # a tall-thin QR gains little from threads and loses a lot on a busy machine
        coef, condition = solve_least_squares(Xc, yc)
    return LinearModel(coef=coef, intercept=y_mean - float(x_mean @ coef), alpha=float(alpha), condition=condition,
                       feature_names=names)
