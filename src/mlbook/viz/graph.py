"""Computation graphs of :class:`mlbook.autograd.Value`: the DAG that ``backward`` walks, drawn with
Matplotlib alone (no Graphviz).

Layout: a node's column is its depth, the length of the longest path from a leaf to it, so every
edge points to the right and the output sits alone in the last column. Within a column, nodes are
ordered by the average height of their parents, which keeps most edges short and uncrossed. Each
node is a box showing its label, its data and its gradient; the operation that made it sits in a
small circle on its incoming edges.
"""

from __future__ import annotations

import math
from typing import Optional

from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from mlbook.autograd import Value, topological_order

__all__ = ["graph_layout", "plot_graph"]

_COLUMN_GAP = 3.2
_ROW_GAP = 1.25
_BOX_WIDTH = 1.9
_BOX_HEIGHT = 0.9
_OP_RADIUS = 0.3
_OP_OFFSET = 0.62  # from a box's left edge to the centre of its operation's circle
_LANE_GAP = 0.28  # between the horizontal lanes of edges that skip columns

_LEAF_COLOR = "#DCE9F5"
_INNER_COLOR = "#FFFFFF"
_ROOT_COLOR = "#FBE3C4"
_OP_COLOR = "#EFEFEF"
_EDGE_COLOR = "#555555"


def graph_layout(root: Value, sweeps: int = 4) -> dict[Value, tuple[float, float]]:
    """``{node: (x, y)}``: the centre of every node's box in :func:`plot_graph`'s coordinates.

    Columns: an operation's column is its depth, ``1 + max(column of its parents)``; a leaf sits in
    the column just before its first consumer, so that an input used late is not dragged across the
    whole drawing. Rows: each column is spread evenly around ``y = 0`` and reordered a few times by
    the mean height of each node's neighbours (parents, then consumers), the barycentre heuristic of
    layered graph drawing, which removes most edge crossings.
    """
    order = topological_order(root)
    consumers: dict[Value, list[Value]] = {node: [] for node in order}
    column: dict[Value, int] = {}
    for node in order:  # parents come first, so their columns are known
        column[node] = 1 + max((column[p] for p in node.parents), default=-1)
        for parent in node.parents:
            consumers[parent].append(node)
    for node in order:
        if not node.parents and consumers[node]:
            column[node] = min(column[c] for c in consumers[node]) - 1

    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(column[node], []).append(node)
    y: dict[Value, float] = {}

    def place(nodes: list[Value]) -> None:
        top = (len(nodes) - 1) * _ROW_GAP / 2
        for i, node in enumerate(nodes):
            y[node] = top - i * _ROW_GAP

    def mean_height(neighbours: list[Value], node: Value) -> float:
        return sum(y[n] for n in neighbours) / len(neighbours) if neighbours else y[node]

    for nodes in columns.values():
        place(nodes)
    for _ in range(sweeps):
        for c in sorted(columns):
            columns[c].sort(key=lambda n: -mean_height(list(n.parents) or consumers[n], n))
            place(columns[c])
        for c in sorted(columns, reverse=True):
            columns[c].sort(key=lambda n: -mean_height(consumers[n] or list(n.parents), n))
            place(columns[c])
        for c in sorted(columns):  # finish on a forward sweep: operations line up with their operands
            columns[c].sort(key=lambda n: -mean_height(list(n.parents) or consumers[n], n))
            place(columns[c])
    return {node: (column[node] * _COLUMN_GAP, y[node]) for node in order}


def _fmt(x: float, precision: int) -> str:
    return f"{x:.{precision}g}"


