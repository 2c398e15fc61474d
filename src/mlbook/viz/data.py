"""Figures for the data chapters: pipeline traces (the conveyor belt), shuffle mixing, throughput.

Import as ``from mlbook.viz.data import ...``. Every function returns a Matplotlib ``Figure`` built
without pyplot.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from mlbook.data.dataset import shuffle_order
from mlbook.data.trace import Tracer

__all__ = ["plot_traces", "plot_pipeline_trace", "shuffle_displacement", "plot_shuffle_mixing", "plot_series",
           "plot_image_batch"]

_STAGE_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def _lanes(tracer: Tracer) -> list[tuple[str, str]]:
    """(stage, lane) pairs in order of first appearance, consumer-side stages last."""
    seen = list(dict.fromkeys((s.stage, s.lane) for s in tracer.spans))
    last = [key for key in seen if key[0] in ("train", "wait")]
    return [key for key in seen if key not in last] + sorted(last, key=lambda k: k[0] != "train")


def plot_traces(traces: Mapping[str, Tracer], *, title: str = "", width: float = 9.0) -> Figure:
    """One conveyor-belt panel per tracer, stacked, on a shared time axis in milliseconds.

    Each row is one stage on one thread or process; each bar is one span (a map chunk, a batch, a
    training step, a wait). Time runs left to right from each tracer's first span.
    """
    if not traces:
        raise ValueError("plot_traces needs at least one tracer")
    stages = list(dict.fromkeys(s.stage for tracer in traces.values() for s in tracer.spans))
    colours = {stage: _STAGE_COLOURS[i % len(_STAGE_COLOURS)] for i, stage in enumerate(stages)}
    heights = [max(len(_lanes(tracer)), 1) for tracer in traces.values()]
    fig = Figure(figsize=(width, 0.9 + 0.38 * sum(heights) + 0.5 * len(traces)))
    axes = fig.subplots(len(traces), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (name, tracer) in zip(axes, traces.items()):
        lanes = _lanes(tracer)
        if not tracer.spans:
            ax.set_title(f"{name} (no spans recorded)")
            continue
        origin = min(s.start for s in tracer.spans)
        row = {key: i for i, key in enumerate(lanes)}
        for span in tracer.spans:
            ax.barh(row[(span.stage, span.lane)], (span.end - span.start) * 1e3, left=(span.start - origin) * 1e3,
                    height=0.7, color=colours[span.stage], edgecolor="white", linewidth=0.3)
        ax.set_yticks(range(len(lanes)), [f"{stage} [{lane}]" if lane else stage for stage, lane in lanes], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_pipeline_trace(tracer: Tracer, *, title: str = "") -> Figure:
    """The conveyor belt of one traced run (see :func:`plot_traces`)."""
    return plot_traces({title or "pipeline trace": tracer})


def shuffle_displacement(n: int, buffer_size: int, seed: int = 0) -> float:
    """How well a shuffle buffer mixes ``n`` elements: mean ``|output position - input position|``
    divided by its value for a perfect shuffle, ``(n**2 - 1) / (3 n)``. 0 = unchanged, 1 = uniform."""
    order = shuffle_order(n, buffer_size, np.random.default_rng(seed))
    ideal = (n * n - 1) / (3 * n)
    return float(np.mean(np.abs(order - np.arange(n))) / ideal)


def plot_shuffle_mixing(n: int, buffer_sizes: Sequence[int], *, seed: int = 0) -> Figure:
    """Left: where each element lands (input index vs output position) for a few buffer sizes.
    Right: the normalised mean displacement (:func:`shuffle_displacement`) against buffer size."""
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    picks = sorted(set(np.linspace(0, len(buffer_sizes) - 1, min(4, len(buffer_sizes))).round().astype(int)))
    shown = [list(buffer_sizes)[i] for i in picks]  # up to four, spread from smallest to largest
    for i, size in enumerate(shown):
        order = shuffle_order(n, size, np.random.default_rng(seed))
        left.scatter(np.arange(n), np.argsort(order), s=3, alpha=0.5, color=_STAGE_COLOURS[i], label=f"buffer {size}")
    left.set_xlabel("input index")
    left.set_ylabel("output position")
    left.set_title("where each element ends up", fontsize=10)
    left.legend(fontsize=8, markerscale=3)
    scores = [np.mean([shuffle_displacement(n, size, seed + r) for r in range(5)]) for size in buffer_sizes]
    right.semilogx(buffer_sizes, scores, "o-")
    right.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="uniform shuffle")
    right.set_xlabel("buffer size")
    right.set_ylabel("mean displacement / uniform")
    right.set_title(f"mixing of {n} elements", fontsize=10)
    right.set_ylim(0, 1.1)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_series(x: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str,
                title: str = "", logx: bool = False, logy: bool = False, kind: str = "line") -> Figure:
    """Several named series against one x axis (``kind="line"``), or grouped bars (``kind="bar"``)."""
    if not series:
        raise ValueError("plot_series needs at least one series")
    for name, values in series.items():
        if len(values) != len(x):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x)} x positions")
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    if kind == "bar":
        width = 0.8 / len(series)
        positions = np.arange(len(x))
        for i, (name, values) in enumerate(series.items()):
            ax.bar(positions + (i - (len(series) - 1) / 2) * width, values, width, label=name,
                   color=_STAGE_COLOURS[i % len(_STAGE_COLOURS)])
        ax.set_xticks(positions, [str(v) for v in x])
    elif kind == "line":
        for i, (name, values) in enumerate(series.items()):
            ax.plot(x, values, "o-", label=name, color=_STAGE_COLOURS[i % len(_STAGE_COLOURS)])
        if logx:
            ax.set_xscale("log")
    else:
        raise ValueError(f"kind must be 'line' or 'bar', got {kind!r}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_image_batch(images: np.ndarray, labels: Sequence[int], class_names: Sequence[str], *,
                     mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25),
                     columns: int = 8) -> Figure:
    """A grid of a batch of normalised ``(B, H, W, 3)`` images, de-normalised for display, titled by class."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"plot_image_batch needs a (B, H, W, 3) batch, got shape {images.shape}")
    count = len(images)
    rows = -(-count // columns)
    fig = Figure(figsize=(1.3 * min(columns, count), 1.45 * rows))
    axes = fig.subplots(rows, min(columns, count), squeeze=False)
    shown = np.clip(images * np.asarray(std) + np.asarray(mean), 0, 1)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < count:
            ax.imshow(shown[index])
            ax.set_title(class_names[int(labels[index])], fontsize=8)
    fig.tight_layout()
    return fig
