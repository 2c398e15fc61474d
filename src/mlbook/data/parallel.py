"""The machinery behind ``map(num_parallel_calls=...)`` and ``prefetch``: worker threads and processes.

Three ideas carry the design.

1. **Chunks.** Handing one element to a worker costs tens of microseconds (a queue, a lock, a
   wake-up; for a process also pickling both ways). A map that costs microseconds per element would
   be slower in parallel than in a plain loop. So the map is first *timed* on the first elements in
   the consumer's thread, and elements then travel in chunks sized to take about
   ``CHUNK_SECONDS`` of work each: the hand-off cost is paid once per chunk, not once per element.
   A map so cheap that a whole chunk costs less than the hand-off simply runs in the loop.
2. **Threads or processes.** Threads share memory for free but run Python bytecode one at a time
   (the GIL); they help when the work releases the GIL (NumPy on large arrays, file reads, image
   decoders, ``time.sleep``). Processes run Python in parallel, at the price of moving inputs and
   outputs between address spaces. Outputs, the large side (decoded images, feature arrays), move
   through shared memory: the parent owns a pool of ``multiprocessing.shared_memory`` slots, a worker
   writes its chunk's arrays into the slot it was given and sends back only shapes and offsets.
3. **Clean ends.** Every worker pool lives inside a generator's ``try/finally``. Finishing, an
   exception, ``break``, ``close()`` or garbage collection all run the ``finally``, which cancels
   pending work, joins every thread and process and unlinks every shared-memory segment. A worker's
   exception is re-raised in the consumer as the same type with the same message.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import multiprocessing as mp
import os
import pickle
import queue
import threading
import time
import weakref
from multiprocessing import shared_memory
from typing import Any, Callable, Iterator

import numpy as np

from mlbook.data.autotune import AUTOTUNE, BufferTuner, ParallelismTuner
from mlbook.data.trace import active_tracer

__all__ = ["parallel_map", "prefetch_iter", "process_context", "CHUNK_SECONDS", "sequential_map",
           "PersistentWorkers", "shutdown_workers", "parallel_gain_bound", "MIN_PARALLEL_GAIN",
           "MIN_THREAD_MAP_SECONDS"]

CHUNK_SECONDS = {"thread": 0.0005, "process": 0.01}
"""Work per chunk: large against the hand-off cost (about 20 us per thread task, about 0.2 ms per
process task), small enough that a few chunks in flight keep every worker busy."""

MAX_CHUNK = 4096
TUNER_WINDOW_SECONDS = 0.05
_PROBE_BELOW_SECONDS = 1e-4
FALL_BACK_TO_INLINE = True
"""Whether a map whose parallel schedule measures slower than the plain loop switches to the loop.
Tests set it to False to exercise the workers whatever the machine's load."""
MIN_PARALLEL_GAIN = 1.2
"""A map goes to workers only if Amdahl's law allows at least this speed-up (see :func:`parallel_gain_bound`):
trying the workers costs a measuring window at their speed, which a smaller possible gain cannot repay."""
MIN_THREAD_MAP_SECONDS = 1e-5
"""A map whose median call is shorter than this stays in the loop when the workers would be threads.
Threads help only a map that releases the GIL, and one this cheap gains little even then: the
pipeline's own Python (a few microseconds per element) does not run in parallel. A cheap map that
holds the GIL (NumPy on small arrays does) runs slower on threads, and the trial that would find that
out costs more than a pass of a few hundred milliseconds can win back."""
_NOTHING = object()
_TRANSFER_SAMPLES = 16
_CALIBRATION_SECONDS = 0.01
_CALIBRATION_MAX = 512

_context_lock = threading.Lock()
_context: Any = None


