"""Exponential smoothing and ARIMA from mlbook.forecast against statsmodels: the same recursions with the
same parameters to rounding error, fitted models to a stated tolerance, plus gradients and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlbook.forecast import fit_arima, fit_exponential_smoothing, fit_holt_winters, load_bikeshare
from mlbook.forecast.smoothing import smoothing_from_parameters, smoothing_sse, smoothing_sse_and_gradient

sm_hw = pytest.importorskip("statsmodels.tsa.holtwinters")
sm_arima = pytest.importorskip("statsmodels.tsa.arima.model")

CONFIGS = [(False, None), (True, None), (False, "add"), (True, "add"), (True, "mul")]


def simulated_seasonal(n=240, m=12, seed=0, kind="add"):
    """A monthly-like series: level 100, slope 0.3, a sine season, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = np.sin(2 * np.pi * t / m) + 0.5 * np.cos(4 * np.pi * t / m)
    base = 100 + 0.3 * t
    noise = rng.normal(0, 2, n)
    return base * (1 + 0.2 * season) + noise if kind == "mul" else base + 15 * season + noise


@pytest.fixture(scope="module")
def daily_demand():
    """Real data: daily rentals of 2011 (missing hours linearly filled), weekly season."""
    frame = load_bikeshare(fill="linear")
    return frame["demand"].resample("D").sum().to_numpy()


def start_theta(y, trend, seasonal, m=12):
    theta = [0.4, 0.1, 0.2, y[:m].mean(), 0.5]
    if seasonal == "mul":
        theta += list(y[:m] / y[:m].mean())
    elif seasonal == "add":
        theta += list(y[:m] - y[:m].mean())
    return np.array(theta)


@pytest.mark.parametrize("trend, seasonal", CONFIGS)
def test_adjoint_gradient_matches_finite_differences(trend, seasonal):
    y = simulated_seasonal(60, kind="mul" if seasonal == "mul" else "add")
    theta = start_theta(y, trend, seasonal)
    sse, grad = smoothing_sse_and_gradient(y, theta, trend=trend, seasonal=seasonal, period=12)
    numeric = np.zeros_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = 1e-6 * max(1.0, abs(theta[i]))
        up = smoothing_sse(y, theta + step, trend=trend, seasonal=seasonal, period=12)
        down = smoothing_sse(y, theta - step, trend=trend, seasonal=seasonal, period=12)
        numeric[i] = (up - down) / (2 * step[i])
    used = np.ones(theta.size, dtype=bool)
    if not trend:
        used[[1, 4]] = False
    if seasonal is None:
        used[2] = False
    np.testing.assert_allclose(grad[used], numeric[used], rtol=1e-5, atol=1e-6 * sse)
    assert np.all(grad[~used] == 0)


