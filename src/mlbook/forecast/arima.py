"""Seasonal ARIMA(p, d, q)(P, D, Q)_s from scratch, fitted by conditional sum of squares (CSS).

Write ``w = (1 - B)^d (1 - B^s)^D y`` for the differenced series (``B`` shifts back one step). The model::

    phi(B) Phi(B^s) (w[t] - mu) = theta(B) Theta(B^s) e[t],      e[t] white noise with variance sigma2

with ``phi(B) = 1 - phi_1 B - ... - phi_p B^p``, ``theta(B) = 1 + theta_1 B + ... + theta_q B^q`` and the
seasonal polynomials alike in ``B^s`` (the sign conventions of statsmodels). ``mu`` is fitted only when
nothing is differenced. CSS sets the errors before the first usable step to zero, computes the rest by
the recursion, and minimises their sum of squares; for long series it agrees with exact maximum
likelihood to O(1/n).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from mlbook.forecast._threads import single_threaded_blas
from mlbook.forecast.data import check_series

__all__ = ["Arima", "fit_arima", "difference", "arima_polynomials", "css_residuals", "psi_weights"]


def difference(y: ArrayLike, d: int = 0, D: int = 0, s: int = 1) -> np.ndarray:
    """``(1 - B)^d (1 - B^s)^D y``: length ``n - d - s*D``."""
    w = np.asarray(y, dtype=float)
    for _ in range(D):
        w = w[s:] - w[:-s]
    for _ in range(d):
        w = w[1:] - w[:-1]
    return w


def _poly_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.convolve(a, b)


def arima_polynomials(phi: ArrayLike, theta: ArrayLike, Phi: ArrayLike = (), Theta: ArrayLike = (),
                      s: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Expanded AR and MA coefficients: ``w[t] = sum_k ar[k] w[t-k-1] + e[t] + sum_j ma[j] e[t-j-1]``.

    Returns ``(ar, ma)`` of lengths ``p + s*P`` and ``q + s*Q``.
    """
    ar_poly = np.concatenate([[1.0], -np.asarray(phi, dtype=float)])
    sar_poly = np.zeros(s * len(Phi) + 1)
    sar_poly[0] = 1.0
    sar_poly[s::s] = -np.asarray(Phi, dtype=float)
    ma_poly = np.concatenate([[1.0], np.asarray(theta, dtype=float)])
    sma_poly = np.zeros(s * len(Theta) + 1)
    sma_poly[0] = 1.0
    sma_poly[s::s] = np.asarray(Theta, dtype=float)
    return -_poly_mul(ar_poly, sar_poly)[1:], _poly_mul(ma_poly, sma_poly)[1:]


@njit(cache=True)
def _css_residuals(w, mu, ar, ma):
    """Errors ``(n,)`` of the CSS recursion; zero for the first ``len(ar)`` steps."""
    n = w.size
    p = ar.size
    q = ma.size
    e = np.zeros(n)
    for t in range(p, n):
        acc = w[t] - mu
        for k in range(p):
            acc -= ar[k] * (w[t - k - 1] - mu)
        for j in range(min(q, t)):
            acc -= ma[j] * e[t - j - 1]
        e[t] = acc
    return e


def css_residuals(w: ArrayLike, ar: ArrayLike, ma: ArrayLike, mu: float = 0.0) -> np.ndarray:
    """The CSS errors of the differenced series ``w`` for expanded polynomials ``ar``, ``ma``."""
    return _css_residuals(np.asarray(w, dtype=float), float(mu), np.asarray(ar, dtype=float),
                          np.asarray(ma, dtype=float))


def psi_weights(ar_total: ArrayLike, ma: ArrayLike, horizon: int) -> np.ndarray:
    """``(horizon,)`` MA(infinity) weights ``psi_0 = 1, psi_1, ...`` of ``y``: the h-step error variance is
    ``sigma2 * sum_{j<h} psi_j**2``. ``ar_total`` includes the differencing."""
    ar_total = np.asarray(ar_total, dtype=float)
    ma = np.asarray(ma, dtype=float)
    psi = np.zeros(horizon)
    psi[0] = 1.0
    for j in range(1, horizon):
        acc = ma[j - 1] if j - 1 < ma.size else 0.0
        for k in range(1, min(j, ar_total.size) + 1):
            acc += ar_total[k - 1] * psi[j - k]
        psi[j] = acc
    return psi


