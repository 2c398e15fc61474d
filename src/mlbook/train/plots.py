"""Figures of a training run: loss (or metric) curves from a :class:`~mlbook.train.Trainer` history.

Built with :class:`matplotlib.figure.Figure`, no pyplot state; returned, never shown.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import mlbook.viz  # noqa: F401  (registers the PNG formatter that shows pyplot-free figures in notebooks)

__all__ = ["plot_history"]

_COLORS = ("#2C6DB2", "#D1495B", "#3A9E5F", "#E8A33D", "#7B5EA7")


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] = ("loss", "val_loss"), *,
                 best_epoch: Optional[int] = None, stopped_epoch: Optional[int] = None,
                 title: Optional[str] = None, ylabel: str = "loss", logy: bool = False,
                 figsize: tuple[float, float] = (6.0, 3.6)) -> Figure:
    """One curve per key of ``history`` against the epoch number (1, 2, ...).

    ``best_epoch`` (0-based, as :class:`~mlbook.train.EarlyStopping` reports it) draws a dotted line
    and a marker on the last key's curve; ``stopped_epoch`` shades the epochs after the best one that
    early stopping waited through. Raises ``KeyError`` for a key the history lacks and
    ``ValueError`` for an empty history or an epoch outside it.
    """
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it holds {sorted(history)}")
    lengths = {len(history[k]) for k in keys}
    if not keys or lengths == {0}:
        raise ValueError("nothing to plot: no keys, or no epochs in the history")
    n_epochs = max(lengths)
    for name, epoch in (("best_epoch", best_epoch), ("stopped_epoch", stopped_epoch)):
        if epoch is not None and not 0 <= epoch < n_epochs:
            raise ValueError(f"{name}={epoch} is outside the {n_epochs} epochs of the history (0-based)")

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    for i, key in enumerate(keys):
        values = list(history[key])
        ax.plot(range(1, len(values) + 1), values, color=_COLORS[i % len(_COLORS)], lw=1.8, label=key)
    if best_epoch is not None:
        best_value = history[keys[-1]][best_epoch]
        ax.axvline(best_epoch + 1, color="#555555", ls=":", lw=1.2)
        ax.plot([best_epoch + 1], [best_value], "o", color="black", ms=6, zorder=5,
                label=f"best {keys[-1]} (epoch {best_epoch + 1})")
    if stopped_epoch is not None and best_epoch is not None:
        ax.axvspan(best_epoch + 1, stopped_epoch + 1, color="#999999", alpha=0.15, lw=0,
                   label="patience: no improvement")
    if logy:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
