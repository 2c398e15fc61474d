"""``Dataset``: tf.data's input-pipeline model, in NumPy and Python.

A :class:`Dataset` is a *recipe*, not data: each transformation returns a new dataset that knows
how to produce its elements from its input's elements, and nothing runs until it is iterated.
Every ``iter(dataset)`` starts a fresh pass (an *epoch*) with its own state, so a dataset can be
iterated again and again, and two passes never share a worker pool or a shuffle buffer.

Elements are NumPy arrays, or tuples and dicts of them (the element's *structure*). Names and
semantics follow ``tf.data.Dataset``: ``range(10).batch(3)`` yields ``[0 1 2] [3 4 5] [6 7 8] [9]``,
``map`` unpacks tuple elements into positional arguments, ``shuffle`` draws from a buffer of
``buffer_size`` elements and reshuffles every epoch, ``cardinality`` is ``INFINITE`` (-1) or
``UNKNOWN`` (-2) when it is not a count.

One optimisation goes beyond tf.data: a pipeline that starts from in-memory arrays
(``from_tensor_slices``) and applies only ``shuffle``, ``take``, ``skip`` and ``repeat(count)``
before ``batch`` is run on *indices*. The shuffle buffer shuffles integer positions (the same
algorithm, the same random numbers, so the same order), and ``batch`` gathers each batch with one
fancy-indexing call instead of stacking ``batch_size`` Python objects.
"""

from __future__ import annotations

import glob as _glob
import itertools
import os
import time
import weakref
from pathlib import Path
from contextlib import closing
from typing import Any, Callable, Iterable, Iterator

import numba
import numpy as np

from mlbook.data.autotune import AUTOTUNE
from mlbook.data.parallel import PersistentWorkers, _close, parallel_map, prefetch_iter, sequential_map
from mlbook.data.structure import as_element, describe, tree_leaves, tree_map, tree_stack
from mlbook.data.trace import active_tracer

__all__ = ["Dataset", "DatasetIterator", "AUTOTUNE", "INFINITE", "UNKNOWN", "shuffle_order"]

INFINITE = -1
"""``cardinality()`` of a dataset that never ends (``repeat()``), as ``tf.data.INFINITE_CARDINALITY``."""
UNKNOWN = -2
"""``cardinality()`` that cannot be known without iterating (``filter``, ``from_generator``)."""

_RANDOM_BLOCK = 4096


# ---------------------------------------------------------------------------------------------------
# The shuffle buffer, on positions (compiled) and on elements (Python); both consume the same draws
# ---------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _buffer_shuffle_positions(n: int, buffer_size: int, draws: np.ndarray) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    buffer = np.empty(min(buffer_size, n), dtype=np.int64)
    filled = 0
    emitted = 0
    for position in range(n):
        if filled < buffer_size:
            buffer[filled] = position
            filled += 1
            continue
        slot = int(draws[emitted] * filled)
        out[emitted] = buffer[slot]
        emitted += 1
        buffer[slot] = position
    while filled > 0:
        slot = int(draws[emitted] * filled)
        out[emitted] = buffer[slot]
        emitted += 1
        filled -= 1
        buffer[slot] = buffer[filled]
    return out