@pytest.mark.parametrize("trend, seasonal", CONFIGS)
def test_recursion_matches_statsmodels_with_fixed_parameters(trend, seasonal):
    y = simulated_seasonal(120, kind="mul" if seasonal == "mul" else "add")
    theta = start_theta(y, trend, seasonal)
    ours = smoothing_from_parameters(y, theta[: 5 + (12 if seasonal else 0)], trend=trend, seasonal=seasonal,
                                     period=12 if seasonal else None)
    kwargs = dict(initialization_method="known", initial_level=theta[3])
    if trend:
        kwargs["initial_trend"] = theta[4]
    if seasonal:
        kwargs["initial_seasonal"] = theta[5:]
    ref = sm_hw.ExponentialSmoothing(y, trend="add" if trend else None, seasonal=seasonal,
                                     seasonal_periods=12 if seasonal else None, **kwargs).fit(
        smoothing_level=theta[0], smoothing_trend=theta[1] if trend else None,
        smoothing_seasonal=theta[2] if seasonal else None, optimized=False)
    np.testing.assert_allclose(ours.fitted, ref.fittedvalues, rtol=1e-10, atol=1e-8)
    assert ours.sse == pytest.approx(ref.sse, rel=1e-10)
    # Forecasts from statsmodels' own final states by the textbook formula
    # yhat[n + h] = l[n] + h b[n] + s[n + h - m (1 + (h - 1) // m)] agree with ours at every step.
    h = np.arange(1, 31)
    expected = ref.level[-1] + h * (ref.trend[-1] if trend else 0.0)
    if seasonal:
        last_season = np.asarray(ref.season)[-12:]
        s = last_season[(h - 1) % 12]
        expected = expected * s if seasonal == "mul" else expected + s
    np.testing.assert_allclose(ours.forecast(30), expected, rtol=1e-10, atol=1e-8)
    # statsmodels 0.15's own forecast() agrees except at h = m, 2m, ..., where it reuses the seasonal
    # state of one season earlier instead of the one updated by the last observation.
    ok = h % 12 != 0 if seasonal else np.ones(30, dtype=bool)
    np.testing.assert_allclose(ours.forecast(30)[ok], np.asarray(ref.forecast(30))[ok], rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("seasonal", ["add", "mul"])
@pytest.mark.parametrize("source", ["simulated", "real"])
def test_fitted_holt_winters_matches_statsmodels(seasonal, source, daily_demand):
    """Same model, both fitted by minimising the in-sample SSE: ours must reach an SSE at most 0.1% above
    statsmodels' (it is often lower: the gradient is exact). Where both reach the same optimum (SSEs
    within 0.1%), the forecasts must agree within 3% of the series' standard deviation on average over
    two seasons; where ours is lower, statsmodels stopped at a worse point and its forecasts may differ."""
    if source == "real":
        y, m = daily_demand, 7
    else:
        y, m = simulated_seasonal(240, kind=seasonal), 12
    ours = fit_holt_winters(y, m, seasonal=seasonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm_hw.ExponentialSmoothing(y, trend="add", seasonal=seasonal, seasonal_periods=m).fit()
    assert ours.sse <= ref.sse * 1.001
    if ours.sse >= ref.sse * 0.999:
        gap = np.mean(np.abs(ours.forecast(2 * m) - ref.forecast(2 * m)))
        assert gap <= 0.03 * np.std(y), gap


def test_simple_and_holt_fit_like_statsmodels(daily_demand):
    y = daily_demand[:200]
    for trend in (False, True):
        ours = fit_exponential_smoothing(y, trend=trend)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sm_hw.ExponentialSmoothing(y, trend="add" if trend else None).fit()
        assert ours.sse <= ref.sse * 1.001


def test_intervals_analytic_agree_with_simulation_and_cover():
    y = simulated_seasonal(240) + np.cumsum(np.random.default_rng(5).normal(0, 1, 240))  # a wandering level
    model = fit_holt_winters(y, 12)
    assert model.alpha > 0.05
    lo, hi = model.interval(24)
    slo, shi = model.interval(24, method="simulate", n_paths=4000)
    width, sim_width = hi - lo, shi - slo
    np.testing.assert_allclose(sim_width, width, rtol=0.08)
    assert np.all(np.diff(width[::12]) > 0)  # the uncertainty grows with the horizon
    mlo, mhi = fit_holt_winters(simulated_seasonal(240, kind="mul"), 12, seasonal="mul").interval(12)
    assert np.all(mhi > mlo)
    with pytest.raises(ValueError, match="no closed-form"):
        fit_holt_winters(simulated_seasonal(240, kind="mul"), 12, seasonal="mul").interval(12, method="analytic")


def test_smoothing_bad_input():
    y = simulated_seasonal(30)
    with pytest.raises(ValueError, match="at least 24"):
        fit_holt_winters(y[:20], 12)
    with pytest.raises(ValueError, match="NaN"):
        fit_holt_winters(np.r_[y, np.nan], 12)
    with pytest.raises(ValueError, match="strictly positive"):
        fit_holt_winters(np.r_[y, 0.0], 12, seasonal="mul")
    with pytest.raises(ValueError, match="period >= 2"):
        fit_exponential_smoothing(y, seasonal="add")
    with pytest.raises(ValueError, match="seasonal must be"):
        fit_exponential_smoothing(y, seasonal="multiplicative", period=12)
    with pytest.raises(ValueError, match="horizon"):
        fit_holt_winters(y, 12).forecast(0)


# --- ARIMA ------------------------------------------------------------------------------------------

def simulate_sarima(n, seed=0):
    """(1 - 0.5 B) (1 - B^12) y = (1 - 0.6 B^12) e."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    w = np.zeros(n)
    for t in range(12, n):
        w[t] = 0.5 * w[t - 1] + e[t] - 0.6 * e[t - 12]
    y = w.copy()
    for t in range(12, n):
        y[t] += y[t - 12]
    return y


def simulate_arma(n, seed=0, mean=5.0):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n + 100)
    x = np.zeros(n + 100)
    for t in range(1, n + 100):
        x[t] = 0.6 * x[t - 1] + e[t] + 0.3 * e[t - 1]
    return x[100:] + mean


ARIMA_CASES = [
    ((1, 0, 1), (0, 0, 0, 0), lambda: simulate_arma(1500)),
    ((1, 1, 1), (0, 0, 0, 0), lambda: np.cumsum(simulate_arma(1500, seed=1, mean=0.0))),
    ((1, 0, 0), (0, 1, 1, 12), lambda: simulate_sarima(1200)),
    ((2, 0, 1), (1, 0, 1, 12), lambda: simulate_arma(1200, seed=3)),
]


@pytest.mark.parametrize("order, seasonal_order, make", ARIMA_CASES)
def test_arima_forecasts_and_intervals_match_statsmodels_with_fixed_parameters(order, seasonal_order, make):
    """statsmodels filters exactly (Kalman); CSS conditions on the first values. With the same parameters
    on a long series the two agree to rounding error."""
    y = make()
    ours = fit_arima(y, order, seasonal_order)
    ref = sm_arima.ARIMA(y, order=order, seasonal_order=seasonal_order).filter(np.r_[ours.params, ours.sigma2])
    np.testing.assert_allclose(ours.forecast(30), ref.forecast(30), rtol=1e-8, atol=1e-7)
    lo, hi = ours.interval(30, level=0.9)
    band = ref.get_forecast(30).conf_int(alpha=0.1)
    np.testing.assert_allclose(lo, band[:, 0], rtol=1e-8, atol=1e-7)
    np.testing.assert_allclose(hi, band[:, 1], rtol=1e-8, atol=1e-7)


@pytest.mark.parametrize("order, seasonal_order, make", ARIMA_CASES[:3])
def test_arima_css_estimates_agree_with_statsmodels_mle(order, seasonal_order, make):
    """CSS and exact maximum likelihood differ by O(1/n): within 0.03 per coefficient at n >= 1200."""
    y = make()
    ours = fit_arima(y, order, seasonal_order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm_arima.ARIMA(y, order=order, seasonal_order=seasonal_order).fit()
    k = ours.params.size
    coef = slice(1, k) if ours.include_mean else slice(0, k)
    np.testing.assert_allclose(ours.params[coef], ref.params[:k][coef], atol=0.03)
    assert ours.sigma2 == pytest.approx(ref.params[-1], rel=0.03)
    np.testing.assert_allclose(ours.forecast(24), ref.forecast(24), atol=0.1 * np.std(np.diff(y)))


def test_arima_on_real_daily_demand(daily_demand):
    """ARIMA(1, 1, 1) on the real daily rentals: CSS and statsmodels' exact MLE within 0.02 per
    coefficient, and 14-day forecasts within 2% of the series' standard deviation."""
    y = daily_demand
    ours = fit_arima(y, (1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm_arima.ARIMA(y, order=(1, 1, 1)).fit()
    np.testing.assert_allclose(ours.params, ref.params[:-1], atol=0.02)
    gap = np.mean(np.abs(ours.forecast(14) - ref.forecast(14)))
    assert gap <= 0.02 * np.std(y), gap


def test_arima_bad_input():
    y = simulate_arma(200)
    with pytest.raises(ValueError, match="too short"):
        fit_arima(y[:20], (1, 0, 0), (1, 1, 1, 12))
    with pytest.raises(ValueError, match="NaN"):
        fit_arima(np.r_[y, np.nan], (1, 0, 0))
    with pytest.raises(ValueError, match="non-negative"):
        fit_arima(y, (-1, 0, 0))
    with pytest.raises(ValueError, match="s >= 2"):
        fit_arima(y, (1, 0, 0), (1, 0, 0, 1))
    with pytest.raises(ValueError, match="only identified without differencing"):
        fit_arima(y, (1, 1, 0), include_mean=True)
    with pytest.raises(ValueError, match="horizon"):
        fit_arima(y, (1, 0, 0)).forecast(0)
