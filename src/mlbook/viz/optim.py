"""Figures for the Optimizers chapter: optimizer paths over contour plots, curves, benchmark bars.

Import as ``from mlbook.viz.optim import ...``. Every function returns a
:class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

__all__ = ["plot_trajectories", "plot_benchmark"]


def _draw_paths(ax: Axes, f: Callable[[np.ndarray], np.ndarray], paths: Mapping[str, np.ndarray],
                xlim: tuple[float, float], ylim: tuple[float, float], title: str | None,
                minimum: Sequence[float] | None) -> None:
    xs, ys = np.linspace(*xlim, 200), np.linspace(*ylim, 200)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    values = f(grid)
    floor = max(float(values.min()), 1e-3 * float(values.max()) + 1e-12)
    levels = np.geomspace(floor, float(values.max()), 15)
    ax.contour(xs, ys, np.maximum(values, floor), levels=levels, norm=LogNorm(), cmap="Greys", linewidths=0.7)
    for name, path in paths.items():
        path = np.asarray(path)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path {name!r} must have shape (steps, 2), got {path.shape}")
        # Draw a path that blows up only until it is far outside the picture: the rest is noise.
        span = np.array([xlim[1] - xlim[0], ylim[1] - ylim[0]])
        centre = np.array([sum(xlim), sum(ylim)]) / 2
        inside = np.all(np.isfinite(path), axis=1) & np.all(np.abs(path - centre) <= 1.5 * span, axis=1)
        stop = len(path) if inside.all() else int(np.argmin(inside)) + 1
        shown = path[:stop][np.all(np.isfinite(path[:stop]), axis=1)]
        ax.plot(shown[:, 0], shown[:, 1], ".-" if len(shown) <= 150 else "-", ms=2.5, lw=1.1, label=name)
    if minimum is not None:
        ax.plot(*minimum, "*", color="black", ms=10, zorder=5)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$w_1$", ylabel="$w_2$")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")


def plot_trajectories(panels: Sequence[Mapping[str, Any]], ncols: int = 2, panel_size: float = 4.2) -> Figure:
    """One contour plot per panel, with optimizer paths drawn over it.

    Each panel is a mapping with ``f`` (a function of points ``(..., 2) -> (...)``), ``paths`` (name ->
    array ``(steps, 2)``; a run that blows up is drawn until it leaves the picture by a wide margin), ``xlim``, ``ylim`` and
    optionally ``title`` and ``minimum`` (a point to mark with a star).
    """
    if not panels:
        raise ValueError("plot_trajectories needs at least one panel")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(panel_size * ncols, panel_size * 0.85 * nrows), layout="constrained")
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        _draw_paths(ax, panel["f"], panel["paths"], panel["xlim"], panel["ylim"], panel.get("title"),
                    panel.get("minimum"))
    return fig



def plot_benchmark(seconds: Mapping[str, float], *, floor: float | None = None,
                   title: str | None = None) -> Figure:
    """Horizontal bars of time per step (milliseconds), fastest at the top, with the memory-bandwidth
    floor (the least time the step could take) as a dashed line."""
    if not seconds:
        raise ValueError("plot_benchmark needs at least one timing")
    names = sorted(seconds, key=seconds.get, reverse=True)
    ms = [1e3 * seconds[n] for n in names]
    fig = Figure(figsize=(6.4, 0.45 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(names, ms, color="tab:blue")
    for bar, value in zip(bars, ms):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.2f} ms", va="center", fontsize=8)
    if floor is not None:
        ax.axvline(1e3 * floor, color="tab:red", ls="--", label=f"bandwidth floor {1e3 * floor:.2f} ms")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("time per step (ms)")
    ax.set_xlim(0, max(ms) * 1.25)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
