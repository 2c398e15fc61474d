"""Figures for the production chapters: serving latency/throughput, and all-reduce cost vs message size."""

from __future__ import annotations

from typing import Mapping, Optional

from matplotlib.figure import Figure

__all__ = ["plot_allreduce_cost", "plot_serving_load"]


def plot_serving_load(by_batch: Mapping[int, tuple[float, float]],
                      by_concurrency: Mapping[str, Mapping[int, float]]) -> Figure:
    """Two panels measured against a live server.

    ``by_batch`` maps rows per request to ``(median latency in ms, rows per second)``: left panel, latency
    and throughput against batch size (two y axes). ``by_concurrency`` maps a series label (e.g.
    ``"one request, one forward"``, ``"micro-batched"``) to ``{clients: requests per second}``: right panel.
    """
    if not by_batch or not by_concurrency:
        raise ValueError("plot_serving_load needs measurements in both by_batch and by_concurrency")
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    sizes = sorted(by_batch)
    latency = [by_batch[b][0] for b in sizes]
    rows = [by_batch[b][1] for b in sizes]
    left.plot(sizes, latency, "o-", color="C0", label="median latency")
    left.set_xscale("log", base=2)
    left.set_xlabel("rows per request (batch size)")
    left.set_ylabel("median latency (ms)", color="C0")
    twin = left.twinx()
    twin.plot(sizes, rows, "s--", color="C1", label="throughput")
    twin.set_yscale("log")
    twin.set_ylabel("rows predicted per second", color="C1")
    left.set_title("Bigger requests: latency grows slowly, throughput fast")
    for i, (label, series) in enumerate(by_concurrency.items()):
        clients = sorted(series)
        right.plot(clients, [series[c] for c in clients], "o-", color=f"C{i + 2}", label=label)
    right.set_xlabel("concurrent clients")
    right.set_ylabel("requests per second")
    right.set_ylim(bottom=0)
    right.set_title("Throughput against concurrency")
    right.legend(loc="lower right")
    return fig


def plot_allreduce_cost(seconds_by_elements: Mapping[int, float], compute_seconds: Optional[float] = None,
                        itemsize: int = 4) -> Figure:
    """All-reduce time against message size (log-log), with the time of one training step's compute
    as a horizontal line when ``compute_seconds`` is given."""
    if not seconds_by_elements:
        raise ValueError("plot_allreduce_cost needs at least one measurement")
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    sizes = sorted(seconds_by_elements)
    nbytes = [n * itemsize for n in sizes]
    ax.loglog(nbytes, [seconds_by_elements[n] * 1e3 for n in sizes], "o-", label="all-reduce (2 ranks, gloo)")
    if compute_seconds is not None:
        ax.axhline(compute_seconds * 1e3, color="C3", linestyle="--", label="compute of one step")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("time (ms)")
    ax.set_title("Communication: a fixed latency, then bandwidth")
    ax.legend()
    return fig
