"""Figures for the Demand forecasting chapter: the series and its cycles, ACF/PACF, forecasts with
intervals, residual diagnostics, error by step ahead and feature importances.

Import as ``from mlbook.viz.forecast import ...`` (not re-exported by :mod:`mlbook.viz`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from mlbook.forecast.diagnostics import acf, pacf, white_noise_band

__all__ = ["plot_demand_overview", "plot_cycles", "plot_fills", "plot_acf_pacf", "plot_forecasts",
           "plot_residual_diagnostics", "plot_error_by_step", "plot_importances"]

_COLORS = ("#2C6DB2", "#D1495B", "#3A9E5F", "#E8A33D", "#7B5EA7", "#5A5A5A")


def plot_demand_overview(frame: pd.DataFrame, *, window: int = 24 * 7) -> Figure:
    """Hourly demand over the year with its past-``window`` rolling mean; missing hours marked."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax = fig.add_subplot()
    demand = frame["demand"]
    ax.plot(frame.index, demand, lw=0.3, color="0.6", label="hourly rentals")
    ax.plot(frame.index, demand.rolling(window, min_periods=window // 2).mean(), color=_COLORS[0], lw=2,
            label=f"rolling mean, past {window} h")
    if "missing" in frame and frame["missing"].any():
        gaps = frame.index[frame["missing"].to_numpy()]
        ax.plot(gaps, np.zeros(len(gaps)), "|", color=_COLORS[1], ms=10, label=f"missing hours ({len(gaps)})")
    ax.set_ylabel("rentals per hour")
    ax.legend(loc="upper left", frameon=False)
    ax.margins(x=0)
    return fig


def plot_cycles(frame: pd.DataFrame) -> Figure:
    """Left: mean demand by hour on working days, weekends and holidays. Right: by weekday and hour."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    kinds = {"working day": (frame["workingday"] == 1),
             "weekend": (frame["workingday"] == 0) & (frame["holiday"] == 0),
             "holiday": frame["holiday"] == 1}
    for (name, mask), color in zip(kinds.items(), _COLORS):
        profile = frame.loc[mask].groupby("hour")["demand"].mean()
        left.plot(profile.index, profile.to_numpy(), marker="o", ms=3, color=color, label=name)
    left.set_xlabel("hour of day")
    left.set_ylabel("mean rentals per hour")
    left.set_xticks(range(0, 24, 3))
    left.legend(frameon=False)
    grid = frame.pivot_table(index="weekday", columns="hour", values="demand", aggfunc="mean")
    image = right.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    right.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    right.set_xticks(range(0, 24, 3))
    right.set_xlabel("hour of day")
    fig.colorbar(image, ax=right, label="mean rentals")
    return fig


def plot_fills(fills: Mapping[str, pd.Series], start: str, end: str, missing: pd.Series) -> Figure:
    """The same stretch of demand under several fills of the missing hours (shaded)."""
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for (name, series), color in zip(fills.items(), _COLORS):
        part = series.loc[start:end]
        ax.plot(part.index, part.to_numpy(), color=color, lw=1.5, label=name, drawstyle="steps-mid")
    gaps = missing.loc[start:end]
    for t in gaps.index[gaps.to_numpy()]:
        ax.axvspan(t - pd.Timedelta("30min"), t + pd.Timedelta("30min"), color="0.85", lw=0)
    ax.set_ylabel("rentals per hour")
    ax.legend(frameon=False, title="fill of the missing hours (grey)")
    return fig


def plot_acf_pacf(x: ArrayLike, nlags: int, *, marks: Sequence[int] = ()) -> Figure:
    """ACF and PACF as stems with the 95% white-noise band; ``marks`` are lags to highlight."""
    x = np.asarray(x, dtype=float)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    band = white_noise_band(x.size)
    for ax, values, name in zip(axes, (acf(x, nlags), pacf(x, nlags)), ("ACF", "PACF")):
        lags = np.arange(1, nlags + 1)
        ax.vlines(lags, 0, values[1:], color=_COLORS[0], lw=1)
        ax.plot(lags, values[1:], "o", ms=2.5, color=_COLORS[0])
        ax.axhspan(-band, band, color=_COLORS[0], alpha=0.15, lw=0)
        ax.axhline(0, color="0.3", lw=0.6)
        for lag in marks:
            ax.axvline(lag, color=_COLORS[1], lw=0.8, ls=":")
        ax.set_ylabel(name)
    axes[1].set_xlabel("lag (hours)")
    return fig


def plot_forecasts(index: pd.DatetimeIndex, actual: ArrayLike, forecasts: Mapping[str, ArrayLike], *,
                   interval: tuple[ArrayLike, ArrayLike] | None = None, interval_label: str = "95% interval",
                   history: pd.Series | None = None) -> Figure:
    """Actual demand against one or more forecasts over ``index``, with an optional shaded interval
    (around the first forecast) and an optional stretch of history before it."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax = fig.add_subplot()
    if history is not None:
        ax.plot(history.index, history.to_numpy(), color="0.55", lw=1, label="history")
    if interval is not None:
        ax.fill_between(index, interval[0], interval[1], color=_COLORS[0], alpha=0.2, lw=0, label=interval_label)
    ax.plot(index, np.asarray(actual, dtype=float), color="black", lw=1.4, label="actual")
    for (name, values), color in zip(forecasts.items(), _COLORS):
        ax.plot(index, np.asarray(values, dtype=float), color=color, lw=1.4, label=name)
    ax.set_ylabel("rentals per hour")
    ax.legend(frameon=False, ncols=min(4, len(forecasts) + 2), loc="upper left")
    return fig


def plot_residual_diagnostics(actual: ArrayLike, predicted: ArrayLike, *, nlags: int = 48) -> Figure:
    """Four panels: actual vs predicted, residuals against the prediction, their histogram, their ACF."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    resid = actual - predicted
    fig = Figure(figsize=(10, 6), layout="constrained")
    (a, b), (c, d) = fig.subplots(2, 2)
    top = max(actual.max(), predicted.max())
    a.scatter(predicted, actual, s=3, alpha=0.3, color=_COLORS[0])
    a.plot([0, top], [0, top], color=_COLORS[1], lw=1)
    a.set_xlabel("predicted")
    a.set_ylabel("actual")
    b.scatter(predicted, resid, s=3, alpha=0.3, color=_COLORS[0])
    b.axhline(0, color=_COLORS[1], lw=1)
    b.set_xlabel("predicted")
    b.set_ylabel("residual (actual - predicted)")
    c.hist(resid, bins=60, color=_COLORS[0])
    c.set_xlabel("residual")
    c.set_ylabel("hours")
    r = acf(resid, nlags)
    d.vlines(np.arange(1, nlags + 1), 0, r[1:], color=_COLORS[0])
    band = white_noise_band(resid.size)
    d.axhspan(-band, band, color=_COLORS[0], alpha=0.15, lw=0)
    d.axhline(0, color="0.3", lw=0.6)
    d.set_xlabel("lag (hours)")
    d.set_ylabel("residual ACF")
    return fig


def plot_error_by_step(errors: Mapping[str, ArrayLike]) -> Figure:
    """MAE at each step ahead (``(horizon,)`` per model) of a backtest."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for (name, values), color in zip(errors.items(), _COLORS):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(values.size), values, marker="o", ms=3, color=color, label=name)
    ax.set_xlabel("hour of the forecast day")
    ax.set_ylabel("MAE (rentals)")
    ax.legend(frameon=False, ncols=2)
    return fig


def plot_importances(names: Sequence[str], importances: ArrayLike, *, top: int = 12,
                     errors: ArrayLike | None = None) -> Figure:
    """Horizontal bars of the ``top`` largest importances (with optional error bars)."""
    importances = np.asarray(importances, dtype=float)
    order = np.argsort(importances)[::-1][:top][::-1]
    fig = Figure(figsize=(7, 0.3 * len(order) + 1), layout="constrained")
    ax = fig.add_subplot()
    xerr = None if errors is None else np.asarray(errors, dtype=float)[order]
    ax.barh([names[i] for i in order], importances[order], xerr=xerr, color=_COLORS[0])
    ax.set_xlabel("increase in MAE when the feature is shuffled")
    return fig