def process_context() -> Any:
    """The multiprocessing context for process workers: ``forkserver``.

    ``fork`` would copy a parent that runs threads (prefetch, thread pools, BLAS), and a lock held by
    one of them at the moment of the fork stays locked forever in the child. ``forkserver`` forks
    workers from a small single-threaded server instead; NumPy and this package are preloaded there
    so each worker starts in milliseconds.
    """
    global _context
    with _context_lock:
        if _context is None:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            _context = mp.get_context(method)
            if method == "forkserver":
                _context.set_forkserver_preload(["numpy", "mlbook.data.parallel"])
        return _context


def sequential_map(upstream: Iterator[Any], fn: Callable[[Any], Any], stage: str) -> Iterator[Any]:
    """``map`` with no parallelism, recording a span per call when a tracer is active."""
    try:
        for element in upstream:
            tracer = active_tracer()
            if tracer is None:
                yield fn(element)
            else:
                start = time.perf_counter()
                result = fn(element)
                tracer.record(stage, start, time.perf_counter())
                yield result
    finally:
        _close(upstream)


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _map_chunk(fn: Callable[[Any], Any], chunk: list[Any]) -> tuple[list[Any], BaseException | None]:
    """The results up to the first failure, and that failure: the elements before a bad one still arrive."""
    results = []
    try:
        for element in chunk:
            results.append(fn(element))
    except Exception as err:  # noqa: BLE001 - delivered to the consumer after the good results
        return results, err
    return results, None


def _run_chunk_in_thread(fn: Callable[[Any], Any], chunk: list[Any], stage: str) -> tuple[list[Any], BaseException | None]:
    start = time.perf_counter()
    outcome = _map_chunk(fn, chunk)
    tracer = active_tracer()
    if tracer is not None:
        tracer.record(stage, start, time.perf_counter())
    return outcome


# ---------------------------------------------------------------------------------------------------
# Process workers and shared memory
# ---------------------------------------------------------------------------------------------------

_worker_fn: Callable[[Any], Any] | None = None
_worker_segments: dict[str, shared_memory.SharedMemory] = {}


def _init_process_worker(fn_bytes: bytes) -> None:
    global _worker_fn
    _worker_fn = pickle.loads(fn_bytes)


class _ShmArray:
    """Stands in for an array that travelled through a shared-memory slot: where it is, and what."""

    __slots__ = ("offset", "dtype", "shape")

    def __init__(self, offset: int, dtype: str, shape: tuple[int, ...]) -> None:
        self.offset, self.dtype, self.shape = offset, dtype, shape


def _pack(value: Any, buffer: memoryview, cursor: list[int]) -> Any:
    """Copy the arrays in ``value`` into ``buffer`` from ``cursor[0]`` on; raise MemoryError when full."""
    if isinstance(value, tuple):
        return tuple(_pack(part, buffer, cursor) for part in value)
    if isinstance(value, dict):
        return {key: _pack(part, buffer, cursor) for key, part in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and value.nbytes >= 256:
        offset = (cursor[0] + 63) // 64 * 64  # cache-line aligned
        end = offset + value.nbytes
        if end > len(buffer):
            raise MemoryError
        target = np.ndarray(value.shape, value.dtype, buffer=buffer, offset=offset)
        target[...] = value
        cursor[0] = end
        return _ShmArray(offset, value.dtype.str, value.shape)
    return value


def _unpack(value: Any, buffer: memoryview) -> Any:
    if isinstance(value, tuple):
        return tuple(_unpack(part, buffer) for part in value)
    if isinstance(value, dict):
        return {key: _unpack(part, buffer) for key, part in value.items()}
    if isinstance(value, _ShmArray):
        return np.ndarray(value.shape, np.dtype(value.dtype), buffer=buffer, offset=value.offset).copy()
    return value


def _nbytes(value: Any) -> int:
    if isinstance(value, tuple):
        return sum(_nbytes(part) for part in value)
    if isinstance(value, dict):
        return sum(_nbytes(part) for part in value.values())
    return value.nbytes + 64 if isinstance(value, np.ndarray) else 0


_WORKER_SEGMENTS_KEPT = 32
"""Slots a worker keeps attached. A long-lived (persistent) worker sees slots come and go as the parent
resizes them; an attachment keeps an unlinked segment's memory alive, so old ones are closed."""


def _attach(slot: str) -> shared_memory.SharedMemory:
    segment = _worker_segments.pop(slot, None)
    if segment is None:
        segment = shared_memory.SharedMemory(name=slot)
        while len(_worker_segments) >= _WORKER_SEGMENTS_KEPT:
            _worker_segments.pop(next(iter(_worker_segments))).close()
    _worker_segments[slot] = segment  # most recently used last
    return segment


def _run_chunk_in_process(chunk: list[Any], slot: str | None) -> tuple:
    """Worker side: map the chunk, put its arrays in the shared-memory slot if given and large enough."""
    start = time.perf_counter()
    results, error = _map_chunk(_worker_fn, chunk)
    end = time.perf_counter()
    if error is not None:
        error = _portable(error)
    nbytes = sum(_nbytes(result) for result in results)
    if slot is not None:
        segment = _attach(slot)
        try:
            cursor = [0]
            packed = [_pack(result, segment.buf, cursor) for result in results]
            return "shm", packed, nbytes, start, end, os.getpid(), error
        except MemoryError:
            pass  # does not fit: send it the slow way; the parent enlarges its slots
    return "pickle", results, nbytes, start, end, os.getpid(), error


def _portable(error: BaseException) -> BaseException:
    """The worker's exception, with its traceback as a note, in a form that survives pickling."""
    import traceback

    error.add_note("raised in worker process {}:\n{}".format(
        os.getpid(), "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()))
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - an exception type that cannot cross processes
        return RuntimeError(f"{type(error).__name__}: {error}")


class _SlotPool:
    """Shared-memory slots owned by the consumer process: created, handed out, unlinked at the end."""

    def __init__(self) -> None:
        self.size = 0
        self.free: list[shared_memory.SharedMemory] = []
        self.all: list[shared_memory.SharedMemory] = []

    def take(self) -> shared_memory.SharedMemory | None:
        if self.size == 0:
            return None
        while self.free:
            segment = self.free.pop()
            if segment.size >= self.size:
                return segment
            self._destroy(segment)
        segment = shared_memory.SharedMemory(create=True, size=self.size)
        self.all.append(segment)
        return segment

    def give_back(self, segment: shared_memory.SharedMemory | None) -> None:
        if segment is not None:
            self.free.append(segment)

    def need(self, nbytes: int) -> None:
        if nbytes > self.size:
            self.size = max(2 * nbytes, 1 << 16)

    def _destroy(self, segment: shared_memory.SharedMemory) -> None:
        self.all.remove(segment)
        segment.close()
        segment.unlink()

    def close(self) -> None:
        for segment in self.all:
            segment.close()
            try:
                segment.unlink()
            except FileNotFoundError:
                pass
        self.all.clear()
        self.free.clear()


class PersistentWorkers:
    """Process workers and shared-memory slots kept alive from one pass over a dataset to the next.

    ``map(..., executor="process", persistent_workers=True)`` owns one (as ``torch``'s DataLoader does
    with ``persistent_workers=True``): starting processes costs tens of milliseconds a pass, which a
    short pass over a dataset feels. A pass borrows the pool and gives it back only if it ended
    cleanly; a pass that stopped early or failed shuts it down, so a worker that may still be busy is
    never reused. The pool ends with :meth:`close`, when the dataset is garbage-collected, or at exit.
    A second pass that runs while the first holds the pool gets its own, ordinary workers.
    """

    def __init__(self) -> None:
        _ALL_KEPT.add(self)
        self._lock = threading.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._slots: _SlotPool | None = None
        self._key: tuple[int, bytes] | None = None
        self._busy = False

    def borrow(self, workers: int, fn_bytes: bytes) -> tuple[cf.ProcessPoolExecutor, _SlotPool, bool] | None:
        """The kept pool for this worker count and function (or a new one to keep), and whether it is
        warm (its processes already started); None while another pass holds it."""
        with self._lock:
            if self._busy:
                return None
            self._busy = True
            if self._pool is not None and self._key == (workers, fn_bytes):
                return self._pool, self._slots, True
            self._shutdown_locked()
            self._pool = _new_process_pool(workers, fn_bytes)
            self._slots, self._key = _SlotPool(), (workers, fn_bytes)
            return self._pool, self._slots, False

    def give_back(self, clean: bool) -> None:
        """End of a pass: keep the pool if the pass ended cleanly, else shut it down."""
        with self._lock:
            self._busy = False
            if not clean:
                self._shutdown_locked()

    def close(self) -> None:
        """Stop the processes and unlink the shared memory."""
        with self._lock:
            self._shutdown_locked()

    @property
    def alive(self) -> bool:
        return self._pool is not None

    def _shutdown_locked(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._slots is not None:
            self._slots.close()
        self._pool, self._slots, self._key = None, None, None


_ALL_KEPT: "weakref.WeakSet[PersistentWorkers]" = weakref.WeakSet()


def shutdown_workers() -> None:
    """Stop the persistent worker processes of every pipeline (they restart on the next pass)."""
    for keeper in list(_ALL_KEPT):
        keeper.close()


def _new_process_pool(workers: int, fn_bytes: bytes) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=process_context(),
                                  initializer=_init_process_worker, initargs=(fn_bytes,))


# ---------------------------------------------------------------------------------------------------
# The parallel map
# ---------------------------------------------------------------------------------------------------


def parallel_gain_bound(loop_seconds: float, map_seconds: float, workers: int) -> float:
    """The best speed-up ``workers`` can give a pipeline whose loop takes ``loop_seconds`` per element,
    ``map_seconds`` of which is the map (Amdahl's law): only the map's share is divided among workers.

    The rest (reading the input, the consumer's own work, Python's iteration) stays in one thread. A map
    of 1 us in a loop of 4 us can gain at most 4 / (3 + 0.5) = 1.14x on two workers, however it is run.
    """
    if loop_seconds <= 0 or workers < 1:
        raise ValueError(f"need loop_seconds > 0 and workers >= 1, got {loop_seconds} and {workers}")
    map_seconds = min(max(map_seconds, 0.0), loop_seconds)
    return loop_seconds / (loop_seconds - map_seconds + map_seconds / workers)


def parallel_map(upstream: Iterator[Any], fn: Callable[[Any], Any], num_parallel_calls: int, *,
                 deterministic: bool = True, executor: str = "thread", stage: str = "map",
                 report: Callable[[dict[str, Any]], None] | None = None,
                 persistent: PersistentWorkers | None = None) -> Iterator[Any]:
    """Apply ``fn`` to every element of ``upstream`` on worker threads or processes.

    ``num_parallel_calls`` is a worker count or :data:`AUTOTUNE`. With ``deterministic=True`` the
    outputs come in input order; with ``False`` a finished chunk may overtake a slow one. ``report``
    (optional) receives a dict describing what was chosen (chunk size, parallelism, autotune history)
    once the pipeline ends. ``persistent`` (process workers only) keeps the worker processes and
    their shared memory between passes instead of starting and stopping them every pass.
    """
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    if num_parallel_calls != AUTOTUNE and num_parallel_calls < 1:
        raise ValueError(f"num_parallel_calls must be a positive int or AUTOTUNE, got {num_parallel_calls}")
    if persistent is not None and executor != "process":
        raise ValueError(f"persistent workers are process workers; got executor={executor!r}")
    if executor == "process":
        try:
            fn_bytes = pickle.dumps(fn)
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise TypeError(f"process workers need a picklable map function (a function defined at the top "
                            f"level of an importable module), got {fn!r}: {err}") from err
    cpus = os.cpu_count() or 1
    info: dict[str, Any] = {"executor": executor, "mode": "calibrating"}
    pool: cf.Executor | None = None
    slots = _SlotPool()
    borrowed = False  # the pool and slots belong to `persistent`, not to this pass
    finished = False  # the pass ran to its end without an error
    pending: collections.deque = collections.deque()
    try:
        # 1. Calibrate: run fn here on the first elements and pass their results on, timing both fn
        #    alone (to size chunks) and the whole loop with the consumer's own work (the rate that
        #    the parallel schedule has to beat).
        started = time.perf_counter()
        fn_times: list[float] = []
        calibrated = 0
        largest_output = 0
        transfer_times: list[float] = []
        for element in upstream:
            began = time.perf_counter()
            result = _timed_call(fn, element, stage)
            fn_times.append(time.perf_counter() - began)
            largest_output = max(largest_output, _nbytes(result))
            # What moving an element to a worker and back would cost: a median of a few samples is
            # enough, and timing every element would slow the calibration of a cheap map down.
            if executor == "process" and len(transfer_times) < _TRANSFER_SAMPLES:
                began = time.perf_counter()
                pickle.loads(pickle.dumps((element, result), protocol=pickle.HIGHEST_PROTOCOL))
                transfer_times.append(time.perf_counter() - began)
            yield result
            calibrated += 1
            if calibrated >= _CALIBRATION_MAX or time.perf_counter() - started >= _CALIBRATION_SECONDS:
                break
        else:
            info["mode"] = "inline (too few elements to parallelise)"
            return
        # Calibration may have stopped on the very last element: then there is nothing to hand out.
        lookahead = next(upstream, _NOTHING)
        if lookahead is _NOTHING:
            info["mode"] = "inline (too few elements to parallelise)"
            return
        # Elements taken from upstream ahead of time go first, whatever the pass does next. The loop paths
        # below iterate upstream itself: a cheap map pays for every generator layer between it and the
        # consumer.
        head = [lookahead]
        per_element = sum(fn_times) / calibrated
        chunk_size = int(min(MAX_CHUNK, max(1, round(CHUNK_SECONDS[executor] / max(per_element, 1e-9)))))
        info.update(per_element_seconds=per_element, chunk_size=chunk_size)
        # The loop's rate, measured the way the tuner will measure the parallel schedule: a window of
        # about TUNER_WINDOW_SECONDS of plain inline work, consumer's time included.
        # Only cheap maps need it: for them the timing calls made while calibrating cost as much as the
        # map itself. An expensive map's calibration rate is already fair, and probing it would keep a
        # short pass in the loop for too long. (Only needed when the loop is a candidate at all.)
        if FALL_BACK_TO_INLINE and per_element < _PROBE_BELOW_SECONDS:
            probe = int(min(20_000, max(8, TUNER_WINDOW_SECONDS / max(per_element, 1e-9))))
            probe_start = time.perf_counter()
            # exactly the loop that falling back would run (no per-element timing calls), or the
            # parallel schedule would be judged against a loop slowed down by its own measurement
            yield from sequential_map(itertools.islice(itertools.chain(head, upstream), probe), fn, stage)
            inline_rate = probe / (time.perf_counter() - probe_start)
            lookahead = next(upstream, _NOTHING)
            if lookahead is _NOTHING:  # the pass ended within the probe
                info["mode"] = "inline (too few elements to parallelise)"
                return
            head = [lookahead]
        else:
            inline_rate = calibrated / (time.perf_counter() - started)
        workers = cpus if num_parallel_calls == AUTOTUNE else num_parallel_calls
        if executor == "thread" and num_parallel_calls == AUTOTUNE:
            workers = 2 * cpus  # threads that wait on I/O or sleep do not occupy a core
        gain_bound = parallel_gain_bound(1.0 / inline_rate, per_element, workers)
        info.update(per_element_seconds=per_element, inline_rate=inline_rate, chunk_size=chunk_size,
                    workers=workers, gain_bound=gain_bound)
        # Medians: one preemption during one timed call must not decide where the whole pass runs.
        median_call = float(np.median(fn_times))
        inline_reason = None
        if workers == 1:  # one worker: the loop is the fastest schedule there is
            inline_reason = "inline"
        elif not FALL_BACK_TO_INLINE:
            pass
        elif gain_bound < MIN_PARALLEL_GAIN:
            inline_reason = f"inline (the map is too small a share of each element's time: at most {gain_bound:.2f}x)"
        elif executor == "thread" and median_call < MIN_THREAD_MAP_SECONDS:
            inline_reason = "inline (map too cheap for threads)"
        elif executor == "process" and median_call < 2 * float(np.median(transfer_times)):
            # The parent would spend as long pickling each element for a worker as the map takes.
            inline_reason = "inline (map cheaper than moving its data to a process)"
        elif chunk_size >= MAX_CHUNK:
            # a map so cheap that even a chunk of MAX_CHUNK elements is not worth a hand-off
            inline_reason = "inline"
        if inline_reason is not None:
            info["mode"] = inline_reason
            yield from sequential_map(iter(head), fn, stage)
            yield from sequential_map(upstream, fn, stage)
            return
        remaining = itertools.chain(head, upstream)
        # 2. Start the workers (or borrow the ones kept from the last pass).
        warm = False
        if executor == "thread":
            pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"mlbook-{stage}")
        else:
            kept = persistent.borrow(workers, fn_bytes) if persistent is not None else None
            if kept is not None:
                pool, slots, warm = kept
                borrowed = True
            else:
                pool = _new_process_pool(workers, fn_bytes)
            # Size the shared-memory slots from the outputs seen while calibrating (with room to spare).
            slots.need(int(1.25 * chunk_size * largest_output))
        info["workers_reused"] = warm
        # 3. The tuner compares the parallel schedule with the inline rate just measured (setting 0).
        #    A fixed num_parallel_calls=k is one setting to check: k chunks at work, k more queued,
        #    and back to the loop if that is not faster. AUTOTUNE climbs from 2 chunks in flight.
        baseline = inline_rate if FALL_BACK_TO_INLINE else None
        # each new process's first chunk includes its start-up: not the steady state
        warmup = workers if executor == "process" and not warm else 1
        if num_parallel_calls == AUTOTUNE:
            tuner = ParallelismTuner(2 * workers, start=min(2, 2 * workers), baseline_rate=baseline,
                                     warmup_units=warmup, window_seconds=TUNER_WINDOW_SECONDS)
        else:
            tuner = ParallelismTuner(2 * workers, start=2 * workers, baseline_rate=baseline, min_gain=1.0,
                                     warmup_units=warmup, window_seconds=TUNER_WINDOW_SECONDS)
        info["mode"] = "parallel"
        transport: dict[str, int] = {}
        if executor == "process":
            info["chunks_by_transport"] = transport  # how many chunks came back through "shm" or "pickle"
        exhausted = False

        def submit() -> bool:
            chunk = list(itertools.islice(remaining, chunk_size))
            if not chunk:
                return False
            if executor == "thread":
                pending.append((pool.submit(_run_chunk_in_thread, fn, chunk, stage), None, chunk))
            else:
                segment = slots.take()
                future = pool.submit(_run_chunk_in_process, chunk, segment.name if segment else None)
                pending.append((future, segment, chunk))
            return True

        while True:
            while not exhausted and tuner.value > 0 and len(pending) < tuner.value:
                exhausted = not submit()
            if not pending:
                break
            if deterministic:
                future, segment, chunk = pending.popleft()
            else:
                futures = [entry[0] for entry in pending]
                done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                index = next(i for i, entry in enumerate(pending) if entry[0] in done)
                future, segment, chunk = pending[index]
                del pending[index]
            if future.cancelled():  # taken back from the queue after the switch to the loop: run it here
                slots.give_back(segment)
                results, error = _run_chunk_in_thread(fn, chunk, stage)
            else:
                outcome = future.result()
                if executor == "process":
                    results, error = _receive(outcome, segment, slots, stage, transport)
                else:
                    results, error = outcome
                was_done = tuner.done
                tuner.observe(len(results))
                if tuner.done and not was_done and tuner.value == 0:
                    # Back to the loop. Chunks still waiting in the queue would run at the slower parallel
                    # rate; take them back (only those already running are awaited) and run them here,
                    # in their turn, so that the order of the outputs does not change.
                    for entry in pending:
                        entry[0].cancel()
            yield from results
            if error is not None:
                raise error  # the worker's exception: same type, same message
        info.update(parallelism=tuner.value, autotune_history=list(tuner.history))
        if tuner.value == 0:
            # Parallel was not faster than the loop (the map holds the GIL, or the consumer is the
            # bottleneck): stop the workers and finish in the loop.
            info["mode"] = "inline (parallel measured slower)"
            if not borrowed:
                pool.shutdown(wait=True)
                pool = None
            yield from sequential_map(remaining, fn, stage)
        finished = True
    finally:
        for future, *_ in pending:
            future.cancel()
        if borrowed:
            persistent.give_back(clean=finished and not pending)
        else:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            slots.close()
        _close(upstream)
        if report is not None:
            report(info)


def _timed_call(fn: Callable[[Any], Any], element: Any, stage: str) -> Any:
    start = time.perf_counter()
    result = fn(element)
    tracer = active_tracer()
    if tracer is not None:
        tracer.record(stage, start, time.perf_counter())
    return result


def _receive(message: tuple, segment: shared_memory.SharedMemory | None, slots: _SlotPool, stage: str,
             counts: dict[str, int]) -> tuple[list[Any], BaseException | None]:
    kind, payload, nbytes, start, end, pid, error = message
    tracer = active_tracer()
    if tracer is not None:
        tracer.record(stage, start, end, lane=f"process-{pid}")
    counts[kind] = counts.get(kind, 0) + 1
    if kind == "shm":
        results = [_unpack(result, segment.buf) for result in payload]
    else:
        results = payload
        slots.need(nbytes)
    slots.give_back(segment)
    return results, error


# ---------------------------------------------------------------------------------------------------
# Prefetch: a producer thread and a bounded buffer
# ---------------------------------------------------------------------------------------------------

_ITEM, _END, _ERROR = 0, 1, 2


def prefetch_iter(upstream: Iterator[Any], buffer_size: int, *, stage: str = "prefetch",
                  report: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Any]:
    """Run ``upstream`` in a background thread, keeping up to ``buffer_size`` elements ready.

    ``buffer_size=AUTOTUNE`` starts at one slot and adds one each time the consumer finds the buffer
    empty (:class:`~mlbook.data.autotune.BufferTuner`). The producer thread stops, closes
    ``upstream`` and is joined when this generator ends for any reason.
    """
    if buffer_size != AUTOTUNE and buffer_size < 1:
        raise ValueError(f"prefetch buffer_size must be a positive int or AUTOTUNE, got {buffer_size}")
    tuner = BufferTuner() if buffer_size == AUTOTUNE else None
    space = threading.Semaphore(tuner.value if tuner else buffer_size)
    ready: queue.Queue = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for element in upstream:
                while not space.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                ready.put((_ITEM, element))
            ready.put((_END, None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, who re-raises it
            ready.put((_ERROR, err))
        finally:
            _close(upstream)

    producer = threading.Thread(target=produce, name=f"mlbook-{stage}", daemon=True)
    producer.start()
    try:
        while True:
            try:
                kind, value = ready.get_nowait()
            except queue.Empty:
                if tuner is not None and tuner.consumer_waited():
                    space.release()  # one more slot
                while True:
                    try:
                        kind, value = ready.get(timeout=0.1)
                        break
                    except queue.Empty:
                        if not producer.is_alive() and ready.empty():
                            raise RuntimeError("prefetch producer thread ended without a result") from None
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            space.release()
            yield value
    finally:
        stop.set()
        if producer is not threading.current_thread():  # a GC pass can run this in any thread
            producer.join()
        if report is not None:
            report({"buffer_size": tuner.value if tuner else buffer_size,
                    "consumer_waits": tuner.waits if tuner else None})
