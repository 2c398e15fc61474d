"""Figures for the Arrays chapter: where an array's elements live in memory, and what loops cost.

:func:`plot_memory_layout` draws small NumPy arrays twice: as the logical grid you index, and as the
flat buffer the grid is read from. A cell and the memory slot it is read from have the same colour,
so a transpose (same buffer, different colours on the grid), a stepped slice (slots that nothing
reads) and a broadcast or sliding window (slots read several times) can be seen at a glance.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, FancyArrowPatch, Rectangle

from mlbook.bench import Comparison
from mlbook.tensors import describe_layout, element_offset

__all__ = ["plot_memory_layout", "plot_timings"]

_UNREAD = "#e6e6e6"  # a memory slot that no element of the array reads


def _memory_map(a: np.ndarray, max_buffer: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Where each element of ``a`` lives: ``(offsets, buffer, first)``.

    ``offsets`` has ``a``'s shape and gives each element's position in ``buffer`` (in elements);
    ``buffer`` holds the values of the memory drawn, NaN where nothing is known; ``first`` is the index
    in the underlying allocation of ``buffer[0]`` (0 unless only a window of a large buffer is drawn).
    """
    root, obj = a, a
    while getattr(obj, "base", None) is not None:  # walk to the array that owns the memory
        obj = obj.base
        if isinstance(obj, np.ndarray):
            root = obj
    itemsize = a.itemsize
    gap = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if root.itemsize != itemsize or gap % itemsize:
        raise ValueError(f"cannot draw a view whose itemsize ({itemsize}) differs from its buffer's ({root.itemsize})")
    strides = describe_layout(a).strides_elements
    start = gap // itemsize
    offsets = np.array([start + element_offset(index, strides) for index in np.ndindex(a.shape)],
                       dtype=np.int64).reshape(a.shape)
    whole_root = (root.flags.c_contiguous or root.flags.f_contiguous) and root.size <= max_buffer
    if whole_root:
        return offsets, root.ravel(order="K").astype(float), 0
    lo, hi = int(offsets.min()), int(offsets.max())
    if hi - lo + 1 > max_buffer:
        raise ValueError(f"the array spans {hi - lo + 1} memory slots; at most {max_buffer} can be drawn")
    buffer = np.full(hi - lo + 1, np.nan)
    buffer[(offsets - lo).ravel()] = a.ravel()
    return offsets - lo, buffer, lo


