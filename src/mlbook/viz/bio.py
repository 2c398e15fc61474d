"""Figures for the Numba-patterns chapter: the Smith-Waterman matrix with its traceback, and GC content
along a sequence.

Import directly: ``from mlbook.viz.bio import plot_alignment_matrix`` (not re-exported by
``mlbook.viz``). Every function returns a :class:`matplotlib.figure.Figure` and never shows it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from mlbook.bio import Alignment, gc_content, gc_sliding

__all__ = ["plot_alignment_matrix", "plot_gc_profile"]


def plot_alignment_matrix(H: np.ndarray, alignment: Alignment, a: str, b: str, *, annotate: bool = True) -> Figure:
    """Heatmap of the DP matrix ``H`` (shape ``(len(a) + 1, len(b) + 1)``) with the traceback path drawn on it.

    Rows are positions of ``a``, columns positions of ``b``; the path is drawn in red and its last
    cell, the best one, is circled.
    """
    H = np.asarray(H)
    if H.shape != (len(a) + 1, len(b) + 1):
        raise ValueError(f"H has shape {H.shape}, expected (len(a) + 1, len(b) + 1) = {(len(a) + 1, len(b) + 1)}")
    fig = Figure(figsize=(0.42 * H.shape[1] + 2.2, 0.42 * H.shape[0] + 1.2), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(H, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="H[i, j]")
    if annotate:
        for (i, j), value in np.ndenumerate(H):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * max(H.max(), 1) else "black")
    if alignment.path:
        rows, cols = zip(*alignment.path)
        ax.plot(cols, rows, color="#C44E52", linewidth=2.5, marker="o", markersize=4)
        ax.plot([cols[-1]], [rows[-1]], marker="o", markersize=16, markerfacecolor="none", markeredgecolor="#C44E52",
                markeredgewidth=2)
    ax.set_xticks(range(H.shape[1]), ["-"] + list(b))
    ax.set_yticks(range(H.shape[0]), ["-"] + list(a))
    ax.xaxis.tick_top()
    ax.set_title(f"Smith-Waterman matrix, best local score {alignment.score}", fontsize=10)
    return fig


def plot_gc_profile(seq: str, window: int, *, title: str = "GC content along the sequence") -> Figure:
    """GC content of every window of ``window`` bases against its centre position, with the overall GC."""
    values = gc_sliding(seq, window)
    if values.size == 0:
        raise ValueError(f"window {window} is longer than the sequence ({len(seq)} bases)")
    fig = Figure(figsize=(7.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    centres = np.arange(values.size) + (window - 1) / 2
    ax.plot(centres, values, color="#4C72B0", linewidth=1.2, label=f"window of {window}")
    overall = gc_content(seq)
    ax.axhline(overall, color="black", linestyle="--", linewidth=1, label=f"whole sequence {overall:.2f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, len(seq))
    ax.set_xlabel("position (window centre)")
    ax.set_ylabel("GC fraction")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return fig
