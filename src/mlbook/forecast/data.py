"""Hourly bike-share demand with real timestamps and the missing hours made explicit.

The CSV (Capital Bikeshare, Washington D.C., 2011; UCI "Bike Sharing Dataset", CC BY 4.0, see
``data/README.md``) has one row per hour *that had data*: 8,645 of the year's 8,760 hours. A model that
indexes rows as if they were consecutive hours would silently misalign every lag after the first gap,
so :func:`to_hourly` puts the series on a complete hourly grid and the caller chooses the fill.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["FILLS", "DEFAULT_PATH", "find_dataset", "to_hourly", "load_bikeshare", "check_series"]

FILLS = ("none", "zero", "linear", "seasonal")
Fill = Literal["none", "zero", "linear", "seasonal"]

_FILENAME = "bikeshare-hourly-2011.csv"
_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_PATH = _REPO_ROOT / "data" / _FILENAME
"""The copy packaged with the book (``data/`` at the repository root, with its licence)."""
_FALLBACKS = (DEFAULT_PATH, _REPO_ROOT.parent / "shared" / "data" / _FILENAME)

_WEATHER_CODES = {"clear": 1, "cloudy/misty": 2, "light rain/snow": 3, "heavy rain/snow": 4}


def find_dataset() -> Path:
    """Path of the bike-share CSV: the packaged copy, else ``../shared/data`` beside the repository."""
    for path in _FALLBACKS:
        if path.is_file():
            return path
    raise FileNotFoundError(f"{_FILENAME} not found; looked in: " + ", ".join(str(p) for p in _FALLBACKS))


def check_series(y: ArrayLike, *, name: str = "y", min_length: int = 1) -> np.ndarray:
    """``y`` as a 1-D float64 array, or a ``ValueError`` naming NaNs, a wrong shape or a short series."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per time step), got shape {arr.shape}")
    if arr.size < min_length:
        raise ValueError(f"{name} has {arr.size} values; at least {min_length} are needed")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(
            f"{name} has {bad.size} NaN or infinite value(s), first at position {bad[0]}; "
            "fill the missing hours first (load_bikeshare(fill=...) or to_hourly(..., fill=...))")
    return arr


def to_hourly(times: Sequence | pd.DatetimeIndex, values: ArrayLike, *, fill: Fill = "none",
              start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Put observations on a complete hourly grid and fill the hours that have no observation.

    ``times``: ``(n,)`` timestamps, strictly increasing and on the hour. ``values``: ``(n,)`` or
    ``(n, k)``. ``start``/``end`` extend the grid beyond the first/last observation. Returns a frame
    indexed by every hour from start to end, with the value column(s) (``value`` or ``value_0..``) and a
    boolean ``missing`` column. Fills:

    - ``"none"``: NaN; the honest choice, and every model must then refuse or skip those hours;
    - ``"zero"``: nothing was rented (plausible at 4 a.m.; wrong if the data feed was down);
    - ``"linear"``: interpolate in time between the neighbouring observations;
    - ``"seasonal"``: the value one week (168 h) earlier, else one day earlier, else linear.

    Raises ``ValueError`` for unsorted, duplicated or off-the-hour timestamps and mismatched lengths.
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    index = pd.DatetimeIndex(times)
    vals = np.asarray(values, dtype=float)
    if vals.shape[0] != len(index):
        raise ValueError(f"{len(index)} timestamps but values has {vals.shape[0]} rows")
    if len(index) == 0:
        raise ValueError("no observations")
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise ValueError(f"duplicated timestamp {dup}: {int(index.duplicated().sum())} hour(s) appear more than once")
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0])
        raise ValueError(f"timestamps are not sorted: {index[pos + 1]} comes after {index[pos]}")
    if not (index == index.floor("h")).all():
        raise ValueError(f"timestamps must be on the hour; {index[index != index.floor('h')][0]} is not")
    grid = pd.date_range(start if start is not None else index[0], end if end is not None else index[-1],
                         freq="h", name="time")
    if not index.isin(grid).all():
        raise ValueError(f"observations fall outside the grid {grid[0]} .. {grid[-1]}")
    cols = ["value"] if vals.ndim == 1 else [f"value_{j}" for j in range(vals.shape[1])]
    frame = pd.DataFrame(vals.reshape(len(index), -1), index=index, columns=cols).reindex(grid)
    missing = frame[cols[0]].isna().to_numpy() & ~np.isin(grid, index)
    frame = _fill(frame, cols, fill)
    frame["missing"] = missing
    return frame


