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
            number: int | None = None, min_time: float = 0.01, warmup: int = 1,
            settle: float = 0.0) -> Comparison:
    """Time several zero-argument callables side by side, alternating them on every repeat.

    Returns a :class:`Comparison` whose ratios are taken to ``baseline`` (the first candidate by
    default). ``settle`` seconds of sleep come before every sample: thread pools keep spinning after
    a call (OpenBLAS busy-waits for about 0.1 s, OpenMP runtimes for less), and on a machine with few
    cores the pool one candidate leaves spinning steals the cores of the next. A fraction of a second
    (0.15 to 0.25) lets them all go idle, so each candidate is timed on its own. Raises ``ValueError`` for an empty
    mapping, an unknown baseline, a repeat below 1 or a negative ``settle``.
    """
    if not candidates:
        raise ValueError("compare() needs at least one candidate")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if settle < 0:
        raise ValueError(f"settle must be zero or more seconds, got {settle}")
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
                if settle:
                    time.sleep(settle)
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


# --------------------------------------------------------------------------------------------------
# Rooflines: how fast the machine can compute and how fast it can feed the computation, measured.
# --------------------------------------------------------------------------------------------------

__all__ += [
    "matmul_flops",
    "gflops",
    "matmul_intensity",
    "measure_peak_flops",
    "measure_bandwidth",
    "limit_threads",
    "machine_description",
]


def matmul_flops(m: int, k: int, n: int) -> int:
    """Floating-point operations of an ``(m, k) @ (k, n)`` product: ``m * n`` sums of ``k`` multiply-adds."""
    for name, value in (("m", m), ("k", k), ("n", n)):
        if value < 0:
            raise ValueError(f"matrix dimension {name} must be non-negative, got {value}")
    return 2 * m * k * n


