"""A deliberately slow training run, the profilers that find out why, and the run made fast.

The profiling-hunt chapter trains one small PyTorch classifier four ways. :func:`training_run`
takes one switch per bottleneck, so each fix can be switched on alone and measured:

- ``fast_loader``: the slow loader normalises every sample with a Python loop over its features;
  the fast one indexes and normalises the whole batch with tensor operations.
- ``batched``: the slow step runs forward and backward once per *sample* (batch of one),
  accumulates the gradients, and reads the loss and the correctness with ``.item()`` after every
  sample (on a GPU, a synchronisation each time); the fast step does the whole batch at once and keeps
  loss and correct-count as tensors. Both compute the same gradient, the mean over the batch.
- ``no_round_trips``: the slow run copies every batch to host memory and back
  (``.numpy().tolist()`` then ``torch.tensor``), the CPU stand-in for a needless device-to-host
  copy; the fast run keeps the batch a tensor all the way.

:func:`slow_training_run` switches every fix off, :func:`fast_training_run` switches them all on.
The two produce the same trained weights (the fixes change the speed, not the arithmetic), which the
tests check. :func:`profile_with_cprofile` / :func:`top_functions` and
:func:`profile_with_torch` / :func:`top_torch_ops` run a call under a profiler and return its rows
as data, so the chapter can *assert* what the profile says instead of narrating it.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch

__all__ = [
    "PHASES",
    "RunReport",
    "make_classification_data",
    "make_model",
    "training_run",
    "slow_training_run",
    "fast_training_run",
    "ProfileRow",
    "profile_with_cprofile",
    "top_functions",
    "TorchOpRow",
    "profile_with_torch",
    "top_torch_ops",
    "region_durations",
]

PHASES = ("load", "copy", "step", "log")
"""The phases of one training step, timed separately and labelled for the PyTorch profiler."""


@dataclass
class RunReport:
    """What a training run did: final weights, per-step losses, and wall seconds per phase."""

    state_dict: dict[str, torch.Tensor]
    losses: list[float]
    accuracy: float
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.phase_seconds.values())


def make_classification_data(n_samples: int = 256, n_features: int = 64, n_classes: int = 4,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: ``X`` of shape ``(n_samples, n_features)`` float32, ``y`` of shape ``(n_samples,)`` int64.

    The features have non-zero mean and unequal scales, so the loader's normalisation matters.
    """
    for name, value in (("n_samples", n_samples), ("n_features", n_features), ("n_classes", n_classes)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n_samples)
    scales = rng.uniform(0.5, 5.0, size=n_features)
    X = (centres[y] + rng.normal(size=(n_samples, n_features))) * scales + 10.0
    return X.astype(np.float32), y.astype(np.int64)


def make_model(n_features: int, n_classes: int, hidden: int = 64, seed: int = 0) -> torch.nn.Module:
    """A two-layer MLP ``Linear -> ReLU -> Linear`` with weights fixed by ``seed``."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(hidden, n_classes))
    finally:
        torch.random.set_rng_state(generator_state)


# ---------------------------------------------------------------------------------------------
# The slow pieces. Each one is its own function so that a profile names it.
# ---------------------------------------------------------------------------------------------


def load_batch_python(X: np.ndarray, y: np.ndarray, indices: np.ndarray, mean: np.ndarray,
                      std: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow loader: one sample at a time, one feature at a time, in the interpreter."""
    rows, labels = [], []
    for i in indices:
        row = []
        for j in range(X.shape[1]):
            row.append((float(X[i, j]) - float(mean[j])) / float(std[j]))
        rows.append(row)
        labels.append(int(y[i]))
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(labels)


