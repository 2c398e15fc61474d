"""Figures for the Convolution chapter: a kernel sliding over an image, the im2col matrix, filters and
feature maps, and a timing bar chart. Every function builds a Figure without pyplot and returns it.

Import as ``from mlbook.viz.conv import ...``.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["plot_convolution_step", "plot_im2col", "plot_filters", "plot_feature_maps", "plot_timings"]


def _grid(ax, values: np.ndarray, cmap: str = "Greys", fmt: str = "{:g}", vmin=None, vmax=None,
          annotate: bool = True) -> None:
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        lo, hi = (np.min(values), np.max(values)) if values.size else (0, 1)
        mid = (lo + hi) / 2
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if (cmap == "Greys" and v > mid) else "black")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_convolution_step(image: np.ndarray, kernel: np.ndarray, position: tuple[int, int] = (1, 1)) -> Figure:
    """Input (with the window at output ``position`` outlined), kernel, and the full output (that cell outlined).

    ``image`` is (H, W) and ``kernel`` (kH, kW); stride 1, no padding. The output cell equals the sum of
    the outlined window times the kernel, which the title spells out.
    """
    from mlbook.kernels.conv import conv2d

    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    out = conv2d(image[None, None], kernel[None, None])[0, 0]
    i, j = position
    kh, kw = kernel.shape
    window = image[i:i + kh, j:j + kw]
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 3, gridspec_kw=dict(width_ratios=[image.shape[1], kw + 2, out.shape[1]]))
    _grid(axes[0], image)
    axes[0].add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, edgecolor="tab:red", linewidth=3))
    axes[0].set_title(f"input {image.shape[0]}x{image.shape[1]}")
    _grid(axes[1], kernel, cmap="coolwarm", vmin=-np.abs(kernel).max(), vmax=np.abs(kernel).max())
    axes[1].set_title(f"kernel {kh}x{kw}")
    _grid(axes[2], out, cmap="coolwarm", vmin=-np.abs(out).max(), vmax=np.abs(out).max())
    axes[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=3))
    axes[2].set_title(f"output {out.shape[0]}x{out.shape[1]}\ny[{i},{j}] = sum(window * kernel) = {np.sum(window * kernel):g}")
    return fig


def plot_im2col(height: int = 4, width: int = 4, kernel: int = 3) -> Figure:
    """A single-channel ``height x width`` image whose pixels are numbered, and its im2col matrix.

    Column ``l`` of the matrix is the receptive field of output position ``l`` (row-major), read out
    row by row; numbers that repeat across columns are the duplication im2col pays for.
    """
    from mlbook.kernels.conv import conv_geometry, im2col

    image = np.arange(height * width, dtype=float).reshape(height, width)
    g = conv_geometry((1, 1, height, width), (1, 1, kernel, kernel))
    cols = im2col(image[None, None], g)[0]
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[width, cols.shape[1] * 1.2]))
    colors = ["black", "crimson"]
    _grid(axes[0], image, cmap="tab20", fmt="{:.0f}", vmin=0, vmax=19)
    for l in range(min(2, cols.shape[1])):
        r, c = divmod(l, g.out_width)
        axes[0].add_patch(Rectangle((c - 0.5 + 0.06 * l, r - 0.5 + 0.06 * l), kernel, kernel, fill=False,
                                    edgecolor=colors[l], linewidth=2.5))
    axes[0].set_title(f"input {height}x{width}, pixels numbered")
    _grid(axes[1], cols, cmap="tab20", fmt="{:.0f}", vmin=0, vmax=19)
    for l in range(min(2, cols.shape[1])):
        axes[1].add_patch(Rectangle((l - 0.5, -0.5), 1, cols.shape[0], fill=False, edgecolor=colors[l], linewidth=2.5))
    axes[1].set_title(f"im2col: {cols.shape[0]} x {cols.shape[1]} (one column per output position)")
    axes[1].set_ylabel("kernel tap (u, v)")
    axes[1].set_xlabel("output position")
    return fig


def plot_filters(weights: np.ndarray, ncols: int = 8, title: Optional[str] = None) -> Figure:
    """Each filter's first input channel as a small image, blue negative, red positive: (O, C, kH, kW) in."""
    weights = np.asarray(weights)
    o = weights.shape[0]
    nrows = -(-o // ncols)
    fig = Figure(figsize=(1.3 * min(o, ncols), 1.4 * nrows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, min(o, ncols))).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < o:
            f = weights[k, 0]
            limit = np.abs(f).max() or 1.0
            ax.imshow(f, cmap="coolwarm", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {k}", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_feature_maps(image: np.ndarray, maps: np.ndarray, ncols: int = 8, title: Optional[str] = None) -> Figure:
    """An input image followed by its feature maps (C, H, W), one panel each."""
    maps = np.asarray(maps)
    n = maps.shape[0] + 1
    nrows = -(-n // ncols)
    fig = Figure(figsize=(1.3 * min(n, ncols), 1.4 * nrows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, min(n, ncols))).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k == 0:
            ax.imshow(np.asarray(image), cmap="Greys")
            ax.set_title("input", fontsize=8)
        elif k < n:
            ax.imshow(maps[k - 1], cmap="viridis")
            ax.set_title(f"map {k - 1}", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_timings(seconds: Mapping[str, float], title: str = "", reference: Optional[str] = None) -> Figure:
    """Horizontal bars of seconds per call (log scale), labelled with the speed relative to ``reference``."""
    names: Sequence[str] = list(seconds)
    values = np.array([seconds[n] for n in names])
    fig = Figure(figsize=(7, 0.5 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(names, values * 1e3, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per call (log scale)")
    ax.invert_yaxis()
    if reference is not None:
        for k, v in enumerate(values):
            ax.text(v * 1e3, k, f"  {seconds[reference] / v:.2g}x {reference}'s speed", va="center", fontsize=8)
    ax.set_title(title)
    return fig
