"""Figures for the profiling-hunt chapter: where a training run's time goes, before and after each fix.

Import directly: ``from mlbook.viz.profiling import plot_phase_breakdown`` (not re-exported by
``mlbook.viz``). Every function returns a :class:`matplotlib.figure.Figure` and never shows it.
"""

from __future__ import annotations

from typing import Mapping

from matplotlib.figure import Figure

__all__ = ["plot_phase_breakdown"]

_PHASE_COLOURS = {"load": "#4C72B0", "copy": "#DD8452", "step": "#55A868", "log": "#C44E52"}


def plot_phase_breakdown(runs: Mapping[str, Mapping[str, float]], *, title: str = "Where the time goes",
                         unit: str = "ms") -> Figure:
    """Horizontal stacked bars: one bar per run (top to bottom in the mapping's order), one colour per phase.

    ``runs`` maps a run's label to ``{phase: seconds}``. Each bar is annotated with its total.
    """
    if not runs:
        raise ValueError("plot_phase_breakdown needs at least one run")
    scale = {"s": 1.0, "ms": 1e3}.get(unit)
    if scale is None:
        raise ValueError(f"unit must be 's' or 'ms', got {unit!r}")
    phases: list[str] = []
    for seconds in runs.values():
        phases += [p for p in seconds if p not in phases]
    fig = Figure(figsize=(7.0, 0.6 * len(runs) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    labels = list(runs)
    for row, label in enumerate(labels):
        left = 0.0
        for phase in phases:
            width = runs[label].get(phase, 0.0) * scale
            if width < 0:
                raise ValueError(f"run {label!r} has negative time {width} for phase {phase!r}")
            ax.barh(row, width, left=left, color=_PHASE_COLOURS.get(phase), edgecolor="white",
                    label=phase if row == 0 else None)
            left += width
        ax.text(left, row, f"  {left:.0f} {unit}" if left >= 10 else f"  {left:.1f} {unit}", va="center",
                fontsize=9)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"wall time per training run ({unit})")
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.legend(title="phase", loc="lower right", fontsize=8)
    return fig
