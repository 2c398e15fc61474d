"""Figures for the Part II chapters on layers, inference and image recognition.

- :func:`plot_grid_transformation`: what a layer does to the plane, drawn as the image of a square grid.
- :func:`pca_2d`, :func:`plot_hidden_projection`: hidden activations projected to two dimensions.
- :func:`plot_weight_templates`: the rows of a weight matrix drawn as images.
- :func:`plot_confusion_matrix`, :func:`plot_latency_throughput`.

Every function builds a :class:`~matplotlib.figure.Figure` without pyplot and returns it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mlbook.viz.decision import CLASS_COLORS

__all__ = [
    "pca_2d",
    "plot_confusion_matrix",
    "plot_grid_transformation",
    "plot_hidden_projection",
    "plot_latency_throughput",
    "plot_weight_templates",
]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")


def _new_axes(ax: Optional[Axes], figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_grid_transformation(
    maps: Sequence[tuple[str, Callable[[np.ndarray], np.ndarray]]],
    *,
    extent: float = 1.0,
    n_lines: int = 9,
    points: Optional[np.ndarray] = None,
    labels: Optional[np.ndarray] = None,
    limits: Optional[float] = None,
    panel_size: float = 3.0,
) -> Figure:
    """One panel per ``(title, f)``: the square grid ``[-extent, extent]^2`` mapped through ``f``.

    ``f`` maps points of shape ``(n, 2)`` to ``(n, 2)``. Horizontal grid lines are drawn blue, vertical
    ones red, and the images of the unit vectors ``e1``, ``e2`` as arrows from the image of the origin,
    so a rotation, a shear, a shift and a fold are each visible. ``points`` (with optional integer
    ``labels``) are mapped and drawn too. All panels share the same axis limits (``limits``, or chosen to
    fit everything).
    """
    if not maps:
        raise ValueError("plot_grid_transformation needs at least one (title, map) pair")
    if n_lines < 2:
        raise ValueError(f"n_lines must be >= 2, got {n_lines}")
    ticks = np.linspace(-extent, extent, n_lines)
    dense = np.linspace(-extent, extent, 101)
    horizontal = [np.column_stack([dense, np.full_like(dense, t)]) for t in ticks]
    vertical = [np.column_stack([np.full_like(dense, t), dense]) for t in ticks]
    basis = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) * extent / 2
    if points is not None:
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2), got {points.shape}")
    mapped = []
    for title, f in maps:
        out = {}
        for key, lines in (("h", horizontal), ("v", vertical)):
            out[key] = [np.asarray(f(line), dtype=np.float64) for line in lines]
        out["basis"] = np.asarray(f(basis), dtype=np.float64)
        if points is not None:
            out["points"] = np.asarray(f(points), dtype=np.float64)
        for key in ("h", "v"):
            if any(line.shape != (dense.size, 2) for line in out[key]):
                raise ValueError(f"map {title!r} must send (n, 2) points to (n, 2) points")
        mapped.append((title, out))
    if limits is None:
        everything = np.vstack([np.vstack(o["h"] + o["v"]) for _, o in mapped])
        limits = float(np.max(np.abs(everything))) * 1.08
    fig = Figure(figsize=(panel_size * len(maps), panel_size + 0.3), layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, (title, out) in zip(axes, mapped):
        for line in out["h"]:
            ax.plot(line[:, 0], line[:, 1], color="#2C6DB2", lw=0.9, alpha=0.8)
        for line in out["v"]:
            ax.plot(line[:, 0], line[:, 1], color="#D1495B", lw=0.9, alpha=0.8)
        origin, e1, e2 = out["basis"]
        for tip, color in ((e1, "#1B3F6B"), (e2, "#7D1D2A")):
            ax.annotate("", xy=tip, xytext=origin, arrowprops=dict(arrowstyle="-|>", color=color, lw=2))
        if points is not None:
            cls = np.zeros(len(points), dtype=int) if labels is None else np.asarray(labels, dtype=int)
            for c in np.unique(cls):
                sel = cls == c
                ax.scatter(out["points"][sel, 0], out["points"][sel, 1], s=14, zorder=3,
                           c=CLASS_COLORS[c % len(CLASS_COLORS)], edgecolors="k", linewidths=0.4)
        ax.axhline(0, color="0.6", lw=0.6, zorder=0)
        ax.axvline(0, color="0.6", lw=0.6, zorder=0)
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize="medium")
        ax.tick_params(labelsize="small")
    return fig


def pca_2d(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of ``H`` (``(n, d)``) onto their top two principal components.

    Returns ``(coords, explained)``: ``coords`` of shape ``(n, 2)`` and the fraction of the variance each
    of the two components explains. The sign of each component is fixed (largest loading positive) so
    the picture does not flip between runs.
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] < 2:
        raise ValueError(f"pca_2d needs at least two rows of features, got shape {H.shape}")
    centred = H - H.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    components = vt[:k]
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    components = components * signs[:, None]
    coords = centred @ components.T
    if k == 1:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    total = float(np.sum(s ** 2))
    explained = (s[:2] ** 2) / total if total > 0 else np.zeros(2)
    return coords, np.pad(explained, (0, 2 - explained.size))


def plot_hidden_projection(H: np.ndarray, y: np.ndarray, *, ax: Optional[Axes] = None, title: str = "",
                           class_names: Optional[Sequence[str]] = None,
                           figsize: tuple[float, float] = (4.2, 3.8)) -> Figure:
    """Scatter the examples' hidden activations ``H`` (``(n, d)``) in 2-D, coloured by class ``y``.

    Two columns are drawn as they are; more are projected with :func:`pca_2d` and the axes say how much
    variance each component keeps.
    """
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if H.ndim != 2 or y.shape != (H.shape[0],):
        raise ValueError(f"H must be (n, d) and y (n,); got {H.shape} and {y.shape}")
    if H.shape[1] == 2:
        coords, xlabel, ylabel = H, "$h_1$", "$h_2$"
    else:
        coords, explained = pca_2d(H)
        xlabel, ylabel = (f"PC{i + 1} ({100 * explained[i]:.0f}% of variance)" for i in range(2))
    fig, ax = _new_axes(ax, figsize)
    for c in np.unique(y):
        name = class_names[c] if class_names is not None else f"y = {c}"
        ax.scatter(coords[y == c, 0], coords[y == c, 1], s=18, c=CLASS_COLORS[c % len(CLASS_COLORS)],
                   marker=_MARKERS[c % len(_MARKERS)], edgecolors="k", linewidths=0.4, label=name, alpha=0.85)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="best")
    return fig


def plot_weight_templates(W: np.ndarray, image_shape: tuple[int, int], *,
                          titles: Optional[Sequence[str]] = None, ncols: int = 5,
                          panel_size: float = 1.4) -> Figure:
    """Draw each row of ``W`` (``(n_templates, H*W)``) as an image of ``image_shape``.

    A diverging colour map centred on 0 per template: red pixels push the score up, blue ones push it
    down, white ones do not matter.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != int(np.prod(image_shape)):
        raise ValueError(f"W must have shape (n_templates, {int(np.prod(image_shape))}) for images of shape "
                         f"{tuple(image_shape)}, got {W.shape}")
    n = W.shape[0]
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows + 0.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        limit = float(np.max(np.abs(W[i]))) or 1.0
        ax.imshow(W[i].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(titles[i] if titles is not None else str(i), fontsize="small")
    return fig


def plot_confusion_matrix(cm: np.ndarray, *, class_names: Optional[Sequence[str]] = None,
                          ax: Optional[Axes] = None, title: str = "",
                          figsize: tuple[float, float] = (4.8, 4.2)) -> Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted) with every count written in its cell.

    The colour is the row-normalised rate, so a rare class's errors are as visible as a common one's.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    k = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}x{k} matrix")
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = _new_axes(ax, figsize)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize="small",
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title, fontsize="medium")
    fig.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    return fig



def plot_latency_throughput(batch_sizes: Sequence[int], seconds: Sequence[float], *,
                            label: str = "", figsize: tuple[float, float] = (8.0, 3.2)) -> Figure:
    """Latency (time per call) and throughput (examples per second) against batch size, log-log."""
    b = np.asarray(batch_sizes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if b.shape != t.shape or b.ndim != 1 or b.size == 0:
        raise ValueError(f"batch_sizes and seconds must be 1-D of the same length, got {b.shape} and {t.shape}")
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2)
    left.loglog(b, t * 1e6, "o-", color=CLASS_COLORS[0], lw=2)
    left.set_ylabel("latency per call (µs)")
    right.loglog(b, b / t, "s-", color=CLASS_COLORS[1], lw=2)
    right.set_ylabel("throughput (examples / s)")
    for ax in (left, right):
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3, which="both")
        if label:
            ax.set_title(label, fontsize="medium")
    return fig
