"""Named curves on one axis: loss curves, learning curves, throughput against batch size, ...

The one line-plot helper every chapter shares, so that a loss curve looks the same in every chapter.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_curves"]


def plot_curves(curves: Mapping[str, Any], *, xlabel: str = "step", ylabel: str = "value",
                x: Optional[Any] = None, start: int = 0, logx: bool = False, logy: bool = False,
                title: Optional[str] = None, reference: Optional[float] = None,
                reference_label: str = "reference", styles: Optional[Mapping[str, str]] = None,
                ax: Optional[Axes] = None, figsize: tuple[float, float] = (6.4, 3.6)) -> Figure:
    """Plot several named curves on one axis and return the figure.

    ``curves`` maps a label to ``y`` (a 1-D sequence) or to a pair ``(x, y)``. A bare ``y`` is plotted
    against the shared ``x`` when given, otherwise against ``start, start + 1, ...`` (``start=1`` for
    epochs). ``styles`` maps a label to a Matplotlib format string (``"o-"``, ``"--"``); ``reference``
    draws a dashed horizontal line. With ``ax`` the curves go into an existing panel.
    """
    if not curves:
        raise ValueError("plot_curves needs at least one curve")
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for label, curve in curves.items():
        if isinstance(curve, tuple) and len(curve) == 2:
            xs, ys = np.asarray(curve[0], dtype=float), np.asarray(curve[1], dtype=float)
        else:
            ys = np.asarray(curve, dtype=float)
            xs = np.asarray(x, dtype=float) if x is not None else np.arange(start, start + ys.size, dtype=float)
        if ys.ndim != 1:
            raise ValueError(f"curve {label!r} must be 1-D, got shape {ys.shape}")
        if xs.shape != ys.shape:
            raise ValueError(f"curve {label!r} has {ys.size} values for {xs.size} x positions")
        ax.plot(xs, ys, (styles or {}).get(label, "-"), label=label, lw=1.6)
    if reference is not None:
        ax.axhline(reference, color="black", ls="--", lw=1, label=reference_label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig
