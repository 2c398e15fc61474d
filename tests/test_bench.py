"""mlbook.bench: side-by-side timing and peak memory."""

import time

import numpy as np
import pytest

from mlbook.bench import compare, peak_memory, time_call


def test_compare_orders_candidates_by_their_real_cost():
    result = compare({"slow": lambda: time.sleep(0.004), "fast": lambda: time.sleep(0.001)},
                     repeat=3, number=2, warmup=0)
    assert result.median("fast") < result.median("slow")
    assert result.ratio("slow", "fast") > 1.5
    assert result.speedup("fast", "slow") == pytest.approx(result.ratio("slow", "fast"))
    assert len(result.timings["slow"].samples) == 3
    table = result.table()
    assert table.splitlines()[1].startswith("fast") and "x" in table


def test_compare_alternates_candidates_on_every_repeat():
    calls = []
    compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3, number=1, warmup=0)
    assert calls == ["a", "b"] * 3


def test_time_call_reports_seconds_per_call():
    timing = time_call(lambda: time.sleep(0.002), repeat=3, number=2)
    assert 0.0015 < timing.median < 0.05
    assert timing.best <= timing.median


def test_compare_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one candidate"):
        compare({})
    with pytest.raises(ValueError, match="baseline 'c' is not one of"):
        compare({"a": lambda: None}, baseline="c")
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        compare({"a": lambda: None}, repeat=0)
    with pytest.raises(ValueError, match="settle must be zero or more seconds, got -0.1"):
        compare({"a": lambda: None}, settle=-0.1)


def test_compare_settles_before_every_sample_and_outside_the_timing(monkeypatch):
    events = []
    monkeypatch.setattr(time, "sleep", lambda seconds: events.append(("sleep", seconds)))
    result = compare({"a": lambda: events.append("a"), "b": lambda: events.append("b")},
                     repeat=2, number=1, warmup=0, settle=0.25)
    assert events == [("sleep", 0.25), "a", ("sleep", 0.25), "b"] * 2
    monkeypatch.undo()
    result = compare({"noop": lambda: None}, repeat=2, number=1, warmup=0, settle=0.05)
    assert result.median("noop") < 0.01  # the real sleep is not part of the sample


def test_peak_memory_sees_numpy_buffers():
    n = 1_000_000
    result, peak = peak_memory(lambda: np.ones(n, dtype=np.float64).sum())
    assert result == n
    assert 0.9 * 8 * n < peak < 1.5 * 8 * n


def test_peak_memory_does_not_count_what_existed_before():
    existing = np.ones(2_000_000)
    _, peak = peak_memory(lambda: existing.sum())
    assert peak < existing.nbytes / 10


def test_python_parallel_capacity_is_between_taking_turns_and_full_parallelism():
    from mlbook.bench import python_parallel_capacity

    capacity = python_parallel_capacity(processes=2, iterations=200_000, repeat=1)
    assert 0.5 < capacity < 2.6, capacity  # 1.0 = the processes take turns, 2.0 = both at full speed
    with pytest.raises(ValueError, match="positive"):
        python_parallel_capacity(processes=0)
