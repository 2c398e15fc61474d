"""Autocorrelation (ACF), partial autocorrelation (PACF) and the Ljung-Box test of residual whiteness.

The ACF at lag ``k`` is the correlation of the series with itself ``k`` steps earlier; the PACF is the
same correlation after removing what lags ``1 .. k-1`` already explain. An AR(p) process has a PACF
that cuts off after lag ``p``; an MA(q) process has an ACF that cuts off after lag ``q``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mlbook.forecast.data import check_series

__all__ = ["acf", "pacf", "ljung_box", "white_noise_band"]


def acf(x: ArrayLike, nlags: int) -> np.ndarray:
    """``(nlags + 1,)`` sample autocorrelations ``r_0 = 1, r_1, ..., r_nlags``.

    ``r_k = sum_t (x_t - mean)(x_{t+k} - mean) / sum_t (x_t - mean)^2``: the biased estimator (divide by
    ``n`` at every lag), which keeps the autocorrelation matrix positive semi-definite. Computed with an
    FFT in O(n log n) rather than O(n * nlags).
    """
    x = check_series(x, name="x", min_length=2)
    if not 0 <= int(nlags) < x.size:
        raise ValueError(f"nlags must be in [0, {x.size - 1}] for a series of {x.size}, got {nlags}")
    xc = x - x.mean()
    denom = float(xc @ xc)
    if denom == 0:
        raise ValueError("x is constant: its autocorrelation is undefined")
    size = 1 << int(np.ceil(np.log2(2 * x.size - 1)))  # zero-pad: a circular correlation must not wrap around
    spectrum = np.fft.rfft(xc, size)
    autocov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: int(nlags) + 1]
    return autocov / denom


def pacf(x: ArrayLike, nlags: int) -> np.ndarray:
    """``(nlags + 1,)`` partial autocorrelations from :func:`acf` by the Durbin-Levinson recursion.

    ``phi_kk`` is the last coefficient of the best linear predictor of ``x_t`` from ``x_{t-1..t-k}``.
    (statsmodels' ``pacf(method="ldb")``.)
    """
    r = acf(x, nlags)
    out = np.zeros(int(nlags) + 1)
    out[0] = 1.0
    phi = np.zeros(0)
    for k in range(1, int(nlags) + 1):
        num = r[k] - phi @ r[1:k][::-1] if k > 1 else r[1]
        den = 1.0 - phi @ r[1:k] if k > 1 else 1.0
        phi_kk = num / den
        phi = np.concatenate([phi - phi_kk * phi[::-1], [phi_kk]])
        out[k] = phi_kk
    return out


def white_noise_band(n: int, level: float = 0.95) -> float:
    """Half-width ``z / sqrt(n)`` within which a white-noise series' ACF/PACF falls at ``level``."""
    from scipy.stats import norm
    return float(norm.ppf(0.5 + level / 2) / np.sqrt(n))


def ljung_box(residuals: ArrayLike, lags: int, *, dof: int = 0) -> tuple[float, float]:
    """Ljung-Box ``Q = n (n + 2) sum_{k=1}^{lags} r_k^2 / (n - k)`` and its chi-squared p-value with
    ``lags - dof`` degrees of freedom (``dof`` = number of fitted ARMA parameters). A small p-value says
    the residuals are still autocorrelated: the model left predictable structure behind."""
    from scipy.stats import chi2
    x = check_series(residuals, name="residuals")
    if lags - dof < 1:
        raise ValueError(f"lags - dof must be at least 1, got lags={lags}, dof={dof}")
    r = acf(x, lags)[1:]
    n = x.size
    q = float(n * (n + 2) * np.sum(r**2 / (n - np.arange(1, lags + 1))))
    return q, float(chi2.sf(q, lags - dof))
