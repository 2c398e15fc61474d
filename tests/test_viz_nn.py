"""mlbook.viz.nn: each figure builds, holds what it should, and rejects bad input."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlbook.viz.nn import (pca_2d, plot_confusion_matrix, plot_grid_transformation, plot_hidden_projection,
                           plot_latency_throughput, plot_weight_templates)
from mlbook.viz.curves import plot_curves


def test_grid_transformation_panels_and_errors():
    W = np.array([[1.0, 0.5], [0.0, 1.0]])
    maps = [("identity", lambda p: p), ("shear", lambda p: p @ W.T), ("relu", lambda p: np.maximum(p, 0))]
    fig = plot_grid_transformation(maps, points=np.zeros((3, 2)), labels=np.array([0, 1, 1]))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert fig.axes[1].get_title() == "shear"
    with pytest.raises(ValueError, match="at least one"):
        plot_grid_transformation([])
    with pytest.raises(ValueError, match="must send"):
        plot_grid_transformation([("bad", lambda p: p[:, :1])])


def test_pca_2d_matches_svd_and_projection_plot():
    rng = np.random.default_rng(0)
    H = rng.standard_normal((100, 5)) * np.array([5.0, 2.0, 0.1, 0.1, 0.1])
    coords, explained = pca_2d(H)
    assert coords.shape == (100, 2) and explained[0] > explained[1] > 0 and explained.sum() < 1
    np.testing.assert_allclose(np.abs(coords[:, 0]), np.abs(H[:, 0] - H[:, 0].mean()), rtol=0.05, atol=0.3)
    fig = plot_hidden_projection(H, (H[:, 0] > 0).astype(int))
    assert "PC1" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        plot_hidden_projection(H, np.zeros(3))


def test_templates_confusion_curves_latency():
    fig = plot_weight_templates(np.random.default_rng(0).standard_normal((10, 64)), (8, 8))
    assert len(fig.axes) == 10
    with pytest.raises(ValueError, match=r"\(n_templates, 64\)"):
        plot_weight_templates(np.ones((2, 63)), (8, 8))
    fig = plot_confusion_matrix(np.array([[5, 1], [0, 4]]), class_names=["a", "b"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["5", "1", "4"]
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)))
    fig = plot_curves({"train": [3, 2, 1], "test": [3, 2.5, 2]}, start=1, logy=True)
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]
    assert len(fig.axes[0].lines) == 2
    fig = plot_latency_throughput([1, 10, 100], [1e-5, 2e-5, 1e-4])
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="same length"):
        plot_latency_throughput([1, 2], [1.0])
