"""Rolling-origin backtesting (time-series cross-validation) with a fixed horizon.

At each origin ``o`` the forecaster sees ``y[:o]`` only and predicts ``y[o : o + horizon]``; the origin
then moves forward by ``step``. Averaging the errors over many origins estimates how the model will do
when it is run every day in production, which a single split cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from mlbook.forecast.metrics import mae, mape, rmse, seasonal_naive_scale, smape

__all__ = ["rolling_origins", "Backtest", "backtest", "score_table"]


def rolling_origins(n: int, *, initial: int, horizon: int, step: int, max_folds: int | None = None) -> np.ndarray:
    """Forecast origins ``initial, initial + step, ...`` whose whole horizon fits in ``n`` values.

    With ``max_folds`` only the last ``max_folds`` origins are kept (the most recent behaviour).
    """
    if horizon < 1 or step < 1:
        raise ValueError(f"horizon and step must be at least 1, got horizon={horizon}, step={step}")
    if initial < 1:
        raise ValueError(f"initial (the first training length) must be at least 1, got {initial}")
    if initial + horizon > n:
        raise ValueError(f"a series of {n} values cannot hold a training window of {initial} plus a horizon "
                         f"of {horizon}")
    origins = np.arange(initial, n - horizon + 1, step)
    if max_folds is not None:
        if max_folds < 1:
            raise ValueError(f"max_folds must be at least 1, got {max_folds}")
        origins = origins[-max_folds:]
    return origins


@dataclass(frozen=True)
class Backtest:
    """Forecasts ``(folds, horizon)`` and actuals ``(folds, horizon)`` at each origin.

    ``actuals`` may hold NaN for hours with no observation; :meth:`scores` leaves them out.
    ``scale`` is MASE's denominator, the in-sample seasonal-naive MAE on the data before the first origin.
    """

    origins: np.ndarray
    forecasts: np.ndarray
    actuals: np.ndarray
    scale: float

    def errors(self) -> np.ndarray:
        """``actual - forecast`` per fold and step ahead, NaN where the hour is missing."""
        return self.actuals - self.forecasts

    def scores(self) -> dict[str, float]:
        """MAE, RMSE, MAPE (zero actuals skipped), sMAPE and MASE over every observed forecast hour."""
        ok = np.isfinite(self.actuals)
        t, p = self.actuals[ok], self.forecasts[ok]
        return {"MAE": mae(t, p), "RMSE": rmse(t, p), "MAPE": mape(t, p, zeros="skip"), "sMAPE": smape(t, p),
                "MASE": mae(t, p) / self.scale}

    def mae_by_step(self) -> np.ndarray:
        """``(horizon,)`` MAE at each step ahead, averaged over folds (observed hours only)."""
        return np.nanmean(np.abs(self.errors()), axis=0)


def backtest(y: ArrayLike, forecast: Callable[[int, int], ArrayLike], *, initial: int, horizon: int, step: int,
             max_folds: int | None = None, season: int = 1, actuals: ArrayLike | None = None) -> Backtest:
    """Run ``forecast(origin, horizon)`` at every rolling origin and collect forecasts and actuals.

    ``forecast`` must use ``y[:origin]`` only (and features known at ``origin``) and return ``horizon``
    values. ``y``: ``(n,)`` the series the models see (filled); ``actuals``: ``(n,)`` the series to score
    against (default ``y``; pass the unfilled series to score observed hours only). ``season`` sets
    MASE's seasonal-naive scale, computed on ``actuals[:first origin]``.
    """
    y = np.asarray(y, dtype=float)
    truth = y if actuals is None else np.asarray(actuals, dtype=float)
    if y.ndim != 1 or truth.shape != y.shape:
        raise ValueError(f"y must be 1-D and actuals the same shape; got {y.shape} and {truth.shape}")
    origins = rolling_origins(y.size, initial=initial, horizon=horizon, step=step, max_folds=max_folds)
    preds = np.empty((origins.size, horizon))
    for i, origin in enumerate(origins):
        out = np.asarray(forecast(int(origin), horizon), dtype=float)
        if out.shape != (horizon,):
            raise ValueError(f"forecast({origin}, {horizon}) returned shape {out.shape}, expected ({horizon},)")
        if not np.all(np.isfinite(out)):
            raise ValueError(f"forecast({origin}, {horizon}) returned NaN or inf")
        preds[i] = out
    obs = np.stack([truth[o:o + horizon] for o in origins])
    scale = seasonal_naive_scale(truth[: origins[0]], season)
    return Backtest(origins=origins, forecasts=preds, actuals=obs, scale=scale)


def score_table(results: Mapping[str, Backtest]) -> pd.DataFrame:
    """One row per model (sorted by MASE), columns MAE, RMSE, MAPE, sMAPE, MASE."""
    table = pd.DataFrame({name: bt.scores() for name, bt in results.items()}).T
    return table.sort_values("MASE")
