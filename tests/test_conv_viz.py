"""The Convolution chapter's figures: each builds a Figure without pyplot, with the panels it promises."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from mlbook.viz.conv import plot_convolution_step, plot_feature_maps, plot_filters, plot_im2col, plot_timings


def test_convolution_step_titles_the_computed_value():
    image = np.zeros((5, 6))
    image[:, 3:] = 1
    fig = plot_convolution_step(image, np.array([[-1.0, 0.0, 1.0]] * 3), position=(0, 1))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert fig.axes[2].get_title().endswith("= 3")     # window columns 1..3: three ones on the right, times +1


def test_im2col_figure_shows_the_matrix():
    fig = plot_im2col(4, 5, 3)
    assert len(fig.axes) == 2
    assert "9 x 6" in fig.axes[1].get_title()


def test_filters_feature_maps_and_timings():
    weights = np.random.default_rng(0).standard_normal((10, 2, 3, 3))
    fig = plot_filters(weights, ncols=4, title="t")
    assert sum(ax.has_data() for ax in fig.axes) == 10
    fig = plot_feature_maps(np.zeros((8, 8)), np.ones((5, 8, 8)), ncols=3)
    assert sum(ax.has_data() for ax in fig.axes) == 6
    fig = plot_timings({"torch": 0.01, "numba": 0.02}, reference="torch")
    assert "0.5x torch's speed" in " ".join(t.get_text() for t in fig.axes[0].texts)
