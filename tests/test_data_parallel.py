"""Parallel map and prefetch: order, errors, early exit, leaks, autotuning. Every test has a watchdog."""

from __future__ import annotations

import gc
import multiprocessing
from functools import partial
import pickle
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from mlbook.data import AUTOTUNE, Dataset, Tracer
from mlbook.data import parallel
from mlbook.data import workloads as work
from mlbook.data.autotune import BufferTuner, ParallelismTuner
from tests._data_guards import no_leaks, watchdog  # noqa: F401 - fixtures


@pytest.fixture
def force_parallel(monkeypatch):
    """Keep the workers even when the loaded test machine measures them slower than the loop."""
    monkeypatch.setattr(parallel, "FALL_BACK_TO_INLINE", False)


def ints(dataset):
    return [int(np.asarray(x).reshape(-1)[0]) for x in dataset]


@pytest.mark.parametrize("calls", [2, AUTOTUNE])
def test_thread_map_deterministic_keeps_order(calls, force_parallel, no_leaks):
    ds = Dataset.range(60).map(work.gil_free, num_parallel_calls=calls)
    assert ints(ds) == [2 * i for i in range(60)]
    assert ds.last_run["mode"] == "parallel"


def test_thread_map_nondeterministic_keeps_multiset(force_parallel, no_leaks):
    slow_first = Dataset.range(40).map(lambda x: (time.sleep(0.02 if x < 4 else 0.001), x)[1],
                                       num_parallel_calls=4, deterministic=False)
    out = ints(slow_first)
    assert sorted(out) == list(range(40))


def test_process_map_matches_sequential(force_parallel, no_leaks):
    ds = Dataset.range(80).map(work.python_heavy, num_parallel_calls=2, executor="process")
    expected = [work.python_heavy(np.int64(i)) for i in range(80)]
    got = list(ds)
    assert len(got) == 80 and all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert ds.last_run["mode"] == "parallel"


def test_process_map_large_outputs_use_shared_memory(force_parallel, no_leaks):
    # 120 elements: the first ~10 ms are timed in the loop, and a fast machine maps dozens in that time
    ds = Dataset.range(120).map(work.big_array, num_parallel_calls=2, executor="process")
    got = list(ds)
    assert all(a.shape == (50_000,) and np.all(a == i) for i, a in enumerate(got))
    transport = ds.last_run["chunks_by_transport"]
    assert transport.get("shm", 0) >= 1, transport  # after the first results the slots exist


def test_process_map_with_tuple_elements(force_parallel, no_leaks):
    ds = Dataset.from_tensor_slices((np.arange(30), np.arange(30) * 3)).map(np.add, num_parallel_calls=2,
                                                                             executor="process")
    assert ints(ds) == [4 * i for i in range(30)]


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_worker_exception_keeps_type_and_message(executor, force_parallel, no_leaks):
    fn = work.FailingMap(bad=45, error_type=KeyError, message="element 45 is poisoned", seconds=0.002)
    ds = Dataset.range(100).map(fn, num_parallel_calls=2, executor=executor)
    seen = []
    with pytest.raises(KeyError, match="element 45 is poisoned"):
        for x in ds:
            seen.append(int(x))
    assert seen == list(range(45))  # deterministic: everything before the failure arrives first
    assert ds.last_run["mode"] == "parallel" and ds.last_run["per_element_seconds"] < 0.02  # raised by a worker


def test_unpicklable_function_for_processes_is_a_type_error():
    with pytest.raises(TypeError, match="picklable"):
        list(Dataset.range(3).map(lambda x: x, num_parallel_calls=2, executor="process"))


def test_worker_crash_raises_not_hangs(force_parallel, no_leaks):
    # the bad element lies past the first _CALIBRATION_MAX elements, which the consumer maps itself
    ds = Dataset.range(3000).map(partial(work.exit_process_on, bad=2000), num_parallel_calls=2, executor="process")
    with pytest.raises(BrokenProcessPool):
        list(ds)


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_break_early_leaves_nothing(executor, force_parallel, no_leaks):
    fn = work.gil_free if executor == "thread" else work.python_heavy
    ds = Dataset.range(10_000).map(fn, num_parallel_calls=2, executor=executor).prefetch(4)
    for i, _ in enumerate(ds):
        if i == 30:
            break


