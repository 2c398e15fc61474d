"""AUTOTUNE: choosing a pipeline's parallelism and buffer sizes from measurements, not constants.

Two knobs, two rules, both driven by what the running pipeline measures:

- :class:`ParallelismTuner` (``map(num_parallel_calls=AUTOTUNE)``): hill climbing on the number of
  chunks in flight. It measures the element rate over a window at each setting and moves up while
  a step buys at least ``min_gain`` (10 %) more throughput; when a step does not, it returns to the
  best setting and stays. The plain loop (setting 0) is measured first; parallelism is kept only if
  the best parallel setting beats it. More workers than help are never kept, which matters when the
  consumer or the GIL, not the map, is the bottleneck.
- :class:`BufferTuner` (``prefetch(AUTOTUNE)``): the buffer grows by one each time the consumer
  finds it empty, up to a cap. A consumer that never waits never grows the buffer (and its memory).
"""

from __future__ import annotations

import time

__all__ = ["AUTOTUNE", "ParallelismTuner", "BufferTuner"]

AUTOTUNE = -1
"""Pass as ``num_parallel_calls`` or ``buffer_size`` to let the pipeline choose from measurements."""


class ParallelismTuner:
    """Hill climbing on an integer knob from measured throughput.

    Call :meth:`observe` after every completed unit of work with the number of elements it held;
    read :attr:`value` for the current setting. :attr:`history` lists ``(value, elements_per_second)``
    for every window measured. ``baseline_rate`` is the rate of setting 0 (no parallelism, measured
    by the caller). The climb compares parallel settings with each other; the loop is compared once,
    with the best of them, when the climb ends (or at once if the first parallel window is slower than
    the loop): the tuner falls back to 0 unless the best setting beats it by ``min_gain``. Judging the
    loop against the best setting rather than the first one matters on a busy machine, where two
    chunks in flight can measure no faster than the loop while four are twice as fast. The first
    ``warmup_units`` observations, and the first after each change, only restart the window.
    """

    ABANDON_BELOW = 0.8
    """A first parallel setting measured below this fraction of the loop's rate is given up early."""

    def __init__(self, maximum: int, *, start: int = 1, window_seconds: float = 0.02,
                 window_units: int = 4, min_gain: float = 1.1, baseline_rate: float | None = None,
                 warmup_units: int = 1) -> None:
        if maximum < 1 or not 1 <= start <= maximum:
            raise ValueError(f"need 1 <= start <= maximum, got start={start}, maximum={maximum}")
        self.maximum = maximum
        self.value = start
        self.window_seconds = window_seconds
        self.window_units = window_units
        self.min_gain = min_gain
        self.history: list[tuple[int, float]] = []
        self.done = False
        self.baseline_rate = baseline_rate
        self._best: tuple[int, float] | None = None  # the best parallel setting measured so far
        if baseline_rate is not None:
            self.history.append((0, baseline_rate))
        self._warmup = warmup_units
        self._reset_window()

    def _reset_window(self) -> None:
        self._window_start = time.perf_counter()
        self._units = 0
        self._elements = 0

    def observe(self, elements: int) -> None:
        if self.done:
            return
        if self._warmup > 0:  # start-up (threads, processes) is not the steady state: skip it
            self._warmup -= 1
            self._reset_window()
            return
        self._units += 1
        self._elements += elements
        elapsed = time.perf_counter() - self._window_start
        rate = self._elements / elapsed if elapsed > 0 else float("inf")
        # A first parallel setting far slower than the loop (a cheap map, the GIL) is abandoned after half
        # a window: the rest of the window would only be more elements run at the slower rate.
        clearly_slower = (self._best is None and self.baseline_rate is not None and self._units >= self.window_units
                          and elapsed >= self.window_seconds / 2 and rate < self.ABANDON_BELOW * self.baseline_rate)
        # A later setting is measured over two rounds of its chunks in flight, so that the climb compares
        # steady states. The first one only has to show whether it beats the loop at all: one window and
        # one round, because every element it runs while slower than the loop is time lost.
        rounds = 1 if self._best is None else 2
        units_needed = max(self.window_units, rounds * self.value)
        if not clearly_slower and (self._units < units_needed or elapsed < self.window_seconds):
            return
        self.history.append((self.value, rate))
        first_slower_than_loop = (self._best is None and self.baseline_rate is not None
                                  and rate < self.baseline_rate)
        if self._best is None or rate > self._best[1] * self.min_gain:
            self._best = (self.value, rate)
            if self.value < self.maximum and not first_slower_than_loop:
                self.value += 1
            else:
                self._settle()
        else:
            self._settle()
        self._warmup = 1  # the next window starts after a transition
        self._reset_window()

    def _settle(self) -> None:
        """Stay at the best parallel setting, or at 0 (the loop) if it did not beat the loop. Called only
        after a window was measured, so ``_best`` is set."""
        value, rate = self._best  # type: ignore[misc]
        beats_loop = self.baseline_rate is None or rate > self.baseline_rate * self.min_gain
        self.value = value if beats_loop else 0
        self.done = True


class BufferTuner:
    """Prefetch buffer size that grows by one whenever the consumer had to wait, up to ``maximum``."""

    def __init__(self, maximum: int = 16, start: int = 1) -> None:
        if not 1 <= start <= maximum:
            raise ValueError(f"need 1 <= start <= maximum, got start={start}, maximum={maximum}")
        self.value = start
        self.maximum = maximum
        self.waits = 0

    def consumer_waited(self) -> bool:
        """Record a wait; True when the buffer grew by one slot."""
        self.waits += 1
        if self.value < self.maximum:
            self.value += 1
            return True
        return False
