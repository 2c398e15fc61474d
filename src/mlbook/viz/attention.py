"""Heatmaps of attention weights: which keys (columns) each query (row) attends to (Einsum chapter)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

__all__ = ["plot_attention"]

_ANNOTATE_MAX_TOKENS = 10  # beyond this many rows or columns, numbers in the cells become unreadable


def plot_attention(
    weights: ArrayLike,
    *,
    tokens: Sequence[str] | None = None,
    key_tokens: Sequence[str] | None = None,
    title: str | None = None,
    annotate: bool | None = None,
) -> Figure:
    """Draw attention weights as a heatmap, one panel per head, with a shared colour bar.

    weights: (q_len, k_len) for one head, or (heads, q_len, k_len) for a grid of heads (panel ``h`` is
    titled "head h"). Row ``i`` is query ``i``; column ``j`` is key ``j``.

    tokens: labels of the queries (rows); they also label the keys (columns) unless ``key_tokens`` is
    given, which is needed when q_len != k_len (cross-attention). annotate: write each weight in its
    cell; by default only for a single head of at most 10 x 10. The colour scale runs from 0 to the
    largest weight (1 for attention weights that are a probability distribution per row).
    """
    w = np.asarray(weights)
    if w.ndim not in (2, 3):
        raise ValueError(f"weights must be 2-D (q_len, k_len) or 3-D (heads, q_len, k_len), got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.iscomplexobj(w):
        raise TypeError(f"weights must be a real numeric array, got dtype {w.dtype}")
    if w.size == 0:
        raise ValueError(f"weights must not be empty, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or infinity (a fully masked row computed with -inf?)")
    heads = w[None] if w.ndim == 2 else w
    num_heads, q_len, k_len = heads.shape
    if key_tokens is None and tokens is not None and q_len != k_len:
        raise ValueError(
            f"tokens label both axes, but weights have q_len={q_len} != k_len={k_len}; pass key_tokens too"
        )
    row_labels = _labels(tokens, q_len, "tokens", "q_len")
    col_labels = _labels(key_tokens if key_tokens is not None else tokens, k_len, "key_tokens", "k_len")
    if annotate is None:
        annotate = num_heads == 1 and max(q_len, k_len) <= _ANNOTATE_MAX_TOKENS

    word_labels = tokens is not None or key_tokens is not None
    ncols = math.ceil(math.sqrt(num_heads))  # a squarish grid: 4 heads in 2 x 2, 8 in 3 x 3
    nrows = math.ceil(num_heads / ncols)
    panel = 0.45 * max(q_len, k_len) + 1.2
    fig = Figure(figsize=(min(panel * ncols + 1.2, 16), min(panel * nrows + 0.6, 16)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    vmax = float(heads.max()) if heads.max() > 0 else 1.0
    image = None
    for h, ax in enumerate(axes.flat):
        if h >= num_heads:
            ax.set_visible(False)
            continue
        image = ax.imshow(heads[h], cmap="viridis", vmin=0.0, vmax=vmax, aspect="equal")
        if word_labels:
            ax.set_xticks(range(k_len), col_labels, rotation=45, ha="right", rotation_mode="anchor")
        else:
            ax.set_xticks(range(k_len), col_labels)
        ax.set_yticks(range(q_len), row_labels)
        if h + ncols >= num_heads:  # bottom panel of its column
            ax.set_xlabel("key")
        if h % ncols == 0:
            ax.set_ylabel("query")
        if num_heads > 1:
            ax.set_title(f"head {h}")
        if annotate:
            for i in range(q_len):
                for j in range(k_len):
                    value = heads[h, i, j]
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                            color="black" if value > 0.6 * vmax else "white")
    fig.colorbar(image, ax=axes.ravel().tolist(), label="attention weight", shrink=0.9)
    if title is not None:
        fig.suptitle(title)
    return fig


def _labels(tokens: Sequence[str] | None, n: int, name: str, length_name: str) -> list[str]:
    if tokens is None:
        return [str(i) for i in range(n)]
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string {tokens!r}")
    labels = [str(t) for t in tokens]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} labels but {length_name} is {n}")
    return labels
