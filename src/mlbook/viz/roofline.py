"""Figures for the performance chapters: the roofline, benchmark curves, the sparse crossover, and
matrix products drawn as compositions of linear maps.

Import directly: ``from mlbook.viz.roofline import plot_roofline`` (this module is not re-exported by
``mlbook.viz``). Every function returns a :class:`matplotlib.figure.Figure` and never shows it.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_roofline", "plot_matmul_benchmark", "plot_sparse_crossover", "plot_composition"]


def plot_roofline(peak_gflops: float, bandwidth_gbs: float,
                  points: Mapping[str, tuple[float, float]] | None = None, *,
                  title: str = "Roofline", intensity_range: tuple[float, float] = (1 / 16, 1024)) -> Figure:
    """The roofline ``min(peak, bandwidth * intensity)`` on log-log axes, with measured kernels as points.

    ``points`` maps a label to ``(intensity in FLOP/byte, achieved GFLOP/s)``.
    """
    if peak_gflops <= 0 or bandwidth_gbs <= 0:
        raise ValueError(f"peak and bandwidth must be positive, got {peak_gflops} and {bandwidth_gbs}")
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    intensity = np.geomspace(*intensity_range, 256)
    roof = np.minimum(peak_gflops, bandwidth_gbs * intensity)
    ax.plot(intensity, roof, color="black", linewidth=2, label="roof: min(peak, bandwidth x intensity)")
    ridge = peak_gflops / bandwidth_gbs
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"ridge {ridge:.1f} FLOP/B", (ridge, peak_gflops), textcoords="offset points", xytext=(4, -14),
                fontsize=8, color="grey")
    ax.text(intensity[0] * 1.2, peak_gflops * 1.08, f"peak {peak_gflops:.0f} GFLOP/s", fontsize=8)
    for (label, (x, y)), marker in zip((points or {}).items(), "osD^v<>ph*"):
        ax.plot([x], [y], marker=marker, linestyle="none", markersize=7, label=f"{label}: {y:.1f} GFLOP/s")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(title)
    ax.set_ylim(bottom=max(min(roof) / 2, 1e-2), top=peak_gflops * 1.6)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_matmul_benchmark(rows: Iterable[Mapping], *, peak_gflops: Mapping[int, float] | None = None,
                          methods: Sequence[str] | None = None) -> Figure:
    """GFLOP/s against matrix size, one line per method and one panel per thread count.

    ``rows`` are benchmark records with keys ``method``, ``n``, ``threads`` and ``gflops`` (the CSV
    that ``benchmarks/matmul.py`` writes). ``peak_gflops`` maps a thread count to its measured peak,
    drawn as a dashed line.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_matmul_benchmark needs at least one benchmark row")
    thread_counts = sorted({int(r["threads"]) for r in rows})
    methods = list(methods or dict.fromkeys(r["method"] for r in rows))
    fig = Figure(figsize=(5.2 * len(thread_counts), 4.0), layout="constrained")
    axes = fig.subplots(1, len(thread_counts), squeeze=False, sharey=True)[0]
    for ax, threads in zip(axes, thread_counts):
        for method in methods:
            mine = sorted((int(r["n"]), float(r["gflops"])) for r in rows
                          if r["method"] == method and int(r["threads"]) == threads)
            if mine:
                style = dict(color="black", linewidth=2.5) if method == "numpy" else {}
                ax.plot(*zip(*mine), marker="o", markersize=4, label=method, **style)
        if peak_gflops and threads in peak_gflops:
            ax.axhline(peak_gflops[threads], color="grey", linestyle="--", linewidth=1)
            ax.text(ax.get_xlim()[0], peak_gflops[threads] * 1.05, " measured peak", fontsize=8, color="grey")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (square n x n matrices)")
        ax.set_title(f"{threads} thread{'s' if threads > 1 else ''}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("GFLOP/s (float32)")
    axes[-1].legend(fontsize=7, loc="lower right")
    return fig


def plot_sparse_crossover(densities: Sequence[float], sparse_seconds: Sequence[float], dense_seconds: float,
                          *, crossover: float | None = None) -> Figure:
    """Time of a CSR x dense product against the density of the sparse matrix, with the dense time."""
    if len(densities) != len(sparse_seconds) or not densities:
        raise ValueError(f"need one time per density, got {len(densities)} densities and {len(sparse_seconds)} times")
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(densities, np.asarray(sparse_seconds) * 1e3, marker="o", label="CSR x dense (Numba)")
    ax.axhline(dense_seconds * 1e3, color="black", linestyle="--", label="dense numpy.matmul")
    if crossover is not None:
        ax.axvline(crossover, color="grey", linestyle=":")
        ax.annotate(f"crossover ~{crossover:.0%}", (crossover, dense_seconds * 1e3), textcoords="offset points",
                    xytext=(5, 8), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("density (fraction of non-zero entries)")
    ax.set_ylabel("milliseconds per product")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_composition(A: np.ndarray, B: np.ndarray) -> Figure:
    """The unit square mapped by ``B``, then by ``A``, beside the single map ``A @ B``: the same shape.

    ``A`` and ``B`` are 2 x 2. The three panels show the images of the unit square and of the basis
    vectors ``e1`` (red) and ``e2`` (blue).
    """
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.shape != (2, 2) or B.shape != (2, 2):
        raise ValueError(f"plot_composition draws 2 x 2 maps, got shapes {A.shape} and {B.shape}")
    square = np.array([[0, 1, 1, 0, 0], [0, 0, 1, 1, 0]], dtype=float)
    stages = [("x", np.eye(2)), ("B x", B), ("A (B x)", A @ B), ("(A B) x", A @ B)]
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    axes = fig.subplots(1, 4)
    pts = np.concatenate([M @ square for _, M in stages], axis=1)
    lim = np.abs(pts).max() * 1.15 + 0.1
    for ax, (label, M) in zip(axes, stages):
        shape = M @ square
        ax.fill(shape[0], shape[1], alpha=0.25, color="tab:purple")
        ax.plot(shape[0], shape[1], color="tab:purple")
        for col, color in ((0, "tab:red"), (1, "tab:blue")):
            ax.annotate("", xy=M[:, col], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=color, linewidth=2))
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(label)
    axes[3].set_title("(A B) x: one map, same result")
    return fig
