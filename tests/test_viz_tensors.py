"""The Arrays and Broadcasting chapters' figures: they draw what the arrays say, and reject what they cannot draw."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mlbook.bench import Comparison, Timing
from mlbook.tensors import broadcast_shape
from mlbook.viz import plot_broadcast, plot_memory_layout
from mlbook.viz.broadcasting import plot_peak_memory
from mlbook.viz.layout import plot_timings


def rendered(fig: Figure) -> Figure:
    """Draw the figure once (to PNG in memory), so layout and connection patches are exercised too."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    return fig


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_memory_layout_labels_each_cell_with_its_offset():
    a = np.arange(12).reshape(3, 4)
    fig = rendered(plot_memory_layout(a, a.T, titles=["a", "a.T"], highlight=[(1, 2), (2, 1)]))
    grid_a, buffer_a, grid_t, buffer_t = fig.axes[0], fig.axes[1], fig.axes[2], fig.axes[3]
    offsets_a = [int(s[1:]) for s in texts(grid_a) if s.startswith("@")]
    offsets_t = [int(s[1:]) for s in texts(grid_t) if s.startswith("@")]
    assert offsets_a == list(range(12))  # row by row: C order
    assert offsets_t == [4 * j + i for i in range(4) for j in range(3)]  # a.T[i, j] is a[j, i]
    # both buffers are the same 12 values: a transpose moves nothing
    assert [s for s in texts(buffer_a) if s.isdigit()] == [s for s in texts(buffer_t) if s.isdigit()]
    assert "strides (4, 1)" in grid_a.get_title() and "strides (1, 4)" in grid_t.get_title()
    assert "offset 2·1 + 1·4 = 6" in buffer_t.get_title()


def test_memory_layout_marks_unread_and_shared_slots():
    a = np.arange(12).reshape(3, 4)
    fig = plot_memory_layout(a[:, ::2], np.broadcast_to(np.arange(4), (3, 4)), highlight=[(1, 1), None])
    step_buffer, broadcast_buffer = fig.axes[1], fig.axes[3]
    hatched = [p for p in step_buffer.patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert len(hatched) == 6  # every other slot of a's 12 is skipped by the step
    assert "1 + 1·2" not in step_buffer.get_title() and "offset 1·4 + 1·2 = 6" in step_buffer.get_title()
    assert texts(broadcast_buffer).count("x3") == 4  # stride 0: each slot is read by all three rows


def test_memory_layout_offset_of_a_sliced_view():
    a = np.arange(20).reshape(4, 5)
    fig = plot_memory_layout(a[1:, 2:], highlight=[(1, 1)])
    assert "7 + 1·5 + 1·1 = 13" in fig.axes[1].get_title()
    assert int(texts(fig.axes[0])[1][1:]) == 7  # element (0, 0) of the view is a[1, 2], slot 7


def test_memory_layout_sliding_windows():
    windows = np.lib.stride_tricks.sliding_window_view(np.arange(6.0), 3)
    fig = plot_memory_layout(windows)
    assert texts(fig.axes[1]).count("x3") == 2 and texts(fig.axes[1]).count("x2") == 2


@pytest.mark.parametrize("array, error, message", [
    (np.zeros((2, 2, 2)), ValueError, r"1-D or 2-D arrays of at most 48 elements, got shape \(2, 2, 2\)"),
    (np.zeros((7, 7)), ValueError, "at most 48 elements"),
    (np.zeros((0, 3)), ValueError, "non-empty"),
    ([[1, 2]], TypeError, "draws NumPy arrays, got list"),
    (np.arange(100)[::40], ValueError, "spans 81 memory slots; at most 32"),
])
def test_memory_layout_rejects_what_it_cannot_draw(array, error, message):
    with pytest.raises(error, match=message):
        plot_memory_layout(array)


def test_memory_layout_argument_counts():
    with pytest.raises(ValueError, match="at least one array"):
        plot_memory_layout()
    with pytest.raises(ValueError, match="got 1 arrays but 2 titles"):
        plot_memory_layout(np.zeros(3), titles=["a", "b"])


def test_broadcast_figure_draws_operands_and_sum():
    fig = rendered(plot_broadcast((3, 1), (1, 4)))
    panels = [ax for ax in fig.axes if ax.patches]
    assert len(panels) == 3
    a_panel, b_panel, result_panel = panels
    expected = (10 * np.arange(3)[:, None] + np.arange(4)).ravel()
    assert texts(result_panel) == [str(v) for v in expected]
    assert "(3, 4)" in result_panel.get_title()
    # A stores 3 cells, B stores 4; the rest are faded, dashed virtual copies
    solid = lambda ax: sum(1 for p in ax.patches if isinstance(p, Rectangle) and p.get_alpha() > 0.5)  # noqa: E731
    assert (solid(a_panel), solid(b_panel)) == (3, 4)
    assert "stretched to (3, 4)" in a_panel.get_title() and "stretched to (3, 4)" in b_panel.get_title()


@pytest.mark.parametrize("shape_a, shape_b", [((4,), (3, 1)), ((), (2, 3)), ((5,), (5,)), ((2, 3), (1,))])
def test_broadcast_figure_any_small_shapes(shape_a, shape_b):
    fig = plot_broadcast(shape_a, shape_b)
    result = broadcast_shape(shape_a, shape_b)
    result_panel = [ax for ax in fig.axes if ax.patches][-1]
    assert len(result_panel.patches) == int(np.prod(result))
    assert f"shape {result}" in result_panel.get_title()


def test_broadcast_figure_rejects_like_broadcast_shape():
    with pytest.raises(ValueError) as from_library:
        broadcast_shape((3, 2), (4,))
    with pytest.raises(ValueError) as from_figure:
        plot_broadcast((3, 2), (4,))
    assert str(from_figure.value) == str(from_library.value)
    with pytest.raises(ValueError, match=r"at most 2 axes, got \(10, 1, 5\) with 3.*\(1, 5\)"):
        plot_broadcast((10, 1, 5), (5,))
    with pytest.raises(ValueError, match="1 to 8 cells per side"):
        plot_broadcast((9, 1), (1, 2))
    with pytest.raises(ValueError, match="1 to 8 cells per side"):
        plot_broadcast((0, 1), (1, 2))


def test_plot_timings_one_bar_per_candidate():
    comparison = Comparison({"loop": Timing("loop", (2e-3, 3e-3)), "numpy": Timing("numpy", (1e-5,))}, "loop")
    fig = rendered(plot_timings(comparison, title="loops"))
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and ax.get_xscale() == "log" and ax.get_title() == "loops"
    labels = texts(ax)
    assert any("fastest" in s for s in labels) and any("250x slower" in s for s in labels)


def test_plot_peak_memory():
    fig = plot_peak_memory([1, 2, 4], {"a": [2**20, 2**21, 2**22], "b": [1, 2, 3]})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and list(ax.lines[0].get_ydata()) == [1.0, 2.0, 4.0]  # in MiB
    with pytest.raises(ValueError, match="'a' has 2 peaks for 3 sizes"):
        plot_peak_memory([1, 2, 3], {"a": [1, 2]})