def gflops(flops: float, seconds: float) -> float:
    """Throughput in GFLOP/s (10**9 floating-point operations per second)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return flops / seconds / 1e9


def matmul_intensity(m: int, k: int, n: int, itemsize: int = 4) -> float:
    """Arithmetic intensity of ``(m, k) @ (k, n)`` in FLOP per byte, if each matrix crosses memory once.

    That is the best case (reading ``A`` and ``B`` and writing ``C`` exactly once); a kernel that
    re-reads its inputs moves more bytes and sits further left on the roofline.
    """
    moved = itemsize * (m * k + k * n + m * n)
    return matmul_flops(m, k, n) / moved if moved else 0.0


def _best_rate(fn: Callable[[], Any], work: float, repeat: int) -> float:
    """``work / seconds`` of the fastest of ``repeat`` calls: a peak is what the hardware can do
    when nothing interrupts it, so the minimum time (not the median) is the estimate."""
    fn()  # compile and warm up
    best = min(_timed(fn) for _ in range(repeat))
    return work / best


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_peak_flops(threads: int = 1, dtype: Any = "float32", repeat: int = 20,
                       seconds_per_call: float = 0.02) -> float:
    """The machine's floating-point peak in GFLOP/s on ``threads`` threads, measured with an FMA-bound loop.

    Runs :func:`mlbook.kernels.probes.fma_kernel` (ten independent vectorised multiply-add chains
    per thread on data in L1) and keeps the fastest of ``repeat`` calls of about
    ``seconds_per_call`` each. On a core with two 256-bit FMA units this approaches 32 float32
    FLOP per cycle (16 for float64).
    """
    import numba
    import numpy as np

    from mlbook.kernels.probes import FMA_CHAINS, fma_kernel

    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    x = np.full(1024, 1e-3, dtype=dtype)
    out = np.zeros(threads, dtype=dtype)
    previous = numba.get_num_threads()
    try:
        # Calibrate on one thread (no wake-up cost): how many repeats make a call last seconds_per_call.
        numba.set_num_threads(1)
        one = np.zeros(1, dtype=dtype)
        fma_kernel(x, 1, one)
        per_repeat = max(min(_timed(lambda: fma_kernel(x, 100, one)) for _ in range(3)) / 100, 1e-9)
        repeats = max(1, int(seconds_per_call / per_repeat))
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        flops = 2.0 * FMA_CHAINS * x.size * repeats * threads
        return _best_rate(lambda: fma_kernel(x, repeats, out), flops, repeat) / 1e9
    finally:
        numba.set_num_threads(previous)


def measure_bandwidth(nbytes: int = 2**27, threads: int = 1, repeat: int = 10) -> float:
    """Memory read bandwidth in GB/s: the fastest of ``repeat`` parallel sums of an ``nbytes`` array.

    ``nbytes`` should be several times the last-level cache (32 MiB on the book's machine) so that
    the data really comes from DRAM.
    """
    import numba
    import numpy as np

    from mlbook.kernels.probes import read_kernel

    if nbytes < 4096:
        raise ValueError(f"nbytes must be at least 4096, got {nbytes}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    x = np.ones(nbytes // 4, dtype=np.float32)
    out = np.zeros(threads, dtype=np.float32)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return _best_rate(lambda: read_kernel(x, out), x.nbytes, repeat) / 1e9
    finally:
        numba.set_num_threads(previous)


class limit_threads:
    """Context manager: run BLAS, Numba and PyTorch on at most ``threads`` threads, then restore.

    BLAS (OpenBLAS/MKL behind NumPy) is limited with ``threadpoolctl`` when it is installed; without
    it BLAS cannot be limited from inside a running process (only by OPENBLAS_NUM_THREADS /
    OMP_NUM_THREADS before start-up), and ``controlled["blas"]`` says False.
    """

    def __init__(self, threads: int):
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        self.controlled: dict[str, bool] = {}
        self._restore: list[Callable[[], Any]] = []

    def __enter__(self) -> "limit_threads":
        try:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(self.threads)
            self._restore.append(limiter.restore_original_limits)
            self.controlled["blas"] = True
        except ImportError:
            self.controlled["blas"] = False
        try:
            import numba

            before = numba.get_num_threads()
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
            self._restore.append(lambda: numba.set_num_threads(before))
            self.controlled["numba"] = True
        except ImportError:
            self.controlled["numba"] = False
        try:
            import torch

            torch_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            self._restore.append(lambda: torch.set_num_threads(torch_before))
            self.controlled["torch"] = True
        except ImportError:
            self.controlled["torch"] = False
        return self

    def __exit__(self, *exc: Any) -> None:
        for restore in reversed(self._restore):
            restore()
        self._restore.clear()


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, caches, library versions and the BLAS in use."""
    import os
    import platform

    import numpy as np

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for name in ("numba", "torch", "threadpoolctl"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {key: lib.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = None
    info["env"] = {key: os.environ.get(key) for key in
                   ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return info


# --------------------------------------------------------------------------------------------------
# How much parallel Python the machine really runs
# --------------------------------------------------------------------------------------------------

__all__ += ["python_parallel_capacity"]


def _spin(iterations: int) -> float:
    """Pure-Python integer work (holds the GIL, touches no memory to speak of); returns its seconds."""
    start = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i & 7
    return time.perf_counter() - start


def python_parallel_capacity(processes: int = 2, iterations: int = 2_000_000, repeat: int = 3) -> float:
    """How many processes' worth of pure-Python work the machine runs at once, measured.

    Times :func:`_spin` alone, then the same work in each of ``processes`` worker processes at once,
    and returns ``processes * alone / together`` (medians over ``repeat`` rounds): ``processes`` when
    every process runs at full speed, 1.0 when they merely take turns. ``os.cpu_count()`` says how many
    CPUs the system shows; this says how much they deliver, which on a shared or virtual machine (two
    vCPUs that are hyperthreads of one core, a CPU quota, other tenants) can be far less. The speed-up
    of any process pool on Python-heavy work is bounded by it.
    """
    import multiprocessing as mp
    import statistics

    if processes < 1 or iterations < 1 or repeat < 1:
        raise ValueError(f"processes, iterations and repeat must be positive, got {processes}, {iterations}, {repeat}")
    ratios = []
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.map(_spin, [1000] * processes)  # start every worker before timing
        for _ in range(repeat):
            alone = pool.apply(_spin, (iterations,))
            start = time.perf_counter()  # wall time in the parent: a worker's own clock cannot see queueing
            pool.map(_spin, [iterations] * processes, chunksize=1)
            together = time.perf_counter() - start
            ratios.append(processes * alone / together)
    return statistics.median(ratios)