def plot_graph(root: Value, *, show_grad: bool = True, precision: int = 4, title: Optional[str] = None,
               max_nodes: int = 80, figsize: Optional[tuple[float, float]] = None) -> Figure:
    """Draw the computation graph that ends at ``root``, left (inputs) to right (output).

    Parameters
    ----------
    root : Value
        The output; every Value it depends on is drawn.
    show_grad : bool
        Print each node's ``.grad`` under its data (call ``root.backward()`` first to fill them in).
    precision : int
        Significant digits for data and gradients.
    max_nodes : int
        Refuse (``ValueError``) a graph with more nodes than this: beyond a few dozen boxes a drawing
        stops explaining anything.
    figsize : (width, height), optional
        Inches; by default grows with the number of columns and rows.

    Leaves are blue, the output orange, intermediate results white. Each operation is the small grey
    circle on the edges entering the node it produced.
    """
    if not isinstance(root, Value):
        raise TypeError(f"plot_graph needs a mlbook.autograd.Value, got {type(root).__name__}")
    positions = graph_layout(root)
    if len(positions) > max_nodes:
        raise ValueError(f"the graph has {len(positions)} nodes, more than max_nodes={max_nodes}; "
                         "draw a smaller expression or raise max_nodes")
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    n_columns = round(max(xs) / _COLUMN_GAP) + 1
    n_rows = round((max(ys) - min(ys)) / _ROW_GAP) + 1
    if figsize is None:
        figsize = (max(4.0, 2.3 * n_columns), max(2.0, 0.95 * n_rows + 0.8))
    fig = Figure(figsize=figsize)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.92 if title else 1.0))
    ax.set_axis_off()
    ax.set_aspect("equal")

    top, bottom = max(ys) + _BOX_HEIGHT / 2, min(ys) - _BOX_HEIGHT / 2
    lanes_above: list[float] = []
    lanes_below: list[float] = []
    for node, (x, y) in positions.items():
        color = _ROOT_COLOR if node is root else (_LEAF_COLOR if not node.parents else _INNER_COLOR)
        ax.add_patch(FancyBboxPatch((x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
                                    boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=color,
                                    edgecolor="#333333", linewidth=1.0, zorder=2))
        lines = [node.label] if node.label else []
        lines.append(f"data {_fmt(node.data, precision)}")
        if show_grad:
            lines.append(f"grad {_fmt(node.grad, precision)}")
        ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=8, family="monospace", zorder=3)

        if node.parents:
            op_x = x - _BOX_WIDTH / 2 - _OP_OFFSET
            ax.add_patch(Circle((op_x, y), _OP_RADIUS, facecolor=_OP_COLOR, edgecolor="#333333", linewidth=1.0,
                                zorder=2))
            ax.text(op_x, y, node.op, ha="center", va="center", fontsize=8 if len(node.op) <= 3 else 6,
                    fontweight="bold", zorder=3)
            ax.add_patch(FancyArrowPatch((op_x + _OP_RADIUS, y), (x - _BOX_WIDTH / 2, y), arrowstyle="-|>",
                                         mutation_scale=8, shrinkA=0, shrinkB=0, color=_EDGE_COLOR,
                                         linewidth=1.0, zorder=1))
            for k, parent in enumerate(node.parents):
                start_x, start_y = positions[parent][0] + _BOX_WIDTH / 2, positions[parent][1]
                length = math.hypot(op_x - start_x, y - start_y)
                end = (op_x - _OP_RADIUS * (op_x - start_x) / length, y - _OP_RADIUS * (y - start_y) / length)
                skips_columns = (op_x - start_x) > _COLUMN_GAP
                if node.parents.count(parent) > 1:  # x * x: two edges, bowed apart, as two gradients flow back
                    bend = 0.25 if node.parents.index(parent) == k else -0.25
                    path = None
                elif skips_columns:  # an edge that skips columns runs in its own lane above or below the boxes
                    above = start_y >= (top + bottom) / 2
                    lanes = lanes_above if above else lanes_below
                    lane = (top + _LANE_GAP * (len(lanes) + 1)) if above else (bottom - _LANE_GAP * (len(lanes) + 1))
                    lanes.append(lane)
                    path = Path([(start_x, start_y), (start_x + 0.4, lane), (start_x + 0.9, lane),
                                 (op_x - 0.7, lane), (op_x - 0.2, lane), end],
                                [Path.MOVETO, Path.CURVE3, Path.CURVE3, Path.LINETO, Path.CURVE3, Path.CURVE3])
                else:
                    bend, path = 0.0, None
                style = dict(arrowstyle="-|>", mutation_scale=8, shrinkA=0, shrinkB=0, color=_EDGE_COLOR,
                             linewidth=1.0, zorder=1)
                if path is None:
                    ax.add_patch(FancyArrowPatch((start_x, start_y), end, connectionstyle=f"arc3,rad={bend}", **style))
                else:
                    ax.add_patch(FancyArrowPatch(path=path, **style))

    margin = 0.3
    ax.set_xlim(min(xs) - _BOX_WIDTH / 2 - _OP_OFFSET - _OP_RADIUS - margin, max(xs) + _BOX_WIDTH / 2 + margin)
    ax.set_ylim(min([bottom, *lanes_below]) - margin, max([top, *lanes_above]) + margin)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
