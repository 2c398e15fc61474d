"""mlbook.viz.decision.plot_decision_boundary: what it draws, that the boundary is where the model says, and
its errors."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from mlbook.datasets import logic_gate
from mlbook.nn import Neuron
from mlbook.viz import plot_decision_boundary


def _contour_sets(ax):
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def _boundary(ax):
    """The ContourSet of lines (not filled) drawn by the function: the decision boundary."""
    lines = [c for c in _contour_sets(ax) if not c.filled]
    assert len(lines) <= 1
    return lines[0] if lines else None


def test_probability_model_new_figure():
    X, y = logic_gate("and")
    fig = plot_decision_boundary(Neuron([20.0, 20.0], -30.0), X, y, title="AND")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the plot and its colour bar
    assert ax.get_title() == "AND"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["boundary (P = 0.5)", "y = 0", "y = 1"]
    filled = [c for c in _contour_sets(ax) if c.filled]
    assert len(filled) == 1 and np.allclose(filled[0].levels, [0, .05, .15, .25, .35, .45, .55, .65, .75, .85, .95, 1])
    assert list(_boundary(ax).levels) == [0.5]
    assert ax.get_xlim() == (-0.5, 1.5) and ax.get_ylim() == (-0.5, 1.5)


@pytest.mark.parametrize("w, b", [([20.0, 20.0], -30.0), ([-3.0, 1.0], 0.4), ([0.5, 2.0], -1.0)])
def test_boundary_lies_on_the_line_w_dot_x_plus_b_equals_zero(w, b):
    X, y = logic_gate("or")
    resolution = 101
    fig = plot_decision_boundary(Neuron(w, b), X, y, resolution=resolution)
    vertices = np.concatenate([p.vertices for p in _boundary(fig.axes[0]).get_paths()])
    assert len(vertices) > 10
    distance = np.abs(vertices @ np.array(w) + b) / np.linalg.norm(w)
    spacing = 3.0 / (resolution - 1)
    assert distance.max() < spacing  # contour interpolation is exact for a sigmoid of a plane, up to the grid


def test_draws_into_given_axes_of_a_panel():
    fig = Figure(figsize=(12, 3))
    axes = fig.subplots(1, 4)
    for ax, gate in zip(axes, ["and", "or", "nand", "xor"]):
        X, y = logic_gate(gate)
        returned = plot_decision_boundary(Neuron([1.0, 1.0], -1.0), X, y, ax=ax, legend=False, title=gate)
        assert returned is fig
        assert ax.get_legend() is None and ax.get_title() == gate
    assert len(fig.axes) == 4  # no colour bars unless asked for
    assert all(_contour_sets(ax) for ax in axes)


def test_label_model_gets_flat_regions_and_a_boundary():
    X, y = logic_gate("xor")
    fig = plot_decision_boundary(Neuron([1.0, 1.0], -1.5, "step"), X, y)
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # labels, not probabilities: no colour bar
    filled = [c for c in _contour_sets(ax) if c.filled]
    assert list(filled[0].levels) == [-0.5, 0.5, 1.5]
    assert _boundary(ax) is not None
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["decision boundary", "y = 0", "y = 1"]


def test_logits_with_threshold_zero():
    X, y = logic_gate("and")
    neuron = Neuron([2.0, 2.0], -3.0, "identity")
    fig = plot_decision_boundary(neuron, X, y, threshold=0.0)
    vertices = np.concatenate([p.vertices for p in _boundary(fig.axes[0]).get_paths()])
    np.testing.assert_allclose(vertices @ [2.0, 2.0] - 3.0, 0.0, atol=1e-9)  # a plane is contoured exactly


def test_constant_model_draws_no_boundary_and_warns_nothing():
    X, y = logic_gate("xor")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_decision_boundary(lambda P: np.full(len(P), 0.5), X, y)
    assert _boundary(fig.axes[0]) is None
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["y = 0", "y = 1"]


def test_rounding_noise_is_not_a_boundary():
    X, y = logic_gate("xor")
    noisy = Neuron([-1e-16, -8e-17], 1.7e-16)  # what gradient descent leaves on XOR: P = 1/2 +- rounding
    probabilities = noisy(np.array([[-0.5, -0.5], [1.5, 1.5]]))
    assert probabilities[0] > 0.5 > probabilities[1]  # the noise does cross 1/2 ...
    assert _boundary(plot_decision_boundary(noisy, X, y).axes[0]) is None  # ... but is not drawn


def test_multiclass_scores_and_class_names():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    y = np.repeat([0, 1, 2], 5)
    X = centres[y] + rng.normal(scale=0.3, size=(15, 2))
    model = lambda P: -((P[:, None, :] - centres[None]) ** 2).sum(-1)  # (n, 3): nearest centre wins  # noqa: E731
    fig = plot_decision_boundary(model, X, y, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["decision boundary", "a", "b", "c"]
    assert len(ax.collections) >= 5  # fill, boundary, three scatters


def test_probability_shading_can_be_turned_off():
    X, y = logic_gate("and")
    fig = plot_decision_boundary(Neuron([20.0, 20.0], -30.0), X, y, show_probability=False)
    filled = [c for c in _contour_sets(fig.axes[0]) if c.filled]
    assert list(filled[0].levels) == [-0.5, 0.5, 1.5] and len(fig.axes) == 1


@pytest.mark.parametrize(
    "X, y, model, kwargs, error, match",
    [
        (np.zeros((4, 3)), np.zeros(4, int), np.sum, {}, ValueError, r"shape \(n_samples, 2\).*got shape \(4, 3\)"),
        (np.zeros((4, 2)), np.zeros(3, int), np.sum, {}, ValueError, r"y must have shape \(4,\).*got shape \(3,\)"),
        (np.zeros((4, 2)), np.full(4, 0.5), np.sum, {}, ValueError, "integer class labels"),
        (np.zeros((4, 2)), np.zeros(4, int), "model", {}, TypeError, "must be a callable.*got str"),
        (np.zeros((4, 2)), np.zeros(4, int), lambda P: np.zeros((len(P), 2, 2)), {}, ValueError,
         r"to scores of shape \(40000,\) or \(40000, k\); got shape \(40000, 2, 2\)"),
        (np.zeros((4, 2)), np.zeros(4, int), lambda P: np.zeros(3), {}, ValueError, r"got shape \(3,\)"),
        (np.zeros((4, 2)), np.zeros(4, int), np.sum, {"resolution": 1}, ValueError, "resolution must be"),
        (np.zeros((4, 2)), np.zeros(4, int), np.sum, {"padding": -1.0}, ValueError, "padding must be"),
    ],
)
def test_bad_input(X, y, model, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_decision_boundary(model, X, y, **kwargs)


def test_sklearn_like_object_gets_a_hint():
    class Estimator:
        def predict_proba(self, X):
            return np.zeros((len(X), 2))

    with pytest.raises(TypeError, match="pass model.predict_proba"):
        plot_decision_boundary(Estimator(), np.zeros((2, 2)), [0, 1])


def test_module_does_not_import_pyplot():
    code = "import sys, mlbook.viz.decision; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
