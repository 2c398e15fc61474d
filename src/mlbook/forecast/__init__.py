"""Demand forecasting from scratch: data, features, models, metrics and backtesting.

Used by the Demand forecasting chapter (``book/applications/forecasting.md``). Submodules:

- :mod:`~mlbook.forecast.data`: the hourly bike-share demand on a complete hourly grid, explicit fills;
- :mod:`~mlbook.forecast.features`: lags, past-only rolling statistics, calendar and weather, leakage check;
- :mod:`~mlbook.forecast.models`: naive and seasonal-naive baselines, linear and ridge regression by QR;
- :mod:`~mlbook.forecast.smoothing`: simple, Holt and Holt-Winters exponential smoothing (Numba);
- :mod:`~mlbook.forecast.arima`: seasonal ARIMA by conditional sum of squares, prediction intervals;
- :mod:`~mlbook.forecast.diagnostics`: ACF, PACF, Ljung-Box;
- :mod:`~mlbook.forecast.metrics`: MAE, RMSE, MAPE, sMAPE, MASE;
- :mod:`~mlbook.forecast.backtest`: rolling-origin backtesting with a fixed horizon.
"""

from mlbook.forecast.arima import Arima, fit_arima
from mlbook.forecast.backtest import Backtest, backtest, rolling_origins, score_table
from mlbook.forecast.data import FILLS, check_series, find_dataset, load_bikeshare, to_hourly
from mlbook.forecast.diagnostics import acf, ljung_box, pacf, white_noise_band
from mlbook.forecast.features import (
    LeakageError,
    calendar_features,
    check_no_leakage,
    lag_features,
    make_features,
    rolling_features,
    weather_features,
)
from mlbook.forecast.metrics import mae, mape, mase, rmse, seasonal_naive_scale, smape
from mlbook.forecast.models import LinearModel, fit_linear, naive_forecast, seasonal_naive_forecast
from mlbook.forecast.smoothing import (
    ExponentialSmoothing,
    fit_exponential_smoothing,
    fit_holt,
    fit_holt_winters,
    fit_ses,
)

__all__ = [
    "Arima", "fit_arima", "Backtest", "backtest", "rolling_origins", "score_table", "FILLS", "check_series",
    "find_dataset", "load_bikeshare", "to_hourly", "acf", "ljung_box", "pacf", "white_noise_band", "LeakageError",
    "calendar_features", "check_no_leakage", "lag_features", "make_features", "rolling_features",
    "weather_features", "mae", "mape", "mase", "rmse", "seasonal_naive_scale", "smape", "LinearModel",
    "fit_linear", "naive_forecast", "seasonal_naive_forecast", "ExponentialSmoothing",
    "fit_exponential_smoothing", "fit_holt", "fit_holt_winters", "fit_ses",
]