def shuffle_order(n: int, buffer_size: int, rng: np.random.Generator) -> np.ndarray:
    """The order in which a shuffle buffer of ``buffer_size`` emits ``n`` elements, as positions.

    The buffer holds the first ``buffer_size`` elements; each output picks a uniformly random slot,
    emits its element and refills the slot with the next input; at the end the buffer drains in
    random order. ``buffer_size >= n`` gives a uniformly random permutation; ``buffer_size == 1``
    keeps the order. An element can move back at most ``buffer_size - 1`` places.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    draws = np.concatenate([rng.random(_RANDOM_BLOCK) for _ in range(-(-n // _RANDOM_BLOCK))])
    return _buffer_shuffle_positions(n, buffer_size, draws)


def _shuffle_elements(upstream: Iterator[Any], buffer_size: int, rng: np.random.Generator) -> Iterator[Any]:
    """The shuffle buffer over a stream of unknown length; same draws, same order as :func:`shuffle_order`."""
    buffer: list[Any] = []
    draws = rng.random(_RANDOM_BLOCK)
    used = 0
    try:
        for element in upstream:
            if len(buffer) < buffer_size:
                buffer.append(element)
                continue
            if used == _RANDOM_BLOCK:
                draws, used = rng.random(_RANDOM_BLOCK), 0
            slot = int(draws[used] * len(buffer))
            used += 1
            yield buffer[slot]
            buffer[slot] = element
        while buffer:
            if used == _RANDOM_BLOCK:
                draws, used = rng.random(_RANDOM_BLOCK), 0
            slot = int(draws[used] * len(buffer))
            used += 1
            yield buffer[slot]
            buffer[slot] = buffer[-1]
            buffer.pop()
    finally:
        _close(upstream)


class _IndexPlan:
    """In-memory arrays plus a recipe for the order of their rows: ``order()`` runs once per epoch."""

    def __init__(self, arrays: Any, order: Callable[[], np.ndarray]) -> None:
        self.arrays = arrays
        self.order = order

    def rows(self, indices: np.ndarray) -> Any:
        return tree_map(lambda array: array[indices], self.arrays)


class _Apply:
    """``fn`` called tf.data's way: a tuple element is unpacked into positional arguments.

    A class, not a closure, so that process workers can unpickle it.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, element: Any) -> Any:
        result = self.fn(*element) if isinstance(element, tuple) else self.fn(element)
        return as_element(result)

    def __repr__(self) -> str:
        return f"_Apply({self.fn!r})"


def _stage_name(fn: Callable[..., Any], name: str | None, default: str) -> str:
    return name or getattr(fn, "__name__", default)


# ---------------------------------------------------------------------------------------------------
# Iterator
# ---------------------------------------------------------------------------------------------------


class DatasetIterator:
    """One pass over a dataset. Use it as a context manager, or call :meth:`close`, to stop early.

    Closing (or dropping the last reference) stops every worker thread and process the pipeline
    started and unlinks its shared memory. With a :class:`~mlbook.data.trace.Tracer` active,
    the time each ``next()`` blocks is recorded as a ``wait`` span.
    """

    def __init__(self, generator: Iterator[Any], name: str = "dataset") -> None:
        self._generator = generator
        self._name = name

    def __iter__(self) -> "DatasetIterator":
        return self

    def __next__(self) -> Any:
        tracer = active_tracer()
        if tracer is None:
            return next(self._generator)
        start = time.perf_counter()
        try:
            return next(self._generator)
        finally:
            tracer.record("wait", start, time.perf_counter(), lane="consumer")

    def close(self) -> None:
        _close(self._generator)

    def __enter__(self) -> "DatasetIterator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            _close(self._generator)
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


# ---------------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------------


