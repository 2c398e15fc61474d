"""Decision boundaries of a classifier in the plane: which region it assigns to which class, and where
the data fall. Used from the Neurons chapter on, for any model that maps 2-D points to scores.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

__all__ = ["CLASS_COLORS", "PROBABILITY_LEVELS", "plot_decision_boundary"]

CLASS_COLORS: tuple[str, ...] = ("#2C6DB2", "#D1495B", "#3A9E5F", "#E8A33D", "#7B5EA7", "#5A5A5A")
"""Colours of classes 0, 1, 2, ...: class 0 blue and class 1 red, like the low and high ends of the
probability shading."""
_MARKERS = ("o", "s", "^", "D", "v", "P")
PROBABILITY_LEVELS: np.ndarray = np.concatenate([[0.0], np.linspace(0.05, 0.95, 10), [1.0]])
"""Edges of the probability bands: 11 bands, the middle one, [0.45, 0.55], white and centred on 1/2,
so that a model answering 1/2 plus or minus rounding is drawn as one flat band."""
_FLAT = 1e-9


def _grid(X: np.ndarray, resolution: int, padding: float) -> tuple[np.ndarray, np.ndarray]:
    lo = X.min(axis=0) - padding
    hi = X.max(axis=0) + padding
    span = np.where(hi > lo, 0.0, 0.5)  # a degenerate axis (all points equal, no padding) still gets a width
    xs = np.linspace(lo[0] - span[0], hi[0] + span[0], resolution)
    ys = np.linspace(lo[1] - span[1], hi[1] + span[1], resolution)
    return np.meshgrid(xs, ys)


def plot_decision_boundary(
    model: Callable[[np.ndarray], Any],
    X: ArrayLike,
    y: ArrayLike,
    *,
    ax: Optional[Axes] = None,
    resolution: int = 200,
    padding: float = 0.5,
    threshold: float = 0.5,
    show_probability: bool = True,
    title: Optional[str] = None,
    class_names: Optional[Sequence[str]] = None,
    colorbar: Optional[bool] = None,
    legend: bool = True,
    figsize: tuple[float, float] = (5.2, 4.2),
) -> Figure:
    """Shade the plane by a classifier's output, draw its decision boundary, and plot the labelled data.

    Parameters
    ----------
    model : callable
        Maps points of shape ``(n, 2)`` to one of:

        - ``(n,)`` (or ``(n, 1)``) probabilities of class 1, e.g. a sigmoid :class:`~mlbook.nn.Neuron`:
          shaded from 0 to 1 when ``show_probability``, with the boundary at ``threshold``;
        - ``(n,)`` labels 0/1 or any scores (logits: pass ``threshold=0``): two flat regions,
          ``score >= threshold`` and the rest, and the boundary between them;
        - ``(n, k)`` class scores with ``k >= 2`` (e.g. softmax outputs): each point's ``argmax``.

        No boundary is drawn where the output does not cross ``threshold`` in the window, or varies
        by less than 1e-9 across it (a constant model, up to rounding).
    X : array-like, shape ``(n_samples, 2)``
        The data, drawn as points; it also sets the plotted window (its range plus ``padding``).
    y : array-like, shape ``(n_samples,)``
        Integer class labels 0, 1, ... (colours and markers by class, named in the legend).
    ax : matplotlib Axes, optional
        Draw into this Axes (e.g. one panel of ``fig.subplots(1, 4)``) instead of a new figure.
    resolution : int
        Grid points per axis at which ``model`` is evaluated (``resolution**2`` points in one call).
    colorbar : bool, optional
        Add a colour bar for the probability shading. Default: only when drawing a new figure.

    Returns
    -------
    Figure
        The figure holding the plot (``ax.figure`` when ``ax`` was given).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n_samples, 2): a decision boundary is drawn in the plane; got shape {X.shape}")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X of shape {X.shape}, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.bool_):
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"y must hold integer class labels, got values such as {y[np.mod(y, 1) != 0][:3]}")
    y = y.astype(np.int64)
    if not callable(model):
        hint = " (for a scikit-learn estimator pass model.predict_proba)" if hasattr(model, "predict_proba") else ""
        raise TypeError(f"model must be a callable mapping (n, 2) points to scores, got {type(model).__name__}{hint}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    if not padding >= 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")

    xx, yy = _grid(X, int(resolution), float(padding))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    scores = np.asarray(model(points), dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape[0:1] != (points.shape[0],) or scores.ndim not in (1, 2):
        raise ValueError(
            f"model must map points of shape {points.shape} to scores of shape ({points.shape[0]},) "
            f"or ({points.shape[0]}, k); got shape {scores.shape}"
        )

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
        colorbar = True if colorbar is None else colorbar
    else:
        fig = ax.figure
        colorbar = bool(colorbar)

    classes = np.unique(y)
    n_colors = max(int(classes.max()) + 1 if classes.size else 0, scores.shape[1] if scores.ndim == 2 else 2)
    colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(n_colors)]
    light = [to_rgba(c, 0.28) for c in colors]
    handles: list[Any] = []

    if scores.ndim == 2:  # k class scores: regions by argmax, boundaries where the winner changes
        winner = np.argmax(scores, axis=1).reshape(xx.shape)
        k = scores.shape[1]
        ax.contourf(xx, yy, winner, levels=np.arange(k + 1) - 0.5, colors=light[:k])
        if np.unique(winner).size > 1:
            ax.contour(xx, yy, winner, levels=np.arange(k - 1) + 0.5, colors="k", linewidths=1.5)
            handles.append(Line2D([], [], color="k", lw=1.5, label="decision boundary"))
    else:
        grid_scores = scores.reshape(xx.shape)
        is_labels = bool(np.all(np.isin(scores, (0.0, 1.0))))
        is_probability = show_probability and not is_labels and scores.min() >= 0 and scores.max() <= 1
        region = (grid_scores >= threshold).astype(np.float64)
        if is_probability:
            shading = ax.contourf(
                xx, yy, grid_scores, levels=PROBABILITY_LEVELS,
                cmap=_probability_cmap(colors[0], colors[1]), alpha=0.85,
            )
            if colorbar:
                fig.colorbar(shading, ax=ax, label="P(y = 1)", ticks=np.linspace(0, 1, 6))
        else:
            ax.contourf(xx, yy, region, levels=[-0.5, 0.5, 1.5], colors=light[:2])
        # Smooth scores: contour them at the threshold. 0/1 labels: contour the region's edge instead.
        # An output that varies by less than _FLAT over the window is constant up to rounding, and the
        # contour of rounding noise is not a boundary.
        field, level = (region, 0.5) if is_labels else (grid_scores, threshold)
        if field.min() < level < field.max() and np.ptp(field) > _FLAT:
            ax.contour(xx, yy, field, levels=[level], colors="k", linewidths=2)
            label = f"boundary (P = {threshold:g})" if is_probability else "decision boundary"
            handles.append(Line2D([], [], color="k", lw=2, label=label))

    for c in classes:
        name = class_names[c] if class_names is not None and c < len(class_names) else f"y = {c}"
        handles.append(
            ax.scatter(
                X[y == c, 0], X[y == c, 1], s=70, c=colors[c % len(colors)], marker=_MARKERS[c % len(_MARKERS)],
                edgecolors="k", linewidths=1.0, zorder=3, label=name,
            )
        )
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.9)
    return fig


def _probability_cmap(low: str, high: str) -> ListedColormap:
    """Class 0's colour at P = 0, white at 0.5, class 1's colour at P = 1 (10 bands, as contourf draws them)."""
    white = np.array([1.0, 1.0, 1.0, 1.0])
    lo, hi = np.array(to_rgba(low)), np.array(to_rgba(high))
    t = np.linspace(0, 1, 256)[:, None]
    ramp = np.where(t < 0.5, lo + (white - lo) * (t / 0.5), white + (hi - white) * ((t - 0.5) / 0.5))
    return ListedColormap(ramp, name="mlbook_probability")
