"""mlbook.viz.plot_attention: the heatmap shows the weights it was given, labelled, and rejects bad input."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlbook.einsum import causal_mask, softmax
from mlbook.viz import plot_attention


def weights(*shape: int, seed: int = 0) -> np.ndarray:
    return softmax(np.random.default_rng(seed).standard_normal(shape))


def heatmap_axes(fig: Figure):
    return [ax for ax in fig.axes if ax.get_visible() and ax.images and ax.get_label() != "<colorbar>"]


def test_single_head_heatmap_shows_the_weights_with_token_labels_and_a_colourbar():
    w = weights(4, 4)
    tokens = ["the", "cat", "sat", "down"]
    fig = plot_attention(w, tokens=tokens, title="one head")
    assert isinstance(fig, Figure)
    (ax,) = heatmap_axes(fig)
    np.testing.assert_array_equal(ax.images[0].get_array(), w)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == tokens
    assert ax.get_xlabel() == "key" and ax.get_ylabel() == "query"
    assert any(a.get_label() == "<colorbar>" for a in fig.axes)
    assert fig._suptitle is not None and fig._suptitle.get_text() == "one head"
    assert len(ax.texts) == 16  # small single head: every weight is written in its cell
    assert ax.texts[0].get_text() == f"{w[0, 0]:.2f}"


def test_grid_of_heads_one_panel_each_sharing_one_colour_scale():
    w = weights(5, 3, 3)
    fig = plot_attention(w)
    axes = heatmap_axes(fig)
    assert [ax.get_title() for ax in axes] == [f"head {h}" for h in range(5)]
    for h, ax in enumerate(axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), w[h])
        assert ax.images[0].get_clim() == (0.0, pytest.approx(w.max()))
        assert not ax.texts  # no numbers on a grid of heads by default
    assert sum(1 for a in fig.axes if a.get_label() == "<colorbar>") == 1
    assert len([ax for ax in fig.axes if not ax.get_visible()]) == 1  # 5 heads in a 3 x 2 grid


def test_cross_attention_needs_separate_key_tokens():
    w = weights(2, 3)
    with pytest.raises(ValueError, match=r"q_len=2 != k_len=3; pass key_tokens"):
        plot_attention(w, tokens=["a", "b"])
    fig = plot_attention(w, tokens=["a", "b"], key_tokens=["x", "y", "z"])
    (ax,) = heatmap_axes(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_masked_weights_with_zero_rows_plot_and_numbers_can_be_turned_off():
    w = weights(3, 3) * causal_mask(3)
    w[1] = 0.0
    fig = plot_attention(w, annotate=False)
    (ax,) = heatmap_axes(fig)
    assert not ax.texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3, 4)])
def test_rejects_wrong_rank(shape):
    with pytest.raises(ValueError, match=r"weights must be 2-D \(q_len, k_len\) or 3-D .*got shape"):
        plot_attention(np.ones(shape))


def test_rejects_bad_values_and_labels():
    with pytest.raises(ValueError, match=r"NaN or infinity"):
        plot_attention(np.array([[0.5, np.nan], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"must not be empty"):
        plot_attention(np.ones((0, 3)))
    with pytest.raises(TypeError, match=r"real numeric array"):
        plot_attention(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"tokens has 3 labels but q_len is 2"):
        plot_attention(weights(2, 2), tokens=["a", "b", "c"])
    with pytest.raises(TypeError, match=r"not a single string 'ab'"):
        plot_attention(weights(2, 2), tokens="ab")
