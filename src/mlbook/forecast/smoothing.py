"""Exponential smoothing from scratch: simple, Holt (trend) and Holt-Winters (additive or multiplicative
seasonality), fitted by minimising the one-step-ahead squared error with Numba-compiled recursions.

The model (the component form of Hyndman and Athanasopoulos, also statsmodels' ``ExponentialSmoothing``),
with level ``l``, slope ``b`` and ``m`` seasonal states ``s``::

    forecast   yhat[t] = (l[t-1] + b[t-1]) + s[t-m]            (additive)   or  (l[t-1] + b[t-1]) * s[t-m]
    level      l[t] = alpha * (y[t] - s[t-m]) + (1 - alpha) * (l[t-1] + b[t-1])      (y[t] / s[t-m] if mult.)
    slope      b[t] = beta * (l[t] - l[t-1]) + (1 - beta) * b[t-1]
    season     s[t] = gamma * (y[t] - l[t-1] - b[t-1]) + (1 - gamma) * s[t-m]        (y[t] / (l + b) if mult.)

The fit minimises ``SSE = sum (y[t] - yhat[t])**2`` over the three smoothing parameters *and* the
``2 + m`` initial states. The gradient of the SSE with respect to all of them comes from one backward
(adjoint) sweep through the stored recursion, so a gradient costs about two forward passes whatever ``m``
is; finite differences would cost ``m + 5`` passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from mlbook.forecast._threads import single_threaded_blas
from mlbook.forecast.data import check_series

__all__ = ["ExponentialSmoothing", "fit_exponential_smoothing", "smoothing_from_parameters", "fit_ses", "fit_holt", "fit_holt_winters",
           "smoothing_sse", "smoothing_sse_and_gradient"]

Seasonal = Literal["add", "mul"] | None
_SEASONAL_CODES = {None: 0, "add": 1, "mul": 2}
_N_SMOOTHING = 3  # alpha, beta, gamma; then level0, slope0, season0[0..m-1]


@njit(cache=True)
def _sse_and_gradient(y, theta, m, has_trend, seasonal, want_grad):
    """SSE of the one-step forecasts and (if ``want_grad``) its gradient with respect to ``theta``.

    ``theta = [alpha, beta, gamma, level0, slope0, season0[0], ..., season0[m-1]]``; ``seasonal`` is
    0 (none), 1 (additive) or 2 (multiplicative). Returns ``(sse, grad)``; ``sse`` is inf if a
    multiplicative model's level or season reaches zero or below.
    """
    n = y.size
    alpha, beta, gamma = theta[0], theta[1], theta[2]
    level = theta[3]
    slope = theta[4] if has_trend else 0.0
    mm = m if seasonal else 1
    season = np.zeros(mm)
    if seasonal:
        season[:] = theta[5:5 + m]
    prev_level = np.empty(n)
    prev_slope = np.empty(n)
    used_season = np.empty(n)
    new_level = np.empty(n)
    err = np.empty(n)
    sse = 0.0
    for t in range(n):
        k = t % mm
        si = season[k] if seasonal else 0.0
        lb = level + slope
        if seasonal == 2:
            if si <= 0.0 or lb <= 0.0:
                return np.inf, np.zeros(theta.size)
            yhat = lb * si
            lnew = alpha * y[t] / si + (1.0 - alpha) * lb
        else:
            yhat = lb + si
            lnew = alpha * (y[t] - si) + (1.0 - alpha) * lb
        e = y[t] - yhat
        sse += e * e
        bnew = beta * (lnew - level) + (1.0 - beta) * slope if has_trend else 0.0
        if seasonal == 1:
            season[k] = gamma * (y[t] - lb) + (1.0 - gamma) * si
        elif seasonal == 2:
            season[k] = gamma * y[t] / lb + (1.0 - gamma) * si
        prev_level[t] = level
        prev_slope[t] = slope
        used_season[t] = si
        new_level[t] = lnew
        err[t] = e
        level = lnew
        slope = bnew
    grad = np.zeros(theta.size)
    if not want_grad:
        return sse, grad
    # Backward sweep: *_bar is d SSE / d (that quantity), accumulated from the last step to the first.
    level_bar = 0.0
    slope_bar = 0.0
    season_bar = np.zeros(mm)
    for t in range(n - 1, -1, -1):
        k = t % mm
        lvl = prev_level[t]
        slp = prev_slope[t]
        si = used_season[t]
        lnew = new_level[t]
        lb = lvl + slp
        yt = y[t]
        lnew_bar = level_bar
        snew_bar = season_bar[k] if seasonal else 0.0
        l_bar = 0.0
        b_bar = 0.0
        si_bar = 0.0
        lb_bar = 0.0
        if has_trend:
            lnew_bar += beta * slope_bar
            l_bar -= beta * slope_bar
            b_bar += (1.0 - beta) * slope_bar
            grad[1] += (lnew - lvl - slp) * slope_bar
        if seasonal == 2:
            si_bar -= alpha * yt / (si * si) * lnew_bar
            grad[0] += (yt / si - lb) * lnew_bar
        else:
            si_bar -= alpha * lnew_bar
            grad[0] += (yt - si - lb) * lnew_bar
        lb_bar += (1.0 - alpha) * lnew_bar
        if seasonal == 1:
            lb_bar -= gamma * snew_bar
            si_bar += (1.0 - gamma) * snew_bar
            grad[2] += (yt - lb - si) * snew_bar
        elif seasonal == 2:
            lb_bar -= gamma * yt / (lb * lb) * snew_bar
            si_bar += (1.0 - gamma) * snew_bar
            grad[2] += (yt / lb - si) * snew_bar
        yhat_bar = -2.0 * err[t]
        if seasonal == 2:
            lb_bar += yhat_bar * si
            si_bar += yhat_bar * lb
        else:
            lb_bar += yhat_bar
            si_bar += yhat_bar
        l_bar += lb_bar
        b_bar += lb_bar
        level_bar = l_bar
        slope_bar = b_bar if has_trend else 0.0
        if seasonal:
            season_bar[k] = si_bar
    grad[3] = level_bar
    if has_trend:
        grad[4] = slope_bar
    if seasonal:
        grad[5:5 + m] = season_bar
    return sse, grad


@njit(cache=True)
def _filter(y, theta, m, has_trend, seasonal):
    """One-step forecasts ``(n,)`` and the final states: level, slope, seasonal buffer ``(m,)``.

    The buffer is circular: slot ``t % m`` holds the seasonal state for time ``t``.
    """
    n = y.size
    alpha, beta, gamma = theta[0], theta[1], theta[2]
    level = theta[3]
    slope = theta[4] if has_trend else 0.0
    mm = m if seasonal else 1
    season = np.zeros(mm)
    if seasonal:
        season[:] = theta[5:5 + m]
    fitted = np.empty(n)
    for t in range(n):
        k = t % mm
        si = season[k] if seasonal else 0.0
        lb = level + slope
        if seasonal == 2:
            fitted[t] = lb * si
            lnew = alpha * y[t] / si + (1.0 - alpha) * lb
        else:
            fitted[t] = lb + si
            lnew = alpha * (y[t] - si) + (1.0 - alpha) * lb
        if has_trend:
            slope = beta * (lnew - level) + (1.0 - beta) * slope
        if seasonal == 1:
            season[k] = gamma * (y[t] - lb) + (1.0 - gamma) * si
        elif seasonal == 2:
            season[k] = gamma * y[t] / lb + (1.0 - gamma) * si
        level = lnew
    return fitted, level, slope, season


@njit(cache=True)
def _simulate(level, slope, season, start, horizon, alpha, beta, gamma, has_trend, seasonal, sigma, n_paths, seed):
    """``(n_paths, horizon)`` future paths of the model driven by Gaussian one-step errors."""
    np.random.seed(seed)
    mm = season.size
    paths = np.empty((n_paths, horizon))
    for p in range(n_paths):
        lvl = level
        slp = slope
        s = season.copy()
        for j in range(horizon):
            k = (start + j) % mm
            si = s[k] if seasonal else 0.0
            lb = lvl + slp
            e = sigma * np.random.standard_normal()
            if seasonal == 2:
                yt = lb * si + e
                lnew = alpha * yt / si + (1.0 - alpha) * lb
            else:
                yt = lb + si + e
                lnew = alpha * (yt - si) + (1.0 - alpha) * lb
            if has_trend:
                slp = beta * (lnew - lvl) + (1.0 - beta) * slp
            if seasonal == 1:
                s[k] = gamma * (yt - lb) + (1.0 - gamma) * si
            elif seasonal == 2:
                s[k] = gamma * yt / lb + (1.0 - gamma) * si
            lvl = lnew
            paths[p, j] = yt
    return paths


@njit(cache=True)
def _grid_search(y, theta0, m, has_trend, seasonal, alphas, betas, gammas):
    """The (alpha, beta, gamma) of the grid with the smallest SSE, initial states held at ``theta0``."""
    best = np.inf
    best_abg = np.array([alphas[0], betas[0], gammas[0]])
    theta = theta0.copy()
    for a in alphas:
        for b in betas:
            for g in gammas:
                theta[0] = a
                theta[1] = b
                theta[2] = g
                sse, _ = _sse_and_gradient(y, theta, m, has_trend, seasonal, False)
                if sse < best:
                    best = sse
                    best_abg[0] = a
                    best_abg[1] = b
                    best_abg[2] = g
    return best_abg


def _codes(trend: bool, seasonal: Seasonal, period: int | None) -> tuple[int, int]:
    if seasonal not in _SEASONAL_CODES:
        raise ValueError(f"seasonal must be None, 'add' or 'mul', got {seasonal!r}")
    if seasonal is not None and (period is None or int(period) < 2):
        raise ValueError(f"a seasonal model needs period >= 2 (24 for a daily cycle in hourly data), got {period}")
    return int(bool(trend)), _SEASONAL_CODES[seasonal]


def smoothing_sse(y: ArrayLike, theta: ArrayLike, *, trend: bool, seasonal: Seasonal, period: int = 1) -> float:
    """In-sample one-step SSE for parameters ``theta = [alpha, beta, gamma, level0, slope0, season0...]``."""
    return smoothing_sse_and_gradient(y, theta, trend=trend, seasonal=seasonal, period=period)[0]


def smoothing_sse_and_gradient(y: ArrayLike, theta: ArrayLike, *, trend: bool, seasonal: Seasonal,
                               period: int = 1) -> tuple[float, np.ndarray]:
    """SSE and its exact gradient ``(5 + m,)`` by the adjoint sweep (``m = period`` if seasonal, else 0)."""
    has_trend, code = _codes(trend, seasonal, period if seasonal else 2)
    y = check_series(y)
    m = int(period) if seasonal else 0
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (5 + m,):
        raise ValueError(f"theta must have shape ({5 + m},) = 3 smoothing parameters, level, slope and {m} "
                         f"seasonal states; got {theta.shape}")
    sse, grad = _sse_and_gradient(y, theta, m, has_trend, code, True)
    return float(sse), grad


@dataclass(frozen=True)
class ExponentialSmoothing:
    """A fitted exponential-smoothing model (see the module docstring for the equations).

    ``fitted``/``residuals``: ``(n,)`` one-step forecasts and errors; ``level``, ``slope``, ``season``
    ``(m,)``: the states after the last observation (a circular buffer: ``season[t % m]`` is the state
    used at time ``t``);
    ``sigma2 = sse / n``. ``theta`` holds the estimated parameters and initial states.
    """

    trend: bool
    seasonal: Seasonal
    period: int
    alpha: float
    beta: float
    gamma: float
    theta: np.ndarray = field(repr=False)
    sse: float
    n: int
    fitted: np.ndarray = field(repr=False)
    level: float = field(repr=False)
    slope: float = field(repr=False)
    season: np.ndarray = field(repr=False)

    @property
    def residuals(self) -> np.ndarray:
        return self._y - self.fitted

    @property
    def sigma2(self) -> float:
        return self.sse / self.n

    _y: np.ndarray = field(default=None, repr=False)

    def _codes(self) -> tuple[int, int]:
        return int(self.trend), _SEASONAL_CODES[self.seasonal]

    def _m(self) -> int:
        return self.period if self.seasonal else 0

    def _states_after(self, history: ArrayLike | None) -> tuple[float, float, np.ndarray, int]:
        if history is None:
            return self.level, self.slope, self.season, self.n
        h = check_series(history, name="history", min_length=1)
        if self.seasonal == "mul" and np.any(h <= 0):
            raise ValueError("a multiplicative model needs a strictly positive history")
        has_trend, code = self._codes()
        _, level, slope, season = _filter(h, self.theta, self._m(), has_trend, code)
        return level, slope, season, h.size

    def forecast(self, horizon: int, *, history: ArrayLike | None = None) -> np.ndarray:
        """``(horizon,)`` point forecasts after the training series, or after ``history``.

        ``history`` re-runs the recursion with the fitted parameters and initial states over a series
        that starts where the training series started (e.g. the full series up to a later origin), which
        is how a backtest updates the states without refitting.
        """
        if int(horizon) < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        level, slope, season, n = self._states_after(history)
        steps = np.arange(1, int(horizon) + 1)
        trend_part = level + steps * slope
        if not self.seasonal:
            return trend_part
        s = season[(n + steps - 1) % self.period]
        return trend_part * s if self.seasonal == "mul" else trend_part + s

    def interval(self, horizon: int, *, level: float = 0.95, history: ArrayLike | None = None,
                 method: Literal["analytic", "simulate"] | None = None, n_paths: int = 2000,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper ``(horizon,)`` prediction bounds at coverage ``level``, errors taken Gaussian.

        Additive models have a closed form (Hyndman et al. 2008, class 1): the h-step variance is
        ``sigma2 * (1 + sum_{j<h} c_j**2)`` with ``c_j = alpha (1 + j beta) + gamma [j mod m == 0]``.
        Multiplicative seasonality has none, so its bounds are quantiles of simulated future paths.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        if int(horizon) < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        horizon = int(horizon)
        method = method or ("simulate" if self.seasonal == "mul" else "analytic")
        from scipy.stats import norm
        z = norm.ppf(0.5 + level / 2)
        if method == "analytic":
            if self.seasonal == "mul":
                raise ValueError("no closed-form interval for multiplicative seasonality; use method='simulate'")
            j = np.arange(1, horizon)
            c = self.alpha * (1 + j * (self.beta if self.trend else 0.0))
            if self.seasonal:
                c = c + self.gamma * (j % self.period == 0)
            var = self.sigma2 * np.concatenate([[1.0], 1.0 + np.cumsum(c**2)])
            mean = self.forecast(horizon, history=history)
            return mean - z * np.sqrt(var), mean + z * np.sqrt(var)
        if method != "simulate":
            raise ValueError(f"method must be 'analytic' or 'simulate', got {method!r}")
        lvl, slp, season, n = self._states_after(history)
        has_trend, code = self._codes()
        paths = _simulate(lvl, slp, np.asarray(season, dtype=float), n, horizon, self.alpha, self.beta, self.gamma,
                          has_trend, code, float(np.sqrt(self.sigma2)), int(n_paths), int(seed))
        tail = (1 - level) / 2
        return np.quantile(paths, tail, axis=0), np.quantile(paths, 1 - tail, axis=0)


def _initial_states(y: np.ndarray, has_trend: int, code: int, m: int) -> np.ndarray:
    """Heuristic starting states: first-season mean, slope between the first two seasons, seasonal deviations."""
    if code:
        first, second = y[:m].mean(), y[m:2 * m].mean()
        level0 = first
        slope0 = (second - first) / m if has_trend else 0.0
        season0 = y[:m] / first if code == 2 else y[:m] - first
    else:
        level0 = y[0]
        slope0 = (y[1] - y[0]) if has_trend and y.size > 1 else 0.0
        season0 = np.zeros(0)
    return np.concatenate([[0.5, 0.1 if has_trend else 0.0, 0.1 if code else 0.0, level0, slope0], season0])


def fit_exponential_smoothing(y: ArrayLike, *, trend: bool = False, seasonal: Seasonal = None,
                              period: int | None = None, maxiter: int = 300) -> ExponentialSmoothing:
    """Fit simple (no trend, no season), Holt (``trend=True``) or Holt-Winters (``seasonal="add"/"mul"``).

    Minimises the in-sample one-step SSE over ``alpha, beta, gamma`` in [0, 1] and the initial states,
    by L-BFGS-B on the exact adjoint gradient, started from the best point of a coarse grid.
    Raises ``ValueError`` for NaNs, a seasonal series shorter than two seasons, or a multiplicative
    model on data that are not strictly positive.
    """
    has_trend, code = _codes(trend, seasonal, period)
    m = int(period) if code else 0
    y = check_series(y, min_length=2 * m if code else (3 if has_trend else 2))
    if code == 2 and np.any(y <= 0):
        raise ValueError(f"multiplicative seasonality needs strictly positive data; y has {int(np.sum(y <= 0))} "
                         "value(s) <= 0 (fill missing hours with something other than zero, or use seasonal='add')")
    theta0 = _initial_states(y, has_trend, code, m)
    grid = np.array([0.05, 0.2, 0.5, 0.8, 0.95])
    small = np.array([0.0, 0.05, 0.2])
    theta0[:3] = _grid_search(y, theta0, m, has_trend, code, grid, small if has_trend else np.zeros(1),
                              small if code else np.zeros(1))
    # Which entries of theta are free, and the scale that makes them comparable for the optimiser.
    active = np.ones(theta0.size, dtype=bool)
    active[1] = active[4] = bool(has_trend)
    active[2] = bool(code)
    scale = np.ones(theta0.size)
    y_scale = max(float(np.std(y)), 1e-12)
    scale[3:5] = y_scale
    if code == 1:
        scale[5:] = y_scale
    obj_scale = 1.0 / (y.size * y_scale**2)
    bounds = [(0.0, 1.0)] * 3 + [(None, None)] * 2 + ([(1e-6, None)] * m if code == 2 else [(None, None)] * m)
    free_bounds = [(None if lo is None else lo / s, None if hi is None else hi / s)
                   for (lo, hi), s, a in zip(bounds, scale, active) if a]

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta = theta0.copy()
        theta[active] = x * scale[active]
        sse, grad = _sse_and_gradient(y, theta, m, has_trend, code, True)
        if not np.isfinite(sse):
            return 1e10, np.zeros_like(x)
        return sse * obj_scale, grad[active] * scale[active] * obj_scale

    x0 = theta0[active] / scale[active]
    with single_threaded_blas():
        result = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=free_bounds,
                          options={"maxiter": maxiter, "ftol": 1e-10, "gtol": 1e-8})
    theta = theta0.copy()
    theta[active] = result.x * scale[active]
    return _result(y, theta, has_trend, code, m, seasonal)


def _result(y: np.ndarray, theta: np.ndarray, has_trend: int, code: int, m: int, seasonal: Seasonal
            ) -> ExponentialSmoothing:
    fitted, level, slope, season = _filter(y, theta, m, has_trend, code)
    sse = float(np.sum((y - fitted) ** 2))
    model = ExponentialSmoothing(trend=bool(has_trend), seasonal=seasonal, period=m if code else 1,
                                 alpha=float(theta[0]), beta=float(theta[1]), gamma=float(theta[2]), theta=theta,
                                 sse=sse, n=y.size, fitted=fitted, level=float(level), slope=float(slope),
                                 season=season, _y=y)
    return model


def smoothing_from_parameters(y: ArrayLike, theta: ArrayLike, *, trend: bool = False, seasonal: Seasonal = None,
                              period: int | None = None) -> ExponentialSmoothing:
    """The model with given ``theta = [alpha, beta, gamma, level0, slope0, season0[0..m-1]]``, run over
    ``y`` without fitting (``season0[j]`` is the seasonal state used at time ``j``)."""
    has_trend, code = _codes(trend, seasonal, period)
    m = int(period) if code else 0
    y = check_series(y)
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (5 + m,):
        raise ValueError(f"theta must have shape ({5 + m},), got {theta.shape}")
    return _result(y, theta, has_trend, code, m, seasonal)


def fit_ses(y: ArrayLike) -> ExponentialSmoothing:
    """Simple exponential smoothing: a level, no trend, no season."""
    return fit_exponential_smoothing(y)


def fit_holt(y: ArrayLike) -> ExponentialSmoothing:
    """Holt's linear method: level and slope."""
    return fit_exponential_smoothing(y, trend=True)


def fit_holt_winters(y: ArrayLike, period: int, *, seasonal: Literal["add", "mul"] = "add",
                     trend: bool = True) -> ExponentialSmoothing:
    """Holt-Winters: level, slope and a season of ``period`` steps, additive or multiplicative."""
    return fit_exponential_smoothing(y, trend=trend, seasonal=seasonal, period=period)
