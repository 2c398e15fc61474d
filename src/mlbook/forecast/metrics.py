"""Forecast error metrics: MAE, RMSE, MAPE, sMAPE and MASE, with zero actuals handled explicitly.

Every metric takes ``y_true`` and ``y_pred`` of the same shape (any shape; they are flattened) and
refuses NaNs, empty input and mismatched shapes with a ``ValueError`` rather than returning NaN.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["mae", "rmse", "mape", "smape", "mase", "seasonal_naive_scale"]


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}; they must match")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty; a metric needs at least one value")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not np.all(np.isfinite(a)):
            bad = int(np.count_nonzero(~np.isfinite(a)))
            raise ValueError(f"{name} has {bad} NaN or infinite value(s); drop or fill them before scoring")
    return t.ravel(), p.ravel()


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, in the units of the series."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error: like MAE in units, but punishes large misses more."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true: ArrayLike, y_pred: ArrayLike, *, zeros: Literal["raise", "skip"] = "raise") -> float:
    """Mean absolute percentage error, in percent: ``100 * mean(|y - yhat| / |y|)``.

    A zero actual makes its term infinite. ``zeros="raise"`` (the default) refuses such input and says
    how many zeros there are; ``zeros="skip"`` averages over the non-zero actuals only (and raises if
    every actual is zero). The metric is never silently ``inf``.
    """
    t, p = _pair(y_true, y_pred)
    if zeros not in ("raise", "skip"):
        raise ValueError(f"zeros must be 'raise' or 'skip', got {zeros!r}")
    nonzero = t != 0
    n_zero = int(t.size - np.count_nonzero(nonzero))
    if n_zero and zeros == "raise":
        raise ValueError(
            f"y_true has {n_zero} zero value(s) of {t.size}: MAPE divides by the actual, so it is infinite there; "
            "pass zeros='skip' to average over the non-zero actuals, or use smape/mase")
    if not nonzero.any():
        raise ValueError("every actual is zero: MAPE is undefined; use mae or mase")
    return float(100.0 * np.mean(np.abs(t[nonzero] - p[nonzero]) / np.abs(t[nonzero])))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE, in percent (0 to 200): ``100 * mean(2 |y - yhat| / (|y| + |yhat|))``.

    A term where both the actual and the forecast are zero is a perfect forecast and counts as 0
    (the formula would give 0/0).
    """
    t, p = _pair(y_true, y_pred)
    denom = np.abs(t) + np.abs(p)
    terms = np.divide(2.0 * np.abs(t - p), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100.0 * np.mean(terms))


def seasonal_naive_scale(y_train: ArrayLike, season: int = 1) -> float:
    """Mean absolute error of the in-sample seasonal-naive forecast ``y[t - season]``: MASE's denominator."""
    y = np.asarray(y_train, dtype=float).ravel()
    if season < 1:
        raise ValueError(f"season must be a positive integer, got {season}")
    if y.size <= season:
        raise ValueError(f"the training series has {y.size} values; MASE with season={season} needs more than {season}")
    diffs = np.abs(y[season:] - y[:-season])
    diffs = diffs[np.isfinite(diffs)]  # pairs that touch a missing hour carry no information
    if diffs.size == 0:
        raise ValueError("the training series has no two finite values one season apart")
    scale = float(np.mean(diffs))
    if scale == 0:
        raise ValueError("the training series is constant one season apart: MASE's scale is zero")
    return scale


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, *, season: int = 1) -> float:
    """Mean absolute scaled error: MAE divided by the in-sample MAE of the seasonal-naive forecast.

    Below 1, the forecast beats (on the test period) what seasonal naive achieved on the training
    period. Scale-free and defined even when actuals are zero.
    """
    return mae(y_true, y_pred) / seasonal_naive_scale(y_train, season)
