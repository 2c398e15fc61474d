"""Feature tables for forecasting with regression: lags, past-only rolling statistics, calendar, weather.

Row ``t`` of a feature table predicts ``y[t]`` and is built from what is known ``horizon`` hours before
``t``: demand up to ``y[t - horizon]``, the calendar of ``t`` (known years ahead) and the weather at ``t``
(known only as a weather forecast; using the observed weather makes the errors an optimistic bound).
:func:`check_no_leakage` tests that promise empirically instead of trusting column names.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["LeakageError", "lag_features", "rolling_features", "calendar_features", "weather_features",
           "make_features", "check_no_leakage"]


class LeakageError(ValueError):
    """A feature table uses demand from the future of the row it predicts."""


def _check_lags(lags: Sequence[int], horizon: int, what: str) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 hour, got {horizon}")
    bad = [k for k in lags if k < horizon]
    if bad:
        raise ValueError(f"{what} {bad} are shorter than the horizon {horizon}: at forecast time y[t-{bad[0]}] "
                         "is still in the future")


def lag_features(y: pd.Series, lags: Sequence[int], *, horizon: int = 1) -> pd.DataFrame:
    """Columns ``lag_k = y[t - k]`` for each ``k`` in ``lags`` (each at least ``horizon``)."""
    _check_lags(lags, horizon, "lags")
    return pd.DataFrame({f"lag_{k}": y.shift(k) for k in lags}, index=y.index)


def rolling_features(y: pd.Series, windows: Sequence[int], *, horizon: int = 1,
                     stats: Sequence[str] = ("mean", "std")) -> pd.DataFrame:
    """Rolling statistics of the ``w`` values ``y[t-horizon-w+1 .. t-horizon]``: past-only windows.

    The shift comes *before* the rolling window, so the window ends ``horizon`` steps before ``t``.
    (``y.rolling(w).mean()`` alone would include ``y[t]`` itself: the textbook leak.)
    """
    if any(w < 1 for w in windows):
        raise ValueError(f"rolling windows must be positive, got {list(windows)}")
    _check_lags([horizon], horizon, "horizon")
    past = y.shift(horizon)
    cols = {}
    for w in windows:
        roll = past.rolling(w, min_periods=w)
        for stat in stats:
            if stat not in ("mean", "std", "min", "max"):
                raise ValueError(f"unknown rolling statistic {stat!r}; use mean, std, min or max")
            cols[f"roll{w}_{stat}"] = getattr(roll, stat)()
    return pd.DataFrame(cols, index=y.index)


def calendar_features(frame: pd.DataFrame, *, encoding: str = "onehot", months: bool = True) -> pd.DataFrame:
    """Calendar of each row: hour, weekday, month (unless ``months=False``), holiday, working day.

    ``encoding="onehot"``: an indicator per hour *of a working day* and per hour of a day off (the two
    daily profiles differ: commute peaks versus an afternoon hump), per weekday and per month, plus
    ``holiday``; what a linear model needs. ``encoding="ordinal"``: the integers, for tree models.
    """
    for col in ("hour", "weekday", "month", "holiday", "workingday"):
        if col not in frame:
            raise ValueError(f"calendar_features needs a {col!r} column (see load_bikeshare)")
    if encoding == "ordinal":
        cols = ["hour", "weekday"] + (["month"] if months else []) + ["holiday", "workingday"]
        return frame[cols].astype(float)
    if encoding != "onehot":
        raise ValueError(f"encoding must be 'onehot' or 'ordinal', got {encoding!r}")
    cols = {}
    work = frame["workingday"].to_numpy() == 1
    hour = frame["hour"].to_numpy()
    weekday = frame["weekday"].to_numpy()
    # Reference levels keep the columns linearly independent of the intercept and of each other:
    # midnight of a working day, Monday among working days, Saturday among days off, January.
    for h in range(24):
        if h:
            cols[f"work_h{h:02d}"] = ((hour == h) & work).astype(float)
        cols[f"off_h{h:02d}"] = ((hour == h) & ~work).astype(float)
    for d, name in ((1, "tue"), (2, "wed"), (3, "thu"), (4, "fri"), (6, "sun")):
        cols[f"weekday_{name}"] = (weekday == d).astype(float)
    for m in (range(2, 13) if months else ()):
        cols[f"month_{m:02d}"] = (frame["month"].to_numpy() == m).astype(float)
    cols["holiday"] = frame["holiday"].to_numpy(dtype=float)
    return pd.DataFrame(cols, index=frame.index)


def weather_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Temperature, felt temperature, humidity, wind and indicators of bad weather (codes 2, 3+)."""
    for col in ("temp", "atemp", "hum", "windspeed", "weather"):
        if col not in frame:
            raise ValueError(f"weather_features needs a {col!r} column (see load_bikeshare)")
    out = frame[["temp", "atemp", "hum", "windspeed"]].astype(float).copy()
    out["temp_sq"] = out["temp"] ** 2  # demand rises with warmth, then falls in the heat
    out["misty"] = (frame["weather"] == 2).astype(float)
    out["rain_snow"] = (frame["weather"] >= 3).astype(float)
    return out


