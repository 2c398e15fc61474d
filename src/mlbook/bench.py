"""Measuring speed and memory the way the book does it: side by side, repeated, medians and ratios.

Timings on a shared machine are noisy. Every comparison here therefore runs its candidates in one
process, alternates them (A, B, A, B, ...) so that a burst of background load hits all of them alike,
repeats, and reports the median, which a single slow outlier cannot move.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["Timing", "Comparison", "time_call", "compare", "peak_memory"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one candidate: every repeat, and their median."""

    name: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)


@dataclass(frozen=True)
class Comparison:
    """Timings of several candidates measured side by side, with ratios to a baseline."""

    timings: dict[str, Timing]
    baseline: str
    number: dict[str, int] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return self.timings[name].median

    def ratio(self, name: str, to: str | None = None) -> float:
        """How many times slower ``name`` is than ``to`` (the baseline by default): >1 means slower."""
        return self.timings[name].median / self.timings[to or self.baseline].median

    def speedup(self, name: str, over: str | None = None) -> float:
        """How many times faster ``name`` is than ``over`` (the baseline by default)."""
        return 1.0 / self.ratio(name, over)

    def table(self) -> str:
        """A plain-text table: median per call and ratio to the baseline, fastest first."""
        rows = sorted(self.timings.values(), key=lambda t: t.median)
        width = max(len(t.name) for t in rows)
        lines = [f"{'candidate':<{width}}  {'median':>12}  {'vs ' + self.baseline:>14}"]
        for t in rows:
            lines.append(f"{t.name:<{width}}  {_format_seconds(t.median):>12}  {self.ratio(t.name):>13.2f}x")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _calls_per_sample(fn: Callable[[], Any], min_time: float) -> int:
    """Smallest power of ten of calls whose total time reaches ``min_time`` (timer resolution)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time or number >= 10**7:
            return number
        number *= 10


def time_call(fn: Callable[[], Any], *, repeat: int = 7, number: int | None = None,
              min_time: float = 0.01, warmup: int = 1, name: str = "fn") -> Timing:
    """Median seconds per call of ``fn()`` over ``repeat`` samples of ``number`` calls each.

    ``number=None`` picks enough calls per sample to last ``min_time`` seconds. ``warmup`` calls run
    first and are not timed (JIT compilation, caches, lazy imports).
    """
    return compare({name: fn}, repeat=repeat, number=number, min_time=min_time, warmup=warmup).timings[name]


def compare(candidates: Mapping[str, Callable[[], Any]], *, baseline: str | None = None, repeat: int = 7,
            number: int | None = None, min_time: float = 0.01, warmup: int = 1) -> Comparison:
    """Time several zero-argument callables side by side, alternating them on every repeat.

    Returns a :class:`Comparison` whose ratios are taken to ``baseline`` (the first candidate by
    default). Raises ``ValueError`` for an empty mapping, an unknown baseline or a repeat below 1.
    """
    if not candidates:
        raise ValueError("compare() needs at least one candidate")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    baseline = next(iter(candidates)) if baseline is None else baseline
    if baseline not in candidates:
        raise ValueError(f"baseline {baseline!r} is not one of the candidates {list(candidates)}")
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    numbers = {name: number or _calls_per_sample(fn, min_time) for name, fn in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection landing in one candidate's sample is noise, not its cost
    try:
        for _ in range(repeat):
            for name, fn in candidates.items():
                n = numbers[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - start) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    timings = {name: Timing(name, tuple(s)) for name, s in samples.items()}
    return Comparison(timings, baseline, numbers)


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` and return ``(result, peak_bytes)``: the peak of memory allocated during the call.

    Uses :mod:`tracemalloc`, which sees NumPy's array buffers (NumPy reports them to it) as well as
    Python objects. Memory that existed before the call does not count.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, max(peak - before, 0)
