"""Figures for the Broadcasting chapter: how two small shapes combine, and what it costs in memory.

:func:`plot_broadcast` draws two operands on the grid of their broadcast result: the cells each
operand really holds in a strong colour, the copies broadcasting pretends to make (and never does)
in a faded, dashed version of the same colour, and the result they add up to.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from mlbook.tensors import broadcast_shape

__all__ = ["plot_broadcast", "plot_peak_memory"]

_MAX_SIDE = 8  # cells per side beyond which the numbers no longer fit


def _as_2d(shape: tuple[int, ...]) -> tuple[int, int]:
    """Right-align a shape of at most two axes against two axes, padding with 1s on the left."""
    return (1,) * (2 - len(shape)) + shape  # type: ignore[return-value]


def _draw_operand(ax, values: np.ndarray, canvas: tuple[int, int], colour, name: str, shape) -> None:
    """One operand (values already 2-D) on the result's canvas: real cells solid, stretched copies faded."""
    rows, cols = canvas
    own_rows, own_cols = values.shape
    for i in range(rows):
        for j in range(cols):
            real = i < own_rows and j < own_cols
            value = values[i if own_rows > 1 else 0, j if own_cols > 1 else 0]
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=colour, alpha=0.9 if real else 0.25,
                                   edgecolor="black" if real else "grey", linewidth=1.2 if real else 0.8,
                                   linestyle="-" if real else "--"))
            ax.text(j + 0.5, i + 0.5, f"{value:g}", ha="center", va="center", fontsize=11,
                    color="white" if real else "#555555", fontweight="bold" if real else "normal")
    # arrows along the axes a size-1 operand is stretched over
    if own_cols == 1 and cols > 1:
        for i in range(own_rows):
            ax.add_patch(FancyArrowPatch((0.85, i + 0.82), (cols - 0.15, i + 0.82), arrowstyle="-|>",
                                         mutation_scale=10, color="#333333", linewidth=1))
    if own_rows == 1 and rows > 1:
        for j in range(own_cols):
            ax.add_patch(FancyArrowPatch((j + 0.82, 0.85), (j + 0.82, rows - 0.15), arrowstyle="-|>",
                                         mutation_scale=10, color="#333333", linewidth=1))
    if (own_rows, own_cols) != tuple(canvas):
        how = f"stretched to {tuple(canvas)}"
    elif len(shape) < 2:
        how = f"read as {tuple(canvas)}"
    else:
        how = "used as is"
    _frame(ax, canvas, f"{name}: shape {tuple(shape)}\n{how}")


def _frame(ax, canvas: tuple[int, int], title: str) -> None:
    rows, cols = canvas
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def plot_broadcast(shape_a: Sequence[int], shape_b: Sequence[int], *, names: tuple[str, str] = ("A", "B")) -> Figure:
    """Draw ``A + B`` for arrays of ``shape_a`` and ``shape_b`` (0-, 1- or 2-D, at most 8 per side).

    Three panels on the result's grid: ``A`` and ``B`` with their stored cells solid and their
    broadcast (virtual) copies faded and dashed, arrows along the stretched axes, and the sum. The
    operands hold small integers (``A = 10 * arange``, ``B = arange``) so every sum can be checked by
    eye. Under the panels, the shapes right-aligned as the rule aligns them.

    Raises the ``ValueError`` of :func:`mlbook.tensors.broadcast_shape` for incompatible shapes, and a
    ``ValueError`` for shapes of more than two axes, empty shapes or shapes too large to label.
    """
    result = broadcast_shape(shape_a, shape_b)
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    for shape in (shape_a, shape_b):
        if len(shape) > 2:
            raise ValueError(f"plot_broadcast draws shapes of at most 2 axes, got {shape} with {len(shape)}; "
                             f"draw its last two axes, e.g. {shape[-2:]}")
    canvas = _as_2d(result)
    if 0 in canvas or max(canvas) > _MAX_SIDE:
        raise ValueError(f"plot_broadcast draws results with 1 to {_MAX_SIDE} cells per side, "
                         f"got {result} from {shape_a} and {shape_b}")
    a = 10 * np.arange(int(np.prod(shape_a)), dtype=np.int64).reshape(_as_2d(shape_a))
    b = np.arange(int(np.prod(shape_b)), dtype=np.int64).reshape(_as_2d(shape_b))
    total = a + b

    colours = colormaps["tab10"]
    fig = Figure(figsize=(10.0, 1.9 + 0.55 * canvas[0]), layout="constrained")
    spec = fig.add_gridspec(2, 5, width_ratios=[canvas[1], 0.5, canvas[1], 0.5, canvas[1]],
                            height_ratios=[canvas[0] + 1.2, 1.0])
    _draw_operand(fig.add_subplot(spec[0, 0]), a, canvas, colours(0), names[0], shape_a)
    _draw_operand(fig.add_subplot(spec[0, 2]), b, canvas, colours(1), names[1], shape_b)
    for column, symbol in ((1, "+"), (3, "=")):
        sign = fig.add_subplot(spec[0, column])
        sign.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=22)
        sign.axis("off")
    ax = fig.add_subplot(spec[0, 4])
    for i in range(canvas[0]):
        for j in range(canvas[1]):
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=colours(2), alpha=0.9, edgecolor="black"))
            ax.text(j + 0.5, i + 0.5, f"{total[i, j]:g}", ha="center", va="center", fontsize=11, color="white",
                    fontweight="bold")
    _frame(ax, canvas, f"{names[0]} + {names[1]}: shape {result}")

    # the rule, as a right-aligned table of sizes; '·' marks an axis a shape does not have
    width = max(len(result), 1)
    def row(label: str, shape: tuple[int, ...]) -> str:
        cells = ["·"] * (width - len(shape)) + [str(s) for s in shape]
        return f"{label:>8}  " + " ".join(f"{c:>3}" for c in cells)
    table = "\n".join([row(names[0], shape_a), row(names[1], shape_b), row("result", result)])
    text = fig.add_subplot(spec[1, :])
    text.axis("off")
    text.text(0.5, 0.5, "sizes aligned on the right:\n" + table, ha="center", va="center", family="monospace",
              fontsize=10, multialignment="left")
    return fig


def plot_peak_memory(sizes: Sequence[int], peaks: Mapping[str, Sequence[float]], *,
                     xlabel: str = "M (rows of A)", title: str | None = None) -> Figure:
    """Peak bytes allocated by each method against a problem size, on log-log axes (in MiB).

    ``peaks`` maps a method's name to one peak (bytes) per entry of ``sizes``. On log-log axes a
    method whose memory grows like ``size**k`` is a straight line of slope ``k``.
    """
    for name, values in peaks.items():
        if len(values) != len(sizes):
            raise ValueError(f"{name!r} has {len(values)} peaks for {len(sizes)} sizes")
    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    markers = "osD^v<>"
    for k, (name, values) in enumerate(peaks.items()):
        ax.plot(sizes, np.asarray(values, dtype=float) / 2**20, marker=markers[k % len(markers)], label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(sizes), [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("peak memory allocated (MiB)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return fig
