"""mlbook.optim.problems (test functions, trajectories) and mlbook.viz.optim (figures)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from mlbook import optim
from mlbook.optim.problems import quadratic, quadratic_grad, rosenbrock, rosenbrock_grad, trajectory
from mlbook.viz.curves import plot_curves
from mlbook.viz.optim import plot_benchmark, plot_trajectories

points = st.tuples(st.floats(-3, 3), st.floats(-3, 3))


@given(points, st.floats(0.1, 10), st.floats(0.1, 100))
@settings(max_examples=50, deadline=None)
def test_quadratic_gradient_matches_autograd(point, a, b):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (0.5 * (a * x[0] ** 2 + b * x[1] ** 2)).backward()
    np.testing.assert_allclose(quadratic_grad(np.array(point), (a, b)), x.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert quadratic(np.array(point), (a, b)) == pytest.approx(0.5 * (a * point[0] ** 2 + b * point[1] ** 2))


@given(points)
@settings(max_examples=50, deadline=None)
def test_rosenbrock_gradient_matches_autograd(point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    value = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    value.backward()
    np.testing.assert_allclose(rosenbrock_grad(np.array(point)), x.grad.numpy(), rtol=1e-10, atol=1e-9)
    assert rosenbrock(np.array(point)) == pytest.approx(value.item(), rel=1e-12, abs=1e-12)


def test_functions_evaluate_on_grids_and_reject_bad_shapes():
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 4), np.linspace(0, 2, 3)), axis=-1)
    assert quadratic(grid).shape == (3, 4) and rosenbrock(grid).shape == (3, 4)
    assert quadratic_grad(grid).shape == (3, 4, 2)
    assert rosenbrock(np.array([1.0, 1.0])) == 0.0 and np.all(rosenbrock_grad(np.array([1.0, 1.0])) == 0)
    with pytest.raises(ValueError, match=r"last axis of length 2, got shape \(3,\)"):
        quadratic(np.zeros(3))


def test_trajectory_records_every_point_and_stops_at_a_blow_up():
    path = trajectory(lambda p: optim.SGD(p, lr=0.01), quadratic_grad, [1.0, 1.0], 5)
    assert path.shape == (6, 2)
    np.testing.assert_allclose(path[1], [1.0 - 0.01 * 1.0, 1.0 - 0.01 * 25.0])
    np.testing.assert_allclose(path[5], [0.99**5, 0.75**5])
    diverged = trajectory(lambda p: optim.SGD(p, lr=1.0), quadratic_grad, [1.0, 1.0], 50)
    assert np.isfinite(diverged[:5]).all() and np.isinf(diverged[-1]).all()
    with pytest.raises(ValueError, match="steps must be non-negative, got -1"):
        trajectory(lambda p: optim.SGD(p), quadratic_grad, [1.0, 1.0], -1)


def test_plot_trajectories_draws_one_panel_per_problem_and_clips_blow_ups():
    paths = {"ok": trajectory(lambda p: optim.Adam(p, lr=0.1), quadratic_grad, [-2.0, 1.0], 30),
             "diverged": trajectory(lambda p: optim.SGD(p, lr=0.1), quadratic_grad, [-2.0, 1.0], 30)}
    fig = plot_trajectories([dict(f=quadratic, paths=paths, xlim=(-3, 1), ylim=(-2, 2), minimum=(0, 0), title="q"),
                             dict(f=rosenbrock, paths=paths, xlim=(-2, 2), ylim=(-1, 3))])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert len(lines["ok"].get_xdata()) == 31
    assert np.max(np.abs(lines["diverged"].get_ydata())) < 100  # drawn only until it left the picture
    assert fig.axes[0].get_title() == "q"
    with pytest.raises(ValueError, match="at least one panel"):
        plot_trajectories([])
    with pytest.raises(ValueError, match=r"path 'bad' must have shape \(steps, 2\), got \(3,\)"):
        plot_trajectories([dict(f=quadratic, paths={"bad": np.zeros(3)}, xlim=(-1, 1), ylim=(-1, 1))])


def test_plot_curves_and_benchmark():
    fig = plot_curves({"a": [3, 2, 1], "b": (np.array([1, 2]), np.array([5, 6]))}, xlabel="x", ylabel="y", logy=True,
                      styles={"b": "k:"})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), [1, 2])
    bars = plot_benchmark({"slow": 0.02, "fast": 0.005}, floor=0.004, title="t")
    ax = bars.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["slow", "fast"]  # fastest at the top
    assert [round(p.get_width(), 6) for p in ax.patches] == [20.0, 5.0]
    assert "bandwidth floor 4.00 ms" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="at least one curve"):
        plot_curves({}, xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="at least one timing"):
        plot_benchmark({})