def _fill(frame: pd.DataFrame, cols: list[str], fill: str) -> pd.DataFrame:
    if fill == "zero":
        frame[cols] = frame[cols].fillna(0.0)
    elif fill == "linear":
        frame[cols] = frame[cols].interpolate(method="time", limit_direction="both")
    elif fill == "seasonal":
        for lag in (168, 24):
            frame[cols] = frame[cols].fillna(frame[cols].shift(lag))
        frame[cols] = frame[cols].interpolate(method="time", limit_direction="both")
    return frame


def load_bikeshare(path: str | Path | None = None, *, fill: Fill = "none") -> pd.DataFrame:
    """The 2011 hourly Capital Bikeshare demand on a complete hourly grid (8,760 rows).

    ``path`` defaults to the copy packaged with the book (:func:`find_dataset`). Returns a frame indexed
    by hourly timestamps (``time``) with columns:

    - ``demand`` (float; the rentals in the hour, ``casual + registered``), ``casual``, ``registered``:
      filled according to ``fill`` (see :func:`to_hourly`); ``missing`` marks the hours absent from the file;
    - calendar: ``hour`` (0-23), ``weekday`` (0 = Monday, from the timestamp), ``month`` (1-12),
      ``holiday`` and ``workingday`` (0/1, per day; the file's values for the day, also for its missing hours);
    - weather: ``weather`` (1 clear, 2 cloudy/misty, 3 light rain/snow, 4 heavy rain/snow), ``temp``,
      ``atemp``, ``hum``, ``windspeed`` (normalised to [0, 1]); a missing hour takes the previous hour's
      weather (weather changes slowly; it is never a target).

    Raises ``ValueError`` if the file is not the expected table (missing columns, unsorted or duplicated
    hours, a weekday column that disagrees with the calendar).
    """
    path = Path(path) if path is not None else find_dataset()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    needed = {"day", "hr", "holiday", "workingday", "weekday", "weathersit", "temp", "atemp", "hum",
              "windspeed", "casual", "registered"}
    if not rows or needed - set(rows[0]):
        raise ValueError(f"{path} lacks column(s) {sorted(needed - set(rows[0] if rows else {}))}")
    day = np.array([int(r["day"]) for r in rows])
    hour = np.array([int(r["hr"]) for r in rows])
    if day.min() < 1 or day.max() > 365 or hour.min() < 0 or hour.max() > 23:
        raise ValueError(f"{path}: day must be in 1..365 and hr in 0..23")
    times = pd.Timestamp("2011-01-01") + pd.to_timedelta(day - 1, unit="D") + pd.to_timedelta(hour, unit="h")
    try:
        weather = [_WEATHER_CODES[r["weathersit"]] for r in rows]
    except KeyError as err:
        raise ValueError(f"{path}: unknown weathersit {err.args[0]!r}; expected one of {list(_WEATHER_CODES)}") from None
    numeric = np.array([[float(r[c]) for c in ("casual", "registered", "temp", "atemp", "hum", "windspeed")]
                        + [float(r["holiday"]), float(r["workingday"]), float(r["weekday"]), w]
                        for r, w in zip(rows, weather)])
    counts = to_hourly(times, numeric[:, :2], fill=fill, start="2011-01-01 00:00", end="2011-12-31 23:00")
    other = to_hourly(times, numeric[:, 2:], fill="none", start="2011-01-01 00:00", end="2011-12-31 23:00")
    grid = counts.index
    out = pd.DataFrame(index=grid)
    out["demand"] = counts["value_0"] + counts["value_1"]
    out["casual"] = counts["value_0"]
    out["registered"] = counts["value_1"]
    out["missing"] = counts["missing"]
    out["hour"] = grid.hour
    out["weekday"] = grid.day_of_week
    out["month"] = grid.month
    per_day = other[["value_4", "value_5", "value_6"]].groupby(grid.date).transform("first")
    file_weekday = per_day["value_6"].to_numpy()  # the file counts 0 = Sunday
    if not np.array_equal(file_weekday, (grid.day_of_week.to_numpy() + 1) % 7):
        raise ValueError(f"{path}: the weekday column disagrees with the calendar dates of 2011")
    out["holiday"] = per_day["value_4"].astype(int)
    out["workingday"] = per_day["value_5"].astype(int)
    weather_cols = other[["value_7", "value_0", "value_1", "value_2", "value_3"]].ffill().bfill()
    out["weather"] = weather_cols["value_7"].astype(int)
    for j, name in enumerate(("temp", "atemp", "hum", "windspeed")):
        out[name] = weather_cols[f"value_{j}"]
    return out