def make_features(frame: pd.DataFrame, *, horizon: int = 24, lags: Sequence[int] = (24, 48, 168),
                  windows: Sequence[int] = (24, 168), calendar: str | None = "onehot",
                  months: bool = True, weather: bool = True, target: str = "demand"
                  ) -> tuple[pd.DataFrame, pd.Series]:
    """The feature table ``X`` (rows, features) and target ``y`` (rows,) for ``horizon``-ahead forecasts.

    ``calendar``: ``"onehot"``, ``"ordinal"`` or None (see :func:`calendar_features`); ``months=False``
    leaves the month out (a model trained on January-September has never seen an October).

    Rows whose lags or windows reach before the start of the series, or whose target or a feature is
    NaN (a missing hour when ``fill="none"``), are dropped; the index keeps the timestamps.
    """
    if target not in frame:
        raise ValueError(f"frame has no target column {target!r}")
    y = frame[target].astype(float)
    parts = [lag_features(y, lags, horizon=horizon), rolling_features(y, windows, horizon=horizon)]
    if calendar is not None:
        parts.append(calendar_features(frame, encoding=calendar, months=months))
    if weather:
        parts.append(weather_features(frame))
    X = pd.concat(parts, axis=1)
    keep = X.notna().all(axis=1) & y.notna()
    return X[keep], y[keep]


def check_no_leakage(build: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, *, horizon: int,
                     target: str = "demand", n_cuts: int = 5, seed: int = 0) -> None:
    """Raise :class:`LeakageError` if any row of ``build(frame)`` depends on demand it may not see.

    A row predicting ``y[t]`` may use ``y[s]`` only for ``s <= t - horizon``. For a cut ``c``, replace
    every target value at ``s >= c`` by noise and rebuild: each row with ``t < c + horizon`` must come
    out identical, because everything it may see lies before ``c``. Checked at ``n_cuts`` random cuts;
    a feature shifted the wrong way, or a rolling window that includes the current hour, changes a row.
    ``build`` maps a frame like ``frame`` to a feature table indexed like it (rows may be dropped).
    """
    if target not in frame:
        raise ValueError(f"frame has no target column {target!r}")
    n = len(frame)
    if n < 2 * horizon + 2:
        raise ValueError(f"frame has {n} rows, too few to check a horizon of {horizon}")
    reference = build(frame)
    rng = np.random.default_rng(seed)
    for cut in np.sort(rng.integers(n // 4, n - horizon - 1, size=n_cuts)):
        perturbed = frame.copy()
        y = perturbed[target].to_numpy(dtype=float).copy()
        noise = rng.normal(1e3, 1e3, size=n - cut)
        y[cut:] = np.where(np.isnan(y[cut:]), np.nan, noise)  # a missing hour stays missing
        perturbed[target] = y
        rebuilt = build(perturbed)
        allowed = frame.index[: cut + horizon]
        rows = reference.index.intersection(allowed)
        if not rows.equals(rebuilt.index.intersection(allowed)):
            raise LeakageError(f"which rows survive before {frame.index[min(cut + horizon, n - 1)]} depends on "
                               "future demand")
        before = reference.loc[rows].to_numpy(dtype=float)
        after = rebuilt.loc[rows].to_numpy(dtype=float)
        changed = ~np.isclose(before, after, equal_nan=True)
        if changed.any():
            cols = reference.columns[changed.any(axis=0)].tolist()
            first = rows[np.flatnonzero(changed.any(axis=1))[0]]
            raise LeakageError(f"column(s) {cols} use future demand: the row for {first} changed when demand "
                               f"from {frame.index[cut]} on (less than horizon={horizon} h before it) was altered")