def _label(value: float) -> str:
    if np.isnan(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def plot_memory_layout(*arrays: np.ndarray, titles: Sequence[str] | None = None,
                       highlight: Sequence[tuple[int, ...] | None] | None = None,
                       max_buffer: int = 32) -> Figure:
    """Draw each array's logical grid above the flat memory buffer it reads; one column per array.

    ``arrays``: 1-D or 2-D NumPy arrays of at most 48 elements (views welcome: a transpose, a slice,
    ``np.broadcast_to``, ``sliding_window_view``). The buffer is the whole allocation the arrays view
    when it has at most ``max_buffer`` slots, else the stretch of it the array reads.

    On the grid each cell shows its value and, in the corner, its memory offset in elements; the
    cells' colours are those of their memory slots below. When every element has its own slot a thin
    arrow visits the cells in memory order. ``highlight``: per array, an index (or None) whose cell is
    joined to its memory slot by an arrow labelled with the offset sum. ``titles``: one per array.
    """
    if not arrays:
        raise ValueError("plot_memory_layout needs at least one array")
    titles = list(titles) if titles is not None else [f"array {k}" for k in range(len(arrays))]
    highlight = list(highlight) if highlight is not None else [None] * len(arrays)
    if len(titles) != len(arrays) or len(highlight) != len(arrays):
        raise ValueError(f"got {len(arrays)} arrays but {len(titles)} titles and {len(highlight)} highlights")
    for a in arrays:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"plot_memory_layout draws NumPy arrays, got {type(a).__name__}")
        if a.ndim not in (1, 2) or not 0 < a.size <= 48:
            raise ValueError(f"plot_memory_layout draws non-empty 1-D or 2-D arrays of at most 48 elements, "
                             f"got shape {a.shape}")

    maps = [_memory_map(a, max_buffer) for a in arrays]
    cmap = colormaps["viridis"]
    fig = Figure(figsize=(4.8 * len(arrays), 5.0), layout="constrained")
    grid_spec = fig.add_gridspec(2, len(arrays), height_ratios=[3, 1])
    for column, (a, (offsets, buffer, first), title, index) in enumerate(zip(arrays, maps, titles, highlight)):
        grid = a.reshape(1, -1) if a.ndim == 1 else a
        offs = offsets.reshape(grid.shape)
        colour = lambda slot: cmap(0.1 + 0.85 * slot / max(len(buffer) - 1, 1))  # noqa: E731

        ax = fig.add_subplot(grid_spec[0, column])
        rows, cols = grid.shape
        for i in range(rows):
            for j in range(cols):
                face = colour(offs[i, j])
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", linewidth=2))
                ax.text(j + 0.5, i + 0.55, _label(grid[i, j]), ha="center", va="center", fontsize=12,
                        color=_text_colour(face))
                ax.text(j + 0.93, i + 0.1, f"@{offs[i, j] + first}", ha="right", va="top", fontsize=7,
                        color=_text_colour(face))
        if len(np.unique(offs)) == offs.size and offs.size > 1:
            order = np.argsort(offs, axis=None)
            # through the lower-left of each cell, so the path runs beside the numbers, not over them
            points = [(j + 0.22, i + 0.78) for i, j in zip(*np.unravel_index(order, offs.shape))]
            for start, end in zip(points[:-1], points[1:]):
                ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color="#d62728",
                                             linewidth=0.9, alpha=0.85, shrinkA=2, shrinkB=2))
        ax.set_xlim(0, cols)
        ax.set_ylim(rows, 0)
        ax.set_aspect("equal")
        ax.set_xticks(np.arange(cols) + 0.5, [str(j) for j in range(cols)])
        ax.set_yticks(np.arange(rows) + 0.5, [str(i) for i in range(rows)])
        ax.tick_params(length=0, labelsize=8)
        for spine in ax.spines.values():
            spine.set_visible(False)
        layout = describe_layout(a)
        flags = "+".join(name for name, on in (("C", layout.c_contiguous), ("F", layout.f_contiguous)) if on)
        ax.set_title(f"{title}\nshape {a.shape}, strides {layout.strides_elements} elements\n"
                     f"contiguous: {flags or 'no'}", fontsize=10)

        mem = fig.add_subplot(grid_spec[1, column])
        reads = np.bincount(offs.ravel(), minlength=len(buffer))
        for slot, value in enumerate(buffer):
            face = colour(slot) if reads[slot] else _UNREAD
            mem.add_patch(Rectangle((slot, 0), 1, 1, facecolor=face, edgecolor="white", linewidth=1.5,
                                    hatch=None if reads[slot] else "///"))
            mem.text(slot + 0.5, 0.5, _label(value), ha="center", va="center", fontsize=8,
                     color=_text_colour(face) if reads[slot] else "#888888")
            if reads[slot] > 1:
                mem.text(slot + 0.5, 1.08, f"x{reads[slot]}", ha="center", va="bottom", fontsize=7)
        mem.set_xlim(0, len(buffer))
        mem.set_ylim(0, 1.6)
        mem.set_aspect("equal")
        step = max(1, len(buffer) // 12)
        mem.set_xticks(np.arange(0, len(buffer), step) + 0.5,
                       [str(slot + first) for slot in range(0, len(buffer), step)])
        mem.set_yticks([])
        mem.tick_params(length=0, labelsize=7)
        for spine in mem.spines.values():
            spine.set_visible(False)
        mem.set_xlabel("memory buffer (offset in elements)", fontsize=9)

        if index is not None:
            index = tuple(index)
            cell = (0, *index) if a.ndim == 1 else index
            slot = int(offs[cell])
            terms = " + ".join(f"{i}·{s}" for i, s in zip(index, layout.strides_elements))
            origin = int(offs.flat[0]) + first  # where element (0, ..., 0) lives
            terms = f"{origin} + {terms}" if origin else terms
            ax.add_patch(Rectangle((cell[1], cell[0]), 1, 1, fill=False, edgecolor="black", linewidth=3))
            mem.add_patch(Rectangle((slot, 0), 1, 1, fill=False, edgecolor="black", linewidth=2.5))
            fig.add_artist(ConnectionPatch(xyA=(cell[1] + 0.75, cell[0] + 0.9), coordsA=ax.transData,
                                           xyB=(slot + 0.5, 1.0), coordsB=mem.transData, arrowstyle="-|>",
                                           mutation_scale=14, color="black", linewidth=1.4, alpha=0.75))
            mem.set_title(f"element {index} lives at offset {terms} = {slot + first}", fontsize=9)
    return fig


def _seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def plot_timings(comparison: Comparison, *, title: str | None = None) -> Figure:
    """Horizontal bars of each candidate's median seconds per call (log scale), fastest on top,
    each labelled with its time and how many times slower than the fastest it is."""
    rows = sorted(comparison.timings.values(), key=lambda t: t.median, reverse=True)
    fastest = rows[-1].median
    fig = Figure(figsize=(7.0, 0.6 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    medians = [t.median for t in rows]
    ax.barh([t.name for t in rows], medians, color=[colormaps["tab10"](k) for k in range(len(rows))][::-1])
    ax.set_xscale("log")
    for y, t in enumerate(rows):
        ratio = "fastest" if t.median == fastest else f"{t.median / fastest:,.3g}x slower"
        ax.text(t.median * 1.15, y, f"{_seconds(t.median)}  ({ratio})", va="center", fontsize=9)
    ax.set_xlim(min(medians) / 3, max(medians) * 30)
    ax.set_xlabel("median seconds per call (log scale)")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return fig
