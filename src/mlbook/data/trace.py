"""Recording what each stage of a pipeline did, and when: the data behind the conveyor-belt picture.

Inside ``with Tracer() as tracer:`` every stage of every pipeline records *spans*
``(stage, lane, start, end)``: ``map`` per call or per chunk (lane = the thread or process that ran
it), ``batch`` per batch, and ``wait`` for the time the consumer spent blocked on ``next()``.
The training loop adds its own spans with ``tracer.span("train")``. Times come from
``time.perf_counter``, which on Linux is the system-wide monotonic clock, so spans recorded in
worker processes line up with spans recorded in the parent.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Span", "Tracer", "active_tracer"]


@dataclass(frozen=True)
class Span:
    stage: str
    lane: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


_active: list["Tracer"] = []


def active_tracer() -> "Tracer | None":
    """The innermost tracer entered with ``with``, or None (pipelines then record nothing)."""
    return _active[-1] if _active else None


class Tracer:
    """Collects :class:`Span` records from every thread while it is active (``with Tracer() as t``)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.origin = time.perf_counter()

    def __enter__(self) -> "Tracer":
        self.origin = time.perf_counter()
        _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _active.remove(self)

    def record(self, stage: str, start: float, end: float, lane: str | None = None) -> None:
        self.spans.append(Span(stage, lane or threading.current_thread().name, start, end))  # append is atomic

    @contextmanager
    def span(self, stage: str, lane: str | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(stage, start, time.perf_counter(), lane)

    def total(self, stage: str) -> float:
        """Seconds spent in ``stage``, summed over lanes (so it can exceed the wall time)."""
        return sum(s.duration for s in self.spans if s.stage == stage)

    def busy_fraction(self, stage: str) -> float:
        """Fraction of the traced wall time that ``stage`` was busy: for ``"train"``, the
        accelerator's utilisation, and ``1 - busy_fraction("train")`` its idle time."""
        wall = self.wall_time()
        return self.total(stage) / wall if wall > 0 else 0.0

    def stages(self) -> list[str]:
        return list(dict.fromkeys(s.stage for s in self.spans))

    def wall_time(self) -> float:
        if not self.spans:
            return 0.0
        return max(s.end for s in self.spans) - min(s.start for s in self.spans)