def test_close_and_context_manager_and_gc(force_parallel, no_leaks):
    ds = Dataset.range(10_000).map(work.big_array, num_parallel_calls=2, executor="process").prefetch(2)
    with ds.iterator() as it:
        next(it)
    it = ds.iterator()
    next(it)
    it.close()
    it = iter(ds)
    next(it)
    del it
    gc.collect()


def test_prefetch_propagates_upstream_error(no_leaks):
    def boom():
        yield 1
        raise RuntimeError("disk on fire")

    ds = Dataset.from_generator(boom).prefetch(3)
    it = iter(ds)
    assert int(next(it)) == 1
    with pytest.raises(RuntimeError, match="disk on fire"):
        next(it)


def test_prefetch_keeps_order_and_autotune_grows_when_consumer_waits(no_leaks):
    slow = Dataset.range(30).map(lambda x: (time.sleep(0.002), x)[1]).prefetch(AUTOTUNE)
    assert ints(slow) == list(range(30))
    assert slow.last_run["consumer_waits"] >= 1 and slow.last_run["buffer_size"] > 1


def test_cheap_map_runs_inline():
    ds = Dataset.range(20_000).map(work.cheap, num_parallel_calls=2)
    assert ints(ds) == [i + 1 for i in range(20_000)]
    run = ds.last_run
    # the decision follows the measurements: a parallel setting that was measured is kept only if it beat
    # the loop's rate (the input can run out before the last setting's measuring window closes)
    history = dict(run.get("autotune_history", []))
    if run["mode"] == "parallel":
        if run["parallelism"] in history:
            assert history[run["parallelism"]] > run["inline_rate"], run
    else:
        assert run["mode"].startswith("inline"), run


def test_tuner_falls_back_to_inline_when_parallel_is_slower():
    tuner = ParallelismTuner(4, start=4, baseline_rate=100.0, min_gain=1.0, warmup_units=0,
                             window_seconds=0.0, window_units=1)
    tuner._window_start = time.perf_counter() - 1.0  # noqa: SLF001
    tuner._units = 100
    tuner.observe(60)  # 60 elements/s against the loop's 100
    assert tuner.done and tuner.value == 0
    assert tuner.history[0] == (0, 100.0)


def drive(tuner, rates):
    """Feed the tuner one full window per setting at the given elements/s until it settles."""
    for _ in range(40):
        if tuner.done:
            break
        tuner._window_start = time.perf_counter() - 1.0  # noqa: SLF001 - drive the clock directly
        tuner._elements = 0
        tuner._units = 100
        tuner.observe(int(rates[tuner.value]))
    return tuner


def test_tuner_judges_the_loop_against_the_best_setting_not_the_first():
    # on a busy machine two chunks in flight barely beat the loop while three are much faster
    tuner = drive(ParallelismTuner(6, start=2, baseline_rate=100.0, warmup_units=0, window_units=1),
                  {2: 105.0, 3: 180.0, 4: 190.0})
    assert tuner.done and tuner.value == 3
    assert [v for v, _ in tuner.history] == [0, 2, 3, 4]
    # no setting beats the loop by min_gain: back to the loop after the climb
    tuner = drive(ParallelismTuner(6, start=2, baseline_rate=100.0, warmup_units=0, window_units=1),
                  {2: 105.0, 3: 108.0})
    assert tuner.done and tuner.value == 0
    # the first setting is slower than the loop: no climb at all
    tuner = drive(ParallelismTuner(6, start=2, baseline_rate=100.0, warmup_units=0, window_units=1),
                  {2: 80.0})
    assert tuner.done and tuner.value == 0 and len(tuner.history) == 2