class Dataset:
    """A re-iterable pipeline of elements (NumPy arrays, or tuples/dicts of them), tf.data style.

    Build one with a constructor (:meth:`from_tensor_slices`, :meth:`range`, :meth:`from_generator`,
    :meth:`list_files`, :meth:`zip`, :func:`~mlbook.data.records.RecordDataset`) and chain
    transformations; iterate with ``for``, :meth:`as_numpy_iterator` or :meth:`iterator` (which can
    be closed early).
    """

    def __init__(self, make_generator: Callable[[], Iterator[Any]], cardinality: int, *,
                 plan: _IndexPlan | None = None, name: str = "dataset") -> None:
        self._make_generator = make_generator
        self._cardinality = int(cardinality)
        self._plan = plan
        self.name = name
        self.last_run: dict[str, Any] = {}
        """What the most recent pass chose (map: chunk size, workers, autotune history; prefetch: buffer)."""
        self._workers: list[PersistentWorkers] = []

    def shutdown_workers(self) -> None:
        """Stop the worker processes this ``map(..., persistent_workers=True)`` keeps between passes
        (:func:`mlbook.data.shutdown_workers` stops every pipeline's). A later pass starts new ones."""
        for keeper in self._workers:
            keeper.close()

    # -- iteration ------------------------------------------------------------------------------

    def iterator(self) -> DatasetIterator:
        """A fresh pass over the dataset, closable early (``close()`` or ``with``)."""
        return DatasetIterator(self._make_generator(), self.name)

    def _stream(self) -> Iterator[Any]:
        """A fresh pass as a bare generator: what transformations read from (no ``wait`` spans)."""
        return self._make_generator()

    __iter__ = iterator

    def as_numpy_iterator(self) -> DatasetIterator:
        """Elements are NumPy arrays already; kept for tf.data compatibility."""
        return self.iterator()

    def cardinality(self) -> int:
        """The number of elements, :data:`INFINITE` (-1) or :data:`UNKNOWN` (-2)."""
        return self._cardinality

    def __len__(self) -> int:
        if self._cardinality == INFINITE:
            raise TypeError("the dataset is infinite (repeat() without a count); it has no length")
        if self._cardinality == UNKNOWN:
            raise TypeError("the dataset's length is unknown (after filter, from_generator, unbatch or "
                            "interleave); count it by iterating, or use cardinality()")
        return self._cardinality

    def __repr__(self) -> str:
        card = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(self._cardinality, self._cardinality)
        return f"<Dataset {self.name}, cardinality={card}>"

    def to_torch(self) -> "_TorchView":
        """A re-iterable view whose arrays arrive as ``torch.Tensor`` (zero-copy ``torch.from_numpy``).

        Feeds a hand-written torch loop or :class:`mlbook.train.Trainer` directly.
        """
        return _TorchView(self)

    # -- sources --------------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors: Any) -> "Dataset":
        """One element per row of the leading axis of ``tensors`` (an array, or a tuple/dict of arrays).

        All arrays must share their leading dimension; raises ``ValueError`` naming the shapes if not.
        """
        arrays = as_element(tensors)
        leaves = tree_leaves(arrays)
        if any(np.ndim(leaf) == 0 for leaf in leaves):
            raise ValueError(f"from_tensor_slices needs arrays with a leading axis to slice, got {describe(arrays)}")
        lengths = {np.shape(leaf)[0] for leaf in leaves}
        if len(lengths) != 1:
            raise ValueError(f"from_tensor_slices needs the same leading dimension everywhere, got {describe(arrays)}")
        n = lengths.pop()
        plan = _IndexPlan(arrays, lambda: np.arange(n))
        return Dataset._from_plan(plan, n, "from_tensor_slices")

    @staticmethod
    def from_tensors(tensors: Any) -> "Dataset":
        """A dataset of exactly one element, ``tensors``."""
        element = as_element(tensors)

        def generate() -> Iterator[Any]:
            yield element

        return Dataset(generate, 1, name="from_tensors")

    @staticmethod
    def _from_plan(plan: _IndexPlan, n: int, name: str) -> "Dataset":
        def generate() -> Iterator[Any]:
            order = plan.order()
            for index in order:
                yield tree_map(lambda array: array[index], plan.arrays)

        return Dataset(generate, n, plan=plan, name=name)

    @staticmethod
    def range(*args: int, dtype: Any = np.int64) -> "Dataset":
        """``range(stop)``, ``range(start, stop)``, ``range(start, stop, step)`` as 0-d arrays."""
        span = range(*args)
        values = np.arange(span.start, span.stop, span.step, dtype=dtype)
        return Dataset._from_plan(_IndexPlan(values, lambda: np.arange(len(values))), len(values), "range")

    @staticmethod
    def from_generator(generator: Callable[[], Iterable[Any]], output_signature: Any = None) -> "Dataset":
        """Elements from ``generator()``, called afresh for every pass (so pass the function, not a generator).

        ``output_signature`` is accepted for tf.data compatibility and not needed: elements are
        converted with ``np.asarray``.
        """
        if not callable(generator):
            raise TypeError(f"from_generator needs a callable that returns an iterable (so each pass can start "
                            f"again), got a {type(generator).__name__}")

        def generate() -> Iterator[Any]:
            source = iter(generator())
            try:
                for element in source:
                    yield as_element(element)
            finally:
                _close(source)

        return Dataset(generate, UNKNOWN, name="from_generator")

    @staticmethod
    def list_files(file_pattern: str | list[str], shuffle: bool | None = None, seed: int | None = None) -> "Dataset":
        """Paths matching a glob pattern (or several), sorted; shuffled each epoch unless ``shuffle=False``.

        Raises ``FileNotFoundError`` when nothing matches, as tf.data does.
        """
        patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
        paths = sorted({path for pattern in patterns for path in _glob.glob(os.fspath(pattern))})
        if not paths:
            raise FileNotFoundError(f"no files match {patterns}")
        dataset = Dataset.from_tensor_slices(np.array(paths))
        dataset.name = "list_files"
        return dataset.shuffle(len(paths), seed=seed) if shuffle is None or shuffle else dataset

    @staticmethod
    def zip(*datasets: "Dataset") -> "Dataset":
        """Tuples of corresponding elements; ends with the shortest input. ``zip((a, b))`` also works."""
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list)):
            datasets = tuple(datasets[0])
        if not datasets or not all(isinstance(d, Dataset) for d in datasets):
            raise TypeError(f"zip needs one or more Datasets, got {[type(d).__name__ for d in datasets]}")
        cards = [d.cardinality() for d in datasets]
        finite = [c for c in cards if c >= 0]
        if 0 in cards:
            card = 0
        elif UNKNOWN in cards:
            card = UNKNOWN
        else:
            card = min(finite) if finite else INFINITE

        def generate() -> Iterator[Any]:
            iterators = [d._stream() for d in datasets]
            try:
                yield from zip(*iterators)
            finally:
                for it in iterators:
                    _close(it)

        return Dataset(generate, card, name="zip")

    # -- transformations ------------------------------------------------------------------------

    def map(self, map_func: Callable[..., Any], num_parallel_calls: int | None = None,
            deterministic: bool | None = None, *, executor: str = "thread", persistent_workers: bool = False,
            name: str | None = None) -> "Dataset":
        """Apply ``map_func`` to every element (a tuple element is unpacked into arguments).

        ``num_parallel_calls``: ``None`` runs in the consumer's thread; an int or :data:`AUTOTUNE`
        runs on worker threads (``executor="thread"``, for work that releases the GIL) or processes
        (``executor="process"``, for Python-heavy work; ``map_func`` must then be picklable).
        ``deterministic`` (default True) keeps the input order. Elements travel to workers in
        chunks, so parallelism does not slow a cheap map down. The chosen settings land in
        :attr:`last_run` when a pass ends. ``persistent_workers=True`` (process workers only, as in
        torch's DataLoader) keeps the processes alive between passes, which saves their start-up on
        every epoch; they stop with :meth:`shutdown_workers`, when the dataset is garbage-collected,
        or at exit.
        """
        if not callable(map_func):
            raise TypeError(f"map_func must be callable, got {type(map_func).__name__}")
        if num_parallel_calls is not None and num_parallel_calls != AUTOTUNE and (
                not isinstance(num_parallel_calls, (int, np.integer)) or num_parallel_calls < 1):
            raise ValueError(f"num_parallel_calls must be None, a positive int or AUTOTUNE (-1), got {num_parallel_calls!r}")
        if executor not in ("thread", "process"):
            raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
        if persistent_workers and (executor != "process" or num_parallel_calls is None):
            raise ValueError("persistent_workers=True needs process workers: executor='process' and "
                             f"num_parallel_calls set; got executor={executor!r}, "
                             f"num_parallel_calls={num_parallel_calls!r}")
        fn = _Apply(map_func)
        stage = _stage_name(map_func, name, "map")
        source = self
        keeper = PersistentWorkers() if persistent_workers else None
        last_run: dict[str, Any] = {}

        def generate() -> Iterator[Any]:
            if num_parallel_calls is None:
                return sequential_map(source._stream(), fn, stage)
            return parallel_map(source._stream(), fn, int(num_parallel_calls),
                                deterministic=True if deterministic is None else bool(deterministic),
                                executor=executor, stage=stage, report=last_run.update, persistent=keeper)

        result = Dataset(generate, self._cardinality, name=f"{self.name}.map({stage})")
        result.last_run = last_run
        if keeper is not None:
            result._workers.append(keeper)
            # the closure above does not hold `result`, so the dataset can be freed and its workers with it
            weakref.finalize(result, keeper.close)
        return result

    def filter(self, predicate: Callable[..., Any]) -> "Dataset":
        """Keep the elements for which ``predicate`` (tuple elements unpacked) returns True."""
        if not callable(predicate):
            raise TypeError(f"predicate must be callable, got {type(predicate).__name__}")
        source = self

        def generate() -> Iterator[Any]:
            upstream = source._stream()
            try:
                for element in upstream:
                    keep = predicate(*element) if isinstance(element, tuple) else predicate(element)
                    if np.ndim(keep) != 0:
                        raise ValueError(f"filter predicate must return a scalar boolean, got shape {np.shape(keep)}")
                    if keep:
                        yield element
            finally:
                _close(upstream)

        return Dataset(generate, UNKNOWN, name=f"{self.name}.filter")

    def shuffle(self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True) -> "Dataset":
        """Randomise the order with a buffer of ``buffer_size`` elements (see :func:`shuffle_order`).

        With ``reshuffle_each_iteration`` (the default) every pass gets a new order; a ``seed``
        makes the sequence of orders reproducible.
        """
        if not isinstance(buffer_size, (int, np.integer)) or buffer_size < 1:
            raise ValueError(f"shuffle buffer_size must be a positive int, got {buffer_size!r}")
        base_seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        epochs = itertools.count()

        def next_rng() -> np.random.Generator:
            epoch = next(epochs) if reshuffle_each_iteration else 0
            return np.random.default_rng([base_seed, epoch])

        source = self
        name = f"{self.name}.shuffle({buffer_size})"
        if self._plan is not None:
            plan = self._plan

            def order() -> np.ndarray:
                base = plan.order()
                return base[shuffle_order(len(base), int(buffer_size), next_rng())]

            return Dataset._from_plan(_IndexPlan(plan.arrays, order), self._cardinality, name)
        return Dataset(lambda: _shuffle_elements(source._stream(), int(buffer_size), next_rng()),
                       self._cardinality, name=name)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """Stack ``batch_size`` consecutive elements along a new leading axis; the last batch may be
        short unless ``drop_remainder``."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        n = self._cardinality
        card = n if n < 0 else (n // batch_size if drop_remainder else -(-n // batch_size))
        name = f"{self.name}.batch({batch_size})"
        source = self
        if self._plan is not None:
            plan = self._plan

            def gather() -> Iterator[Any]:
                order = plan.order()
                stop = len(order) - len(order) % batch_size if drop_remainder else len(order)
                tracer = active_tracer()
                for start in range(0, stop, batch_size):
                    if tracer is None:
                        yield plan.rows(order[start:start + batch_size])
                    else:
                        began = time.perf_counter()
                        rows = plan.rows(order[start:start + batch_size])
                        tracer.record("batch", began, time.perf_counter())
                        yield rows

            return Dataset(gather, card, name=name)

        def generate() -> Iterator[Any]:
            upstream = source._stream()
            try:
                while True:
                    elements = list(itertools.islice(upstream, batch_size))
                    if not elements or (drop_remainder and len(elements) < batch_size):
                        return
                    tracer = active_tracer()
                    began = time.perf_counter()
                    batch = tree_stack(elements)
                    if tracer is not None:
                        tracer.record("batch", began, time.perf_counter())
                    yield batch
            finally:
                _close(upstream)

        return Dataset(generate, card, name=name)

    def unbatch(self) -> "Dataset":
        """Split every element along its leading axis: the inverse of ``batch``."""
        source = self

        def generate() -> Iterator[Any]:
            upstream = source._stream()
            try:
                for element in upstream:
                    leaves = tree_leaves(element)
                    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
                    if None in sizes or len(sizes) != 1:
                        raise ValueError(f"unbatch needs every array to share a leading axis, got {describe(element)}")
                    for i in range(sizes.pop()):
                        yield tree_map(lambda array: array[i], element)
            finally:
                _close(upstream)

        return Dataset(generate, UNKNOWN, name=f"{self.name}.unbatch")

    def prefetch(self, buffer_size: int) -> "Dataset":
        """Produce up to ``buffer_size`` elements ahead in a background thread (:data:`AUTOTUNE`: sized
        from how often the consumer has to wait). ``buffer_size=0`` does nothing."""
        if not isinstance(buffer_size, (int, np.integer)) or (buffer_size < 0 and buffer_size != AUTOTUNE):
            raise ValueError(f"prefetch buffer_size must be a non-negative int or AUTOTUNE, got {buffer_size!r}")
        if buffer_size == 0:
            return self
        source = self
        result: Dataset

        def generate() -> Iterator[Any]:
            return prefetch_iter(source._stream(), int(buffer_size), report=result.last_run.update)

        result = Dataset(generate, self._cardinality, name=f"{self.name}.prefetch")
        return result

    def cache(self, filename: str | os.PathLike = "") -> "Dataset":
        """Remember the elements of the first *complete* pass and replay them afterwards.

        ``filename=""`` keeps them in memory; a path stores them in a record file (written
        atomically when the first pass completes), which later passes and later programs read
        instead of recomputing. A pass stopped early caches nothing.
        """
        from mlbook.data.records import RecordWriter, decode_element, encode_element, read_records

        source = self
        memory: list[Any] = []
        complete = [False]
        path = Path(filename) if str(filename) else None

        def generate() -> Iterator[Any]:
            if path is None and complete[0]:
                yield from memory
                return
            if path is not None and path.exists():
                for record in read_records(path):
                    yield decode_element(record)
                return
            upstream = source._stream()
            writer = RecordWriter(path) if path is not None else None
            seen: list[Any] = []
            finished = False
            try:
                for element in upstream:
                    if writer is not None:
                        writer.write(encode_element(element))
                    else:
                        seen.append(element)
                    yield element
                finished = True
            finally:
                _close(upstream)
                if writer is not None:
                    if finished:
                        writer.close()
                    else:
                        writer.discard()
                elif finished and not complete[0]:
                    memory[:] = seen
                    complete[0] = True

        return Dataset(generate, self._cardinality, name=f"{self.name}.cache")

    def repeat(self, count: int | None = None) -> "Dataset":
        """Repeat the dataset ``count`` times (``None`` or -1: forever). Each repetition is a new pass,
        so a ``shuffle`` before ``repeat`` reshuffles every time."""
        if count is not None and (not isinstance(count, (int, np.integer)) or count < -1):
            raise ValueError(f"repeat count must be None, -1 or a non-negative int, got {count!r}")
        forever = count is None or count == -1
        n = self._cardinality
        if n == 0 or count == 0:
            card = 0
        elif forever:
            card = INFINITE
        else:
            card = n * count if n >= 0 else n
        name = f"{self.name}.repeat({'' if forever else count})"
        if self._plan is not None and not forever:
            plan = self._plan

            def order() -> np.ndarray:
                return np.concatenate([plan.order() for _ in range(count)] or [np.empty(0, np.int64)])

            return Dataset._from_plan(_IndexPlan(plan.arrays, order), card, name)
        source = self

        def generate() -> Iterator[Any]:
            passes = itertools.count() if forever else range(count)
            for _ in passes:
                produced = False
                with closing(source._stream()) as upstream:
                    for element in upstream:
                        produced = True
                        yield element
                if not produced:
                    return  # repeating an empty dataset forever would hang

        return Dataset(generate, card, name=name)

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (``-1``: all)."""
        self._check_count(count, "take")
        n = self._cardinality
        card = n if count == -1 else (count if n == INFINITE else (min(n, count) if n >= 0 else UNKNOWN))
        name = f"{self.name}.take({count})"
        if count == -1:
            return self
        if self._plan is not None:
            plan = self._plan
            return Dataset._from_plan(_IndexPlan(plan.arrays, lambda: plan.order()[:count]), card, name)
        source = self

        def generate() -> Iterator[Any]:
            with closing(source._stream()) as upstream:
                yield from itertools.islice(upstream, count)

        return Dataset(generate, card, name=name)

    def skip(self, count: int) -> "Dataset":
        """All but the first ``count`` elements (``-1``: skip everything)."""
        self._check_count(count, "skip")
        n = self._cardinality
        if count == -1:
            card = 0
        else:
            card = n if n < 0 else max(n - count, 0)
        name = f"{self.name}.skip({count})"
        if self._plan is not None:
            plan = self._plan

            def order() -> np.ndarray:
                base = plan.order()
                return base[len(base):] if count == -1 else base[count:]

            return Dataset._from_plan(_IndexPlan(plan.arrays, order), card, name)
        source = self

        def generate() -> Iterator[Any]:
            if count == -1:
                return
            with closing(source._stream()) as upstream:
                yield from itertools.islice(upstream, count, None)

        return Dataset(generate, card, name=name)

    @staticmethod
    def _check_count(count: Any, what: str) -> None:
        if not isinstance(count, (int, np.integer)) or count < -1:
            raise ValueError(f"{what} count must be -1 or a non-negative int, got {count!r}")

    def enumerate(self, start: int = 0) -> "Dataset":
        """Pairs ``(index, element)`` with int64 indices from ``start``."""
        source = self

        def generate() -> Iterator[Any]:
            with closing(source._stream()) as upstream:
                for index, element in enumerate(upstream, start=start):
                    yield np.int64(index), element

        return Dataset(generate, self._cardinality, name=f"{self.name}.enumerate")

    def interleave(self, map_func: Callable[..., "Dataset"], cycle_length: int | None = None, block_length: int = 1,
                   num_parallel_calls: int | None = None, deterministic: bool | None = None) -> "Dataset":
        """Map every element to a dataset and interleave them: ``cycle_length`` open at a time,
        ``block_length`` elements from each in turn (tf.data's order exactly).

        With ``num_parallel_calls`` every open dataset is read ahead by its own thread (the way to
        read several record shards at once); the output order is unchanged.
        """
        cycle = cycle_length if cycle_length not in (None, AUTOTUNE) else (os.cpu_count() or 1)
        if cycle < 1 or block_length < 1:
            raise ValueError(f"cycle_length and block_length must be positive, got {cycle_length}, {block_length}")
        source = self

        def open_one(element: Any) -> Iterator[Any]:
            inner = map_func(*element) if isinstance(element, tuple) else map_func(element)
            if not isinstance(inner, Dataset):
                raise TypeError(f"interleave's map_func must return a Dataset, got {type(inner).__name__}")
            if num_parallel_calls is None:
                return inner._stream()
            return prefetch_iter(inner._stream(), 2 * block_length, stage="interleave")

        def generate() -> Iterator[Any]:
            inputs = source._stream()
            slots: list[Iterator[Any] | None] = [None] * cycle
            inputs_left = True
            try:
                while True:
                    progressed = False
                    for position in range(cycle):
                        if slots[position] is None and inputs_left:
                            try:
                                slots[position] = open_one(next(inputs))
                            except StopIteration:
                                inputs_left = False
                        current = slots[position]
                        if current is None:
                            continue
                        progressed = True
                        for _ in range(block_length):
                            try:
                                value = next(current)
                            except StopIteration:
                                _close(current)
                                slots[position] = None
                                break
                            yield value
                    if not progressed and not inputs_left:
                        return
            finally:
                for current in slots:
                    if current is not None:
                        _close(current)
                _close(inputs)

        return Dataset(generate, UNKNOWN, name=f"{self.name}.interleave")


class _TorchView:
    """Iterates a :class:`Dataset`, turning every NumPy array into a ``torch.Tensor`` without copying."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __iter__(self) -> Iterator[Any]:
        import torch

        def convert(array: Any) -> Any:
            array = np.asarray(array)
            if array.dtype.kind in "US":
                return array
            return torch.from_numpy(np.ascontiguousarray(array) if array.ndim else array.reshape(()).copy())

        with self.dataset.iterator() as it:
            for element in it:
                yield tree_map(convert, element)

    def __len__(self) -> int:
        return len(self.dataset)