def load_batch_vectorised(X: torch.Tensor, y: torch.Tensor, indices: torch.Tensor, mean: torch.Tensor,
                          std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast loader: gather the batch with one index operation and normalise it with broadcasting."""
    return (X[indices] - mean) / std, y[indices]


def round_trip_via_host(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A needless copy out to Python lists and back (on a GPU: device -> host -> device)."""
    return torch.tensor(xb.numpy().tolist(), dtype=torch.float32), torch.tensor(yb.numpy().tolist())


def step_per_sample(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                    log: list[float]) -> tuple[float, int]:
    """Forward and backward one sample at a time, reading loss and correctness with ``.item()`` each time.

    Each sample's loss is divided by the batch size, so the accumulated gradient is the batch mean.
    """
    total_loss, correct = 0.0, 0
    for i in range(xb.shape[0]):
        logits = model(xb[i:i + 1])
        loss = torch.nn.functional.cross_entropy(logits, yb[i:i + 1]) / xb.shape[0]
        loss.backward()
        total_loss += loss.item()                            # a sync per sample on a GPU
        correct += int((logits.argmax(dim=1) == yb[i]).item())
    log.append(total_loss)
    return total_loss, correct


def step_batched(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                 log: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward the whole batch once; keep loss and correct-count as tensors (no sync)."""
    logits = model(xb)
    loss = torch.nn.functional.cross_entropy(logits, yb)
    loss.backward()
    log.append(loss.detach())
    return loss.detach(), (logits.argmax(dim=1) == yb).sum()


@contextmanager
def _phase(name: str, seconds: dict[str, float]) -> Iterator[None]:
    """Time a phase on the wall clock and label it for the PyTorch profiler."""
    start = time.perf_counter()
    with torch.profiler.record_function(f"phase:{name}"):
        yield
    seconds[name] += time.perf_counter() - start


def training_run(*, fast_loader: bool = False, batched: bool = False, no_round_trips: bool = False,
                 n_samples: int = 256, n_features: int = 64, n_classes: int = 4, batch_size: int = 32,
                 epochs: int = 1, lr: float = 0.1, seed: int = 0, threads: int | None = 1) -> RunReport:
    """Train :func:`make_model` on :func:`make_classification_data` with SGD, bottlenecks switched by flag.

    Every variant sees the same shuffled batches and applies the same update (the mean gradient over
    the batch), so all of them end with the same weights up to float rounding. ``threads`` sets
    PyTorch's intra-op threads for the run (restored after): one by default, because operations this
    small lose more to waking a thread pool than they gain from it; ``None`` leaves the setting alone.
    """
    if batch_size < 1 or epochs < 1:
        raise ValueError(f"batch_size and epochs must be at least 1, got {batch_size} and {epochs}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 or None, got {threads}")
    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(fast_loader, batched, no_round_trips, n_samples, n_features, n_classes, batch_size,
                      epochs, lr, seed)
    finally:
        torch.set_num_threads(threads_before)


def _train(fast_loader: bool, batched: bool, no_round_trips: bool, n_samples: int, n_features: int,
           n_classes: int, batch_size: int, epochs: int, lr: float, seed: int) -> RunReport:
    X, y = make_classification_data(n_samples, n_features, n_classes, seed)
    mean, std = X.mean(axis=0), X.std(axis=0)
    X_t, y_t, mean_t, std_t = (torch.from_numpy(a) for a in (X, y, mean, std))
    model = make_model(n_features, n_classes, seed=seed)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    order_rng = np.random.default_rng(seed + 1)
    seconds = {name: 0.0 for name in PHASES}
    log: list[Any] = []
    correct_total: Any = 0
    for _ in range(epochs):
        order = order_rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            indices = order[start:start + batch_size]
            with _phase("load", seconds):
                if fast_loader:
                    xb, yb = load_batch_vectorised(X_t, y_t, torch.from_numpy(indices), mean_t, std_t)
                else:
                    xb, yb = load_batch_python(X, y, indices, mean, std)
            with _phase("copy", seconds):
                if not no_round_trips:
                    xb, yb = round_trip_via_host(xb, yb)
            with _phase("step", seconds):
                optimiser.zero_grad()
                if batched:
                    _, correct = step_batched(model, xb, yb, log)
                else:
                    _, correct = step_per_sample(model, xb, yb, log)
                optimiser.step()
            with _phase("log", seconds):
                correct_total = correct_total + correct
    with _phase("log", seconds):
        losses = [float(v) for v in (torch.stack(log).tolist() if log and torch.is_tensor(log[0]) else log)]
        accuracy = float(correct_total) / (n_samples * epochs)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return RunReport(state, losses, accuracy, seconds)


def slow_training_run(**kwargs: Any) -> RunReport:
    """:func:`training_run` with every bottleneck in place."""
    return training_run(fast_loader=False, batched=False, no_round_trips=False, **kwargs)


def fast_training_run(**kwargs: Any) -> RunReport:
    """:func:`training_run` with every fix applied."""
    return training_run(fast_loader=True, batched=True, no_round_trips=True, **kwargs)


# ---------------------------------------------------------------------------------------------
# Profiles as data.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileRow:
    """One function of a cProfile: where it is, how often it ran, its own and its cumulative seconds."""

    function: str
    location: str
    ncalls: int
    tottime: float
    cumtime: float

    def __str__(self) -> str:
        return f"{self.tottime:8.4f}s own {self.cumtime:8.4f}s cum {self.ncalls:8d} calls  {self.location}"


def profile_with_cprofile(fn: Callable[[], Any]) -> tuple[Any, pstats.Stats]:
    """Run ``fn()`` under :mod:`cProfile`; return its result and the :class:`pstats.Stats`."""
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    return result, pstats.Stats(profiler)


def top_functions(stats: pstats.Stats, n: int = 10, sort: str = "tottime") -> list[ProfileRow]:
    """The ``n`` largest entries of a profile by ``sort`` (``"tottime"``, ``"cumtime"`` or ``"ncalls"``).

    ``function`` is the bare name (``load_batch_python``, or ``tolist`` for ``{method 'tolist' ...}``);
    ``location`` is pstats' ``file:line(name)`` spelling.
    """
    keys = {"tottime": 2, "cumtime": 3, "ncalls": 1}
    if sort not in keys:
        raise ValueError(f"sort must be one of {sorted(keys)}, got {sort!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~":  # a built-in: "{method 'tolist' of 'torch._C.TensorBase' objects}"
            bare = name.split("'")[1] if "'" in name else name.strip("{}<>").split()[-1].rsplit(".", 1)[-1]
            location = name
        else:
            bare = name
            location = f"{filename.rsplit('/', 1)[-1]}:{line}({name})"
        rows.append(ProfileRow(bare, location, ncalls, tottime, cumtime))
    index = keys[sort]
    rows.sort(key=lambda r: (r.ncalls, r.tottime, r.cumtime)[index - 1], reverse=True)
    return rows[:n]


@dataclass(frozen=True)
class TorchOpRow:
    """One row of the PyTorch profiler's ``key_averages()``: an operator or a ``record_function`` label."""

    name: str
    count: int
    self_cpu_seconds: float
    cpu_total_seconds: float


def profile_with_torch(fn: Callable[[], Any]) -> tuple[Any, torch.profiler.profile]:
    """Run ``fn()`` under ``torch.profiler`` with CPU activities; return its result and the profiler."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        result = fn()
    return result, prof


def top_torch_ops(prof: torch.profiler.profile, n: int = 10, sort: str = "self_cpu",
                  prefix: str | None = None) -> list[TorchOpRow]:
    """The ``n`` largest rows of ``prof.key_averages()`` by ``sort`` (``"self_cpu"``, ``"cpu_total"``, ``"count"``).

    ``prefix`` keeps only rows whose name starts with it (``"aten::"`` for operators, ``"phase:"``
    for the phases labelled by :func:`training_run`).
    """
    keys = {"self_cpu": lambda r: r.self_cpu_seconds, "cpu_total": lambda r: r.cpu_total_seconds,
            "count": lambda r: r.count}
    if sort not in keys:
        raise ValueError(f"sort must be one of {sorted(keys)}, got {sort!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rows = [TorchOpRow(e.key, e.count, e.self_cpu_time_total / 1e6, e.cpu_time_total / 1e6)
            for e in prof.key_averages() if prefix is None or e.key.startswith(prefix)]
    rows.sort(key=keys[sort], reverse=True)
    return rows[:n]


def region_durations(prof: torch.profiler.profile, name: str) -> list[float]:
    """Seconds of every occurrence of the event ``name`` (an operator or a ``record_function`` label).

    Totals from ``key_averages`` add a one-off stall (a preempted thread) to the sum; the median of
    these per-occurrence durations is immune to a few of them.
    """
    durations = [event.cpu_time_total / 1e6 for event in prof.events() if event.name == name]
    if not durations:
        raise ValueError(f"the profile has no event named {name!r}")
    return durations
