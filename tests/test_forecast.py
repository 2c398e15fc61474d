"""mlbook.forecast data, features, metrics, backtesting, regression and ACF/PACF: against hand
computations, numpy.linalg.lstsq, scikit-learn and statsmodels, plus bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlbook.forecast import (
    LeakageError,
    acf,
    backtest,
    check_no_leakage,
    fit_linear,
    lag_features,
    ljung_box,
    load_bikeshare,
    mae,
    make_features,
    mape,
    mase,
    naive_forecast,
    pacf,
    rmse,
    rolling_features,
    rolling_origins,
    seasonal_naive_forecast,
    smape,
    to_hourly,
)
from mlbook.forecast.data import DEFAULT_PATH

FAST = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def raw():
    return load_bikeshare()


@pytest.fixture(scope="module")
def filled():
    return load_bikeshare(fill="linear")


# --- data -------------------------------------------------------------------------------------------

def test_packaged_copy_ships_with_its_licence():
    assert DEFAULT_PATH.is_file()
    readme = (DEFAULT_PATH.parent / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Fanaee-T" in readme


def test_loader_makes_missing_hours_explicit(raw):
    assert len(raw) == 8760 and raw.index.is_monotonic_increasing and not raw.index.has_duplicates
    assert raw.index[0] == pd.Timestamp("2011-01-01 00:00") and raw.index[-1] == pd.Timestamp("2011-12-31 23:00")
    assert raw["missing"].sum() == 8760 - 8645
    assert raw["demand"].isna().sum() == raw["missing"].sum()
    assert (raw["demand"].dropna() == raw["casual"].dropna() + raw["registered"].dropna()).all()
    # 1 January 2011 was a Saturday; 4 July a holiday
    assert raw.loc["2011-01-01 00:00", "weekday"] == 5 and raw.loc["2011-01-01 00:00", "workingday"] == 0
    assert raw.loc["2011-07-04 12:00", "holiday"] == 1
    assert raw[["temp", "hum", "weather", "holiday", "workingday"]].notna().all().all()


@pytest.mark.parametrize("fill", ["zero", "linear", "seasonal"])
def test_fills_touch_only_missing_hours(raw, fill):
    out = load_bikeshare(fill=fill)
    kept = ~raw["missing"]
    assert np.array_equal(out.loc[kept, "demand"], raw.loc[kept, "demand"])
    assert out["demand"].notna().all()
    if fill == "zero":
        assert (out.loc[raw["missing"], "demand"] == 0).all()


def test_to_hourly_fill_rules():
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
    frame = to_hourly(times, [10.0, 20.0, 50.0], fill="linear")
    assert list(frame["value"]) == [10, 20, 30, 40, 50]
    assert list(frame["missing"]) == [False, False, True, True, False]
    assert to_hourly(times, [10.0, 20.0, 50.0], fill="none")["value"].isna().sum() == 2


@pytest.mark.parametrize("times, message", [
    (["2024-01-01 00:00", "2024-01-01 00:00"], "duplicated timestamp"),
    (["2024-01-01 02:00", "2024-01-01 01:00"], "not sorted"),
    (["2024-01-01 00:30", "2024-01-01 01:30"], "on the hour"),
])
def test_to_hourly_rejects_bad_timestamps(times, message):
    with pytest.raises(ValueError, match=message):
        to_hourly(pd.to_datetime(times), [1.0, 2.0])


def test_loader_rejects_a_file_with_a_duplicated_hour(tmp_path):
    lines = DEFAULT_PATH.read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join(lines[:5] + [lines[4]] + lines[5:]) + "\n")
    with pytest.raises(ValueError, match="duplicated timestamp"):
        load_bikeshare(tmp_path / "dup.csv")
    with pytest.raises(ValueError, match="fill must be one of"):
        load_bikeshare(fill="mean")


# --- metrics ----------------------------------------------------------------------------------------

def test_metrics_by_hand():
    y, p = np.array([2.0, 4.0, 8.0]), np.array([1.0, 5.0, 6.0])
    assert mae(y, p) == pytest.approx(4 / 3)
    assert rmse(y, p) == pytest.approx(np.sqrt(6 / 3))
    assert mape(y, p) == pytest.approx(100 * (0.5 + 0.25 + 0.25) / 3)
    assert smape(y, p) == pytest.approx(100 / 3 * (2 / 3 + 2 / 9 + 4 / 14))
    # MASE: seasonal-naive (season 1) in-sample MAE of [1, 3, 6] is (2 + 3) / 2
    assert mase(y, p, [1.0, 3.0, 6.0]) == pytest.approx((4 / 3) / 2.5)


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, mean_squared_error
    rng = np.random.default_rng(0)
    y, p = rng.uniform(1, 10, 50), rng.uniform(1, 10, 50)
    assert mae(y, p) == pytest.approx(mean_absolute_error(y, p))
    assert rmse(y, p) == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    assert mape(y, p) == pytest.approx(100 * mean_absolute_percentage_error(y, p))


def test_zero_actuals_are_explicit():
    y, p = np.array([0.0, 2.0, 4.0]), np.array([1.0, 1.0, 5.0])
    with pytest.raises(ValueError, match="1 zero value"):
        mape(y, p)
    assert mape(y, p, zeros="skip") == pytest.approx(100 * (0.5 + 0.25) / 2)
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0/0 counts as a perfect forecast, not NaN
    assert np.isfinite(mase(y, p, [0.0, 0.0, 3.0]))
    with pytest.raises(ValueError, match="every actual is zero"):
        mape([0.0], [1.0], zeros="skip")


@pytest.mark.parametrize("fn", [mae, rmse, mape, smape])
def test_metrics_reject_bad_input(fn):
    with pytest.raises(ValueError, match="shape"):
        fn([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        fn([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


@FAST
@given(hnp.arrays(float, st.integers(1, 40), elements=st.floats(0.1, 1e3)),
       st.floats(0.5, 2.0))
def test_metric_properties(y, factor):
    p = y * factor
    assert mae(y, y) == 0 and smape(y, y) == 0
    assert rmse(y, p) >= mae(y, p) - 1e-9
    assert 0 <= smape(y, p) <= 200
    assert mape(y, p) == pytest.approx(100 * abs(factor - 1), rel=1e-9, abs=1e-9)


# --- features and leakage ---------------------------------------------------------------------------

def test_lags_and_rolling_use_only_the_past():
    y = pd.Series(np.arange(10.0))
    lags = lag_features(y, [2, 3], horizon=2)
    assert lags["lag_2"].iloc[5] == 3 and lags["lag_3"].iloc[5] == 2
    roll = rolling_features(y, [3], horizon=2, stats=("mean", "max"))
    assert roll["roll3_mean"].iloc[6] == pytest.approx((2 + 3 + 4) / 3) and roll["roll3_max"].iloc[6] == 4
    with pytest.raises(ValueError, match="shorter than the horizon"):
        lag_features(y, [1, 24], horizon=24)


def test_feature_table_passes_the_leakage_check(filled):
    frame = filled.iloc[: 24 * 40]
    check_no_leakage(lambda f: make_features(f, horizon=24)[0], frame, horizon=24)
    check_no_leakage(lambda f: make_features(f, horizon=1, lags=(1, 2, 24), windows=(3,))[0], frame, horizon=1)
    X, y = make_features(frame, horizon=24)
    assert X.notna().all().all() and X.index.equals(y.index)
    assert X.index[0] == frame.index[24 + 167]  # the week-long window: 168 h ending 24 h back


@pytest.mark.parametrize("bad", ["lead", "centred", "includes_now", "short_horizon"])
def test_leakage_check_catches_future_features(filled, bad):
    frame = filled.iloc[: 24 * 30]

    def build(f):
        y = f["demand"]
        X = make_features(f, horizon=24, weather=False, calendar=None)[0]
        if bad == "lead":  # shifted the wrong way: tomorrow's demand
            X = X.assign(oops=y.shift(-24))
        elif bad == "centred":
            X = X.assign(oops=y.rolling(25, center=True).mean())
        elif bad == "includes_now":
            X = X.assign(oops=y.rolling(24).mean())
        else:  # a lag that is fine one hour ahead, not 24 hours ahead
            X = X.assign(oops=y.shift(1))
        return X

    with pytest.raises(LeakageError, match="oops"):
        check_no_leakage(build, frame, horizon=24)


# --- baselines, backtest ----------------------------------------------------------------------------

def test_baselines():
    y = np.arange(1.0, 11.0)
    assert list(naive_forecast(y, 3)) == [10, 10, 10]
    assert list(seasonal_naive_forecast(y, 5, season=3)) == [8, 9, 10, 8, 9]
    with pytest.raises(ValueError, match="shorter than one season"):
        seasonal_naive_forecast(y[:2], 3, season=3)
    with pytest.raises(ValueError, match="NaN"):
        naive_forecast([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="horizon"):
        naive_forecast(y, 0)


def test_rolling_origins_and_backtest():
    assert list(rolling_origins(20, initial=10, horizon=3, step=4)) == [10, 14]
    assert list(rolling_origins(20, initial=10, horizon=3, step=1, max_folds=2)) == [16, 17]
    with pytest.raises(ValueError, match="cannot hold"):
        rolling_origins(10, initial=9, horizon=3, step=1)
    y = np.arange(30.0)
    seen = []

    def forecast(origin, horizon):
        seen.append(origin)
        return naive_forecast(y[:origin], horizon)

    bt = backtest(y, forecast, initial=20, horizon=5, step=5)
    assert seen == [20, 25] and bt.forecasts.shape == (2, 5)
    assert np.array_equal(bt.errors()[0], np.arange(1.0, 6.0))  # a line's naive error grows by one per step
    assert bt.scores()["MASE"] == pytest.approx(3.0)  # MAE 3, in-sample naive MAE 1
    with pytest.raises(ValueError, match="returned shape"):
        backtest(y, lambda o, h: np.zeros(h + 1), initial=20, horizon=5, step=5)


# --- regression -------------------------------------------------------------------------------------

@FAST
@given(st.integers(5, 60), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_least_squares_matches_numpy_lstsq(rows, cols, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    y = rng.normal(size=rows)
    if rows <= cols:
        return
    model = fit_linear(X, y)
    design = np.column_stack([X, np.ones(rows)])
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(model.coef, expected[:-1], atol=1e-8)
    assert model.intercept == pytest.approx(expected[-1], abs=1e-8)


@pytest.mark.parametrize("alpha", [0.1, 10.0, 1000.0])
def test_ridge_matches_scikit_learn(alpha):
    from sklearn.linear_model import Ridge
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 8)) * np.array([1, 10, 100, 1, 1, 0.1, 1, 5])
    y = X @ rng.normal(size=8) + rng.normal(size=200)
    ours = fit_linear(X, y, alpha=alpha)
    ref = Ridge(alpha=alpha).fit(X, y)
    np.testing.assert_allclose(ours.coef, ref.coef_, rtol=1e-7, atol=1e-9)
    assert ours.intercept == pytest.approx(ref.intercept_, rel=1e-7)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7)


def test_linear_on_real_features_matches_scikit_learn(filled):
    from sklearn.linear_model import LinearRegression
    X, y = make_features(filled, horizon=24)  # the whole year: every month indicator has ones
    ours = fit_linear(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6, atol=1e-6)
    assert ours.condition > 10  # correlated lags: the conditioning the QR solve protects


def test_regression_rejects_bad_input():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="rank-deficient"):
        fit_linear(np.column_stack([np.arange(5.0), 2 * np.arange(5.0)]), np.arange(5.0))
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        fit_linear(X, np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear(np.array([[1.0], [np.nan], [2.0]]), np.ones(3))
    model = fit_linear(np.arange(10.0).reshape(5, 2), np.arange(5.0), alpha=1.0)
    with pytest.raises(ValueError, match=r"shape \(rows, 2\)"):
        model.predict(np.ones((3, 3)))


# --- ACF, PACF, Ljung-Box ---------------------------------------------------------------------------

@FAST
@given(st.integers(20, 300), st.integers(0, 2**31 - 1))
def test_acf_pacf_match_statsmodels(n, seed):
    from statsmodels.tsa.stattools import acf as sm_acf
    from statsmodels.tsa.stattools import pacf as sm_pacf
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=n)) * 0.3 + rng.normal(size=n)
    nlags = min(12, n // 2 - 1)
    np.testing.assert_allclose(acf(x, nlags), sm_acf(x, nlags=nlags, fft=False), atol=1e-10)
    np.testing.assert_allclose(pacf(x, nlags), sm_pacf(x, nlags=nlags, method="ldb"), atol=1e-8)


def test_ljung_box_matches_statsmodels(filled):
    from statsmodels.stats.diagnostic import acorr_ljungbox
    x = np.diff(filled["demand"].to_numpy()[:2000])
    q, p = ljung_box(x, 24, dof=2)
    ref = acorr_ljungbox(x, lags=[24], model_df=2)
    assert q == pytest.approx(float(ref["lb_stat"].iloc[0]), rel=1e-9)
    assert p == pytest.approx(float(ref["lb_pvalue"].iloc[0]), abs=1e-12)
    with pytest.raises(ValueError, match="constant"):
        acf(np.ones(10), 3)
    with pytest.raises(ValueError, match="nlags"):
        acf(np.arange(5.0), 5)


# --- figures ----------------------------------------------------------------------------------------

def test_figures_are_built_without_pyplot(raw, filled):
    import sys

    from matplotlib.figure import Figure

    from mlbook.viz import forecast as viz

    month = filled.loc["2011-03"]
    y = month["demand"].to_numpy()
    figures = [
        viz.plot_demand_overview(raw.loc["2011-01"]),
        viz.plot_cycles(month),
        viz.plot_fills({"zero": load_bikeshare(fill="zero")["demand"]}, "2011-01-26", "2011-01-28", raw["missing"]),
        viz.plot_acf_pacf(y, 30, marks=(24,)),
        viz.plot_forecasts(month.index[:48], y[:48], {"naive": np.full(48, y[0])}, interval=(y[:48] - 5, y[:48] + 5),
                           history=month["demand"].iloc[:24]),
        viz.plot_residual_diagnostics(y, y + np.sin(np.arange(y.size))),
        viz.plot_error_by_step({"a": np.arange(24.0)}),
        viz.plot_importances(["a", "b", "c"], [3.0, 1.0, 2.0], top=2),
    ]
    assert all(isinstance(f, Figure) and f.axes for f in figures)
    assert "matplotlib.pyplot" not in sys.modules or all(f.canvas.manager is None for f in figures)