def test_tuner_abandons_a_first_setting_far_slower_than_the_loop_after_half_a_window():
    tuner = ParallelismTuner(16, start=16, baseline_rate=100.0, min_gain=1.0, warmup_units=0,
                             window_seconds=1.0, window_units=4)
    tuner._window_start = time.perf_counter() - 0.6  # noqa: SLF001 - 0.6 s into a 1 s window
    for _ in range(4):
        tuner.observe(7)  # 28 elements in 0.6 s: under half the loop's rate, after 4 of the 16 chunks
    assert tuner.done and tuner.value == 0 and tuner.history[-1][0] == 16
    # merely a little slower (90 % of the loop): judged once the window has closed and one round of the 16
    # chunks in flight has come back, not before, and not after two rounds (each element run at this rate
    # is time lost)
    tuner = ParallelismTuner(16, start=16, baseline_rate=100.0, min_gain=1.0, warmup_units=0,
                             window_seconds=0.1, window_units=4)
    elements = 0
    for unit in range(1, 17):
        elements += 10
        tuner._window_start = time.perf_counter() - max(0.11, elements / 90.0)  # noqa: SLF001 - 90 elements/s
        tuner.observe(10)
        assert tuner.done == (unit == 16), unit
    assert tuner.value == 0 and tuner.history[-1][0] == 16 and tuner.history[-1][1] == pytest.approx(90, rel=0.05)


def test_later_settings_are_measured_over_two_rounds_of_chunks_in_flight():
    tuner = ParallelismTuner(16, start=2, baseline_rate=100.0, warmup_units=0, window_seconds=0.0,
                             window_units=1)
    tuner.observe(300)
    assert len(tuner.history) == 1  # the first setting: judged after one round of its 2 chunks
    tuner.observe(300)
    assert tuner.value == 3 and not tuner.done
    tuner._warmup = 0  # noqa: SLF001
    for _ in range(5):
        tuner.observe(300)
    assert len(tuner.history) == 2  # 5 chunks are not yet two rounds of 3
    tuner.observe(300)
    assert len(tuner.history) == 3


def test_switching_back_to_the_loop_takes_queued_chunks_back(monkeypatch, no_leaks):
    """After the tuner gives up, chunks still queued for the workers run in the consumer's thread, in order."""
    import threading

    class GiveUpAtOnce(ParallelismTuner):
        def observe(self, elements):
            if not self.done:
                self.history.append((self.value, 1.0))
                self.value, self.done = 0, True

    monkeypatch.setattr(parallel, "ParallelismTuner", GiveUpAtOnce)
    monkeypatch.setattr(parallel, "_CALIBRATION_MAX", 4)
    monkeypatch.setattr(parallel, "_PROBE_BELOW_SECONDS", 0.0)  # no loop probe: go straight to the workers
    monkeypatch.setattr(parallel, "CHUNK_SECONDS", {"thread": 1e-9, "process": 1e-9})  # one element per chunk
    consumer = threading.get_ident()
    ran_in: dict[int, bool] = {}

    def slow_identity(x):
        ran_in[int(x)] = threading.get_ident() == consumer
        time.sleep(0.001 if int(x) == 4 else 0.02)  # the first chunk on the workers finishes long before the rest
        return x

    ds = Dataset.range(40).map(slow_identity, num_parallel_calls=8)
    assert ints(ds) == list(range(40))
    assert ds.last_run["mode"] == "inline (parallel measured slower)"
    on_workers = [i for i in range(4, 40) if not ran_in[i]]
    # 16 chunks (elements 4 to 19) were in flight when the tuner gave up; the 8 running stay on the workers
    # (and the one a worker may pick up before the queue is emptied), the rest come back to the loop
    assert set(on_workers) <= set(range(4, 20)) and len(on_workers) <= 9, on_workers


def test_calibration_that_ends_on_the_last_element_starts_no_workers(monkeypatch, no_leaks):
    monkeypatch.setattr(parallel, "_CALIBRATION_MAX", 5)  # calibration stops after exactly 5 elements,
    monkeypatch.setattr(parallel, "_CALIBRATION_SECONDS", 1e9)  # however slow the machine is
    ds = Dataset.range(5).map(work.python_heavy, num_parallel_calls=2, executor="process")
    assert len(list(ds)) == 5
    assert ds.last_run["mode"] == "inline (too few elements to parallelise)", ds.last_run