@dataclass(frozen=True)
class Arima:
    """A fitted seasonal ARIMA. ``params`` is ``[mu?] + phi + theta + Phi + Theta`` (statsmodels order,
    without its trailing ``sigma2``); ``residuals`` ``(n - d - sD,)`` are the CSS errors."""

    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int, int]
    include_mean: bool
    params: np.ndarray
    sigma2: float
    residuals: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    converged: bool = True

    def _split(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _split_params(self.params, self.order, self.seasonal_order, self.include_mean)

    def polynomials(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ar, ma, ar_total)``: expanded AR and MA of ``w``, and the AR of ``y`` including differencing."""
        mu, phi, theta, Phi, Theta = self._split()
        P, D, Q, s = self.seasonal_order
        ar, ma = arima_polynomials(phi, theta, Phi, Theta, s)
        lhs = np.concatenate([[1.0], -ar])
        for _ in range(self.order[1]):
            lhs = np.convolve(lhs, [1.0, -1.0])
        for _ in range(D):
            seasonal_diff = np.zeros(s + 1)
            seasonal_diff[0], seasonal_diff[s] = 1.0, -1.0
            lhs = np.convolve(lhs, seasonal_diff)
        return ar, ma, -lhs[1:]

    @property
    def n_lost(self) -> int:
        """Steps lost to differencing, ``d + s*D``."""
        return self.order[1] + self.seasonal_order[3] * self.seasonal_order[1]

    def forecast(self, horizon: int, *, history: ArrayLike | None = None) -> np.ndarray:
        """``(horizon,)`` forecasts after the training series or after ``history`` (parameters fixed)."""
        if int(horizon) < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        y = self.y if history is None else check_series(history, name="history")
        mu, *_ = self._split()
        ar, ma, ar_total = self.polynomials()
        if y.size <= self.n_lost + ar.size:
            raise ValueError(f"history has {y.size} values; this model needs more than {self.n_lost + ar.size}")
        w = difference(y, self.order[1], self.seasonal_order[1], self.seasonal_order[3])
        e = self.residuals if history is None else css_residuals(w, ar, ma, mu)
        const = mu * (1.0 - ar.sum())  # nonzero only without differencing (mu is 0 otherwise)
        path = np.concatenate([y, np.zeros(int(horizon))])
        errs = np.concatenate([np.zeros(self.n_lost), e, np.zeros(int(horizon))])
        n = y.size
        for t in range(n, n + int(horizon)):
            value = const
            for k in range(ar_total.size):
                value += ar_total[k] * path[t - k - 1]
            for j in range(ma.size):
                value += ma[j] * errs[t - j - 1]
            path[t] = value
        return path[n:]

    def interval(self, horizon: int, *, level: float = 0.95, history: ArrayLike | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian prediction bounds ``forecast -+ z * sigma * sqrt(cumsum(psi**2))``, each ``(horizon,)``."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        from scipy.stats import norm
        mean = self.forecast(horizon, history=history)
        _, ma, ar_total = self.polynomials()
        sd = np.sqrt(self.sigma2 * np.cumsum(psi_weights(ar_total, ma, int(horizon)) ** 2))
        z = norm.ppf(0.5 + level / 2)
        return mean - z * sd, mean + z * sd


def _split_params(params, order, seasonal_order, include_mean):
    p, _, q = order
    P, _, Q, _ = seasonal_order
    i = 0
    mu = 0.0
    if include_mean:
        mu, i = float(params[0]), 1
    phi = params[i:i + p]
    theta = params[i + p:i + p + q]
    Phi = params[i + p + q:i + p + q + P]
    Theta = params[i + p + q + P:i + p + q + P + Q]
    return mu, phi, theta, Phi, Theta


def fit_arima(y: ArrayLike, order: tuple[int, int, int], seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0),
              *, include_mean: bool | None = None) -> Arima:
    """Fit ARIMA ``order = (p, d, q)`` with ``seasonal_order = (P, D, Q, s)`` by conditional sum of squares.

    ``include_mean`` defaults to True exactly when nothing is differenced (as statsmodels' ``trend``).
    Raises ``ValueError`` for NaNs, negative orders, a season below 2 with seasonal terms, or a series
    too short for the differencing, the lags and the parameters.
    """
    p, d, q = (int(v) for v in order)
    P, D, Q, s = (int(v) for v in seasonal_order)
    if min(p, d, q, P, D, Q) < 0:
        raise ValueError(f"orders must be non-negative, got order={order}, seasonal_order={seasonal_order}")
    if (P or D or Q) and s < 2:
        raise ValueError(f"seasonal terms need a season s >= 2, got s={s}")
    s = max(s, 1)
    y = check_series(y)
    if include_mean is None:
        include_mean = d == 0 and D == 0
    if include_mean and (d or D):
        raise ValueError("a mean is only identified without differencing (d = D = 0)")
    k = int(include_mean) + p + q + P + Q
    lost = d + s * D
    n_cond = p + s * P
    if y.size - lost - n_cond <= k + 1:
        raise ValueError(f"a series of {y.size} values is too short for ARIMA{(p, d, q)}x{(P, D, Q, s)}: "
                         f"{lost} values go to differencing and {n_cond} to the AR lags, leaving too few for "
                         f"{k} parameters")
    w = difference(y, d, D, s)

    def residuals(x: np.ndarray) -> np.ndarray:
        mu, phi, theta, Phi, Theta = _split_params(x, (p, d, q), (P, D, Q, s), include_mean)
        ar, ma = arima_polynomials(phi, theta, Phi, Theta, s)
        e = _css_residuals(w, mu, ar, ma)[n_cond:]
        if not np.all(np.isfinite(e)) or np.max(np.abs(e)) > 1e12 * (1 + np.std(w)):
            return np.full(e.size, 1e6 * (1 + np.std(w)))  # a non-invertible MA blows up: steer away
        return e

    x0 = np.zeros(k)
    if include_mean:
        x0[0] = w.mean()
    if p:  # a least-squares AR(p) on the differenced series is a better start than zero
        wc = w - (w.mean() if include_mean else 0.0)
        lagged = np.column_stack([wc[p - i - 1:wc.size - i - 1] for i in range(p)])
        x0[int(include_mean):int(include_mean) + p] = np.linalg.lstsq(lagged, wc[p:], rcond=None)[0]
    with single_threaded_blas():
        result = least_squares(residuals, x0, method="lm", xtol=1e-10, ftol=1e-10)
    e_all = residuals(result.x)
    sigma2 = float(np.sum(e_all**2) / e_all.size)
    mu, phi, theta, Phi, Theta = _split_params(result.x, (p, d, q), (P, D, Q, s), include_mean)
    ar, ma = arima_polynomials(phi, theta, Phi, Theta, s)
    full = _css_residuals(w, mu, ar, ma)
    return Arima(order=(p, d, q), seasonal_order=(P, D, Q, s), include_mean=include_mean, params=result.x,
                 sigma2=sigma2, residuals=full, y=y, converged=bool(result.success))