def test_autotune_finds_parallelism_for_sleeping_map(no_leaks):
    ds = Dataset.range(400).map(lambda x: (time.sleep(0.002), x)[1], num_parallel_calls=AUTOTUNE)
    assert ints(ds) == list(range(400))
    history = ds.last_run["autotune_history"]
    assert history and ds.last_run["parallelism"] >= 2, ds.last_run


def test_parallelism_tuner_climbs_then_settles():
    tuner = ParallelismTuner(8, window_seconds=0.0, window_units=1, warmup_units=0)
    rates = {1: 100.0, 2: 190.0, 3: 260.0, 4: 270.0}  # gains stop paying after 3
    for _ in range(40):
        value = tuner.value
        tuner._window_start = time.perf_counter() - 1.0  # noqa: SLF001 - drive the clock directly
        tuner._elements = 0
        tuner._units = 100
        tuner.observe(int(rates.get(value, 270.0)))
    assert tuner.done and tuner.value == 3
    assert [v for v, _ in tuner.history] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="start"):
        ParallelismTuner(2, start=3)


def test_buffer_tuner_caps():
    tuner = BufferTuner(maximum=3)
    assert [tuner.consumer_waited() for _ in range(4)] == [True, True, False, False]
    assert tuner.value == 3


def test_tracer_records_worker_spans_from_threads_and_processes(force_parallel):
    with Tracer() as tracer:
        list(Dataset.range(20).map(work.gil_free, num_parallel_calls=2, name="io").batch(5))
        list(Dataset.range(40).map(work.python_heavy, num_parallel_calls=2, executor="process", name="cpu"))
    lanes = {s.lane for s in tracer.spans if s.stage == "cpu"}
    assert any(lane.startswith("process-") for lane in lanes)
    assert tracer.total("io") > 0 and len([s for s in tracer.spans if s.stage == "batch"]) == 4
    assert all(s.end >= s.start for s in tracer.spans)


def test_map_function_wrapper_pickles():
    from mlbook.data.dataset import _Apply

    assert pickle.loads(pickle.dumps(_Apply(work.cheap)))(np.int64(1)) == 2


def worker_pids(dataset):
    with Tracer() as tracer:
        values = ints(dataset)
    return values, {s.lane for s in tracer.spans if s.lane and s.lane.startswith("process-")}


def test_persistent_workers_are_reused_between_passes_and_stop_with_the_dataset(force_parallel, no_leaks):
    ds = Dataset.range(120).map(work.big_array, num_parallel_calls=2, executor="process", persistent_workers=True)
    first, first_pids = worker_pids(ds)
    assert ds.last_run["workers_reused"] is False and len(multiprocessing.active_children()) == 2
    second, second_pids = worker_pids(ds)
    assert first == second == list(range(120))
    assert ds.last_run["workers_reused"] is True and second_pids == first_pids  # the same processes
    assert ds.last_run["chunks_by_transport"].get("shm", 0) > 0  # the kept slots still carry the outputs
    del ds
    gc.collect()  # the dataset's finaliser stops the workers and unlinks the slots (checked by no_leaks)


def test_a_pass_that_stops_early_does_not_keep_its_workers(force_parallel, no_leaks):
    ds = Dataset.range(400).map(work.python_heavy, num_parallel_calls=2, executor="process", persistent_workers=True)
    keeper = ds._workers[0]  # noqa: SLF001
    with ds.iterator() as it:
        for i, _ in enumerate(it):
            if i == 100:
                break  # chunks may still be running in the workers: they must not serve the next pass
    assert not keeper.alive
    assert len(list(ds)) == 400
    assert keeper.alive  # a clean pass keeps them again
    from mlbook.data import shutdown_workers

    shutdown_workers()
    assert not keeper.alive


def test_persistent_workers_need_process_workers():
    with pytest.raises(ValueError, match="persistent_workers=True needs process workers"):
        Dataset.range(3).map(work.cheap, num_parallel_calls=2, persistent_workers=True)
    with pytest.raises(ValueError, match="persistent_workers=True needs process workers"):
        Dataset.range(3).map(work.cheap, executor="process", persistent_workers=True)


def test_a_worker_keeps_only_a_bounded_number_of_slots_attached(monkeypatch):
    from multiprocessing import shared_memory

    monkeypatch.setattr(parallel, "_WORKER_SEGMENTS_KEPT", 3)
    monkeypatch.setattr(parallel, "_worker_segments", {})
    owned = [shared_memory.SharedMemory(create=True, size=4096) for _ in range(5)]
    try:
        for segment in owned:
            parallel._attach(segment.name)  # noqa: SLF001
        parallel._attach(owned[2].name)  # noqa: SLF001 - used again: becomes the most recent
        assert list(parallel._worker_segments) == [owned[3].name, owned[4].name, owned[2].name]  # noqa: SLF001
    finally:
        for segment in parallel._worker_segments.values():  # noqa: SLF001
            segment.close()
        for segment in owned:
            segment.close()
            segment.unlink()


def test_parallel_gain_bound_is_amdahls_law():
    assert parallel.parallel_gain_bound(4e-6, 1e-6, 2) == pytest.approx(4 / 3.5)
    assert parallel.parallel_gain_bound(1e-3, 1e-3, 4) == pytest.approx(4.0)  # all map: linear
    assert parallel.parallel_gain_bound(1e-3, 0.0, 8) == pytest.approx(1.0)  # no map: nothing to gain
    assert parallel.parallel_gain_bound(1e-3, 2e-3, 2) == pytest.approx(2.0)  # timing noise: share capped at 1
    with pytest.raises(ValueError, match="loop_seconds > 0"):
        parallel.parallel_gain_bound(0.0, 1e-6, 2)


def test_a_map_that_is_a_small_share_of_the_loop_stays_inline(monkeypatch, no_leaks):
    """The consumer spends ~100 us per element on its own work: no number of workers can speed up a 2 us map."""
    monkeypatch.setattr(parallel, "TUNER_WINDOW_SECONDS", 0.001)  # probe the loop over a few hundred elements
    ds = Dataset.range(3000).map(work.cheap, num_parallel_calls=8)
    seen = []
    for x in ds:
        stop = time.perf_counter() + 1e-4
        while time.perf_counter() < stop:  # the consumer's own work, holding the GIL
            pass
        seen.append(int(x))
    assert seen == [i + 1 for i in range(3000)]
    run = ds.last_run
    assert run["mode"].startswith("inline (the map is too small a share"), run
    assert run["gain_bound"] < parallel.MIN_PARALLEL_GAIN


def test_a_map_that_dominates_the_loop_is_tried_on_workers(no_leaks):
    ds = Dataset.range(60).map(lambda x: (time.sleep(0.002), x)[1], num_parallel_calls=2)
    assert ints(ds) == list(range(60))
    assert ds.last_run["gain_bound"] > 1.8 and "too small a share" not in ds.last_run["mode"], ds.last_run


def test_a_map_of_a_few_microseconds_stays_in_the_loop_with_threads(no_leaks):
    ds = Dataset.range(60_000).map(work.cheap, num_parallel_calls=4)
    assert ints(ds)[-1] == 60_000
    run = ds.last_run
    # the Amdahl check may already have kept it in the loop; if not, the thread threshold does
    assert run["mode"] == "inline (map too cheap for threads)" or run["mode"].startswith("inline (the map is too small"), run
    assert "autotune_history" not in run  # no trial on the workers


def test_without_the_thread_threshold_the_same_cheap_map_is_tried(monkeypatch, no_leaks):
    monkeypatch.setattr(parallel, "MIN_THREAD_MAP_SECONDS", 1e-9)  # the same cheap map, threshold lowered
    monkeypatch.setattr(parallel, "MIN_PARALLEL_GAIN", 1.0)
    ds = Dataset.range(60_000).map(work.cheap, num_parallel_calls=4)
    assert ints(ds)[-1] == 60_000
    assert "autotune_history" in ds.last_run, ds.last_run  # the workers were tried
