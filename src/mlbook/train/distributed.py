"""Data-parallel training across processes with ``torch.distributed`` and the :class:`~mlbook.train.Trainer`.

Data parallelism keeps a full copy of the model in every process (a *rank*); each rank reads its own
shard of every global batch, computes gradients on it, and an **all-reduce** averages the gradients
across ranks before the optimizer steps, so every copy takes the same step: the step of the global
batch. ``DistributedDataParallel`` (DDP) does that all-reduce during ``backward``, bucket by bucket,
overlapping communication with the rest of the backward pass. The backend is gloo on CPUs, NCCL on
GPUs; nothing else in the script changes.

- :func:`shard`: tf.data's ``Dataset.shard(num_shards, index)``: elements ``index, index + n, ...``.
- :func:`launch`: start ``world_size`` processes, each with its process group set up, run
  ``fn(rank, world_size, *args)`` and return every rank's result; a rank that raises makes the whole
  job fail fast with that rank's error and traceback; a global timeout stops anything that hangs.
- :func:`train_data_parallel`: the Trainer under DDP on one rank's shard, with metrics averaged across
  ranks (:class:`ReduceMetrics`) and only rank 0 writing checkpoints and logs.
- :func:`allreduce_times`: the cost of an all-reduce against message size, to weigh against compute.
- :func:`main`: the same training under ``torchrun --standalone --nproc_per_node=2 -m mlbook.train.distributed``.
"""

from __future__ import annotations

import math
import os
import queue as queue_module
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mlbook.train.callbacks import Callback
from mlbook.train.checkpoint import save_checkpoint
from mlbook.train.trainer import Trainer

__all__ = [
    "DataParallelSpec",
    "RankFailedError",
    "ReduceMetrics",
    "allreduce_times",
    "launch",
    "main",
    "make_regression_data",
    "make_mlp",
    "shard",
    "train_data_parallel",
    "train_single_process",
]

T = TypeVar("T")


def shard(data: T, num_shards: int, index: int) -> T:
    """Every ``num_shards``-th element of ``data`` starting at ``index``: ``data[index::num_shards]``.

    The semantics of tf.data's ``Dataset.shard``: deterministic, disjoint across ``index`` and together
    covering ``data``; shards differ in length by at most one when ``len(data)`` is not a multiple of
    ``num_shards``. Works on lists, NumPy arrays and tensors (along the first axis).
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < num_shards:
        raise ValueError(f"index must be an integer in [0, {num_shards}), got {index!r}")
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(f"shard needs a sliceable sequence (list, array, tensor), got {type(data).__name__}")
    return data[index::num_shards]


class RankFailedError(RuntimeError):
    """A rank of a :func:`launch` job raised (or died); ``rank`` says which, the message holds its traceback."""

    def __init__(self, rank: int, message: str) -> None:
        super().__init__(f"rank {rank} failed: {message}")
        self.rank = rank


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world_size: int, init_method: str, backend: str, timeout_s: float,
            fn: Callable[..., Any], args: tuple, results: Any) -> None:
    # gloo connects its ranks over the interface the host name resolves to; pin it to loopback.
    if "lo" in {name for _, name in socket.if_nameindex()}:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)  # N ranks on N cores: one thread each, or they fight over the cores
    try:
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout_s))
        value = fn(rank, world_size, *args)
    except BaseException as error:  # report anything, including KeyboardInterrupt, before dying
        # The time stamp lets the parent tell the first failure from its echoes: the peers of a rank
        # that died fail too, a moment later, with "connection reset" in their next collective.
        results.put((rank, False, f"{type(error).__name__}: {error}\n{traceback.format_exc()}", time.time()))
        return  # no destroy_process_group: peers may be blocked in a collective; the parent ends them
    dist.destroy_process_group()
    results.put((rank, True, value, time.time()))


def _context():
    """``forkserver`` where it exists (Linux, macOS): one server process imports torch and this module
    once, and each rank is forked from it, so ranks start in milliseconds instead of re-importing torch
    (``torch._dynamo`` too: DDP imports it, with sympy, on first use, which costs seconds per rank); the
    server itself is a clean process, so no threads are forked. ``spawn`` elsewhere."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "torch._dynamo", "mlbook.train.distributed"])
        return ctx
    return mp.get_context("spawn")


def launch(fn: Callable[..., T], world_size: int, args: tuple = (), *, backend: str = "gloo",
           timeout_s: float = 120.0) -> list[T]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes; return results by rank.

    Each process starts from a clean interpreter (``forkserver`` or ``spawn``: ``fn`` and ``args`` must be
    picklable, so ``fn`` is a module-level function, not one defined in a notebook), joins a process
    group (``backend``, rendezvous through a file, communication on 127.0.0.1) and calls ``fn``.

    Fail fast: as soon as one rank reports an exception (or exits without reporting), the other ranks
    are terminated (they would otherwise wait forever in their next collective) and
    :class:`RankFailedError` carries that rank's traceback. ``timeout_s`` bounds the whole job and is
    also the process group's timeout for a single collective.
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    ctx = _context()
    results = ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="mlbook-dist-") as tmp:
        init_method = Path(tmp, "rendezvous").as_uri()
        processes = [ctx.Process(target=_worker, args=(rank, world_size, init_method, backend, timeout_s, fn, args,
                                                       results), daemon=True, name=f"rank-{rank}")
                     for rank in range(world_size)]
        for p in processes:
            p.start()
        outputs: dict[int, Any] = {}
        failures: list[tuple[float, int, str]] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(outputs) < world_size and not failures:
                try:
                    rank, ok, value, stamp = results.get(timeout=0.1)
                except queue_module.Empty:
                    dead = [r for r, p in enumerate(processes) if r not in outputs and p.exitcode is not None]
                    if dead:
                        try:  # it may have reported just before exiting
                            rank, ok, value, stamp = results.get(timeout=1.0)
                        except queue_module.Empty:
                            failures.append((time.time(), dead[0], f"exited with code "
                                             f"{processes[dead[0]].exitcode} without a result"))
                            break
                    elif time.monotonic() > deadline:
                        missing = sorted(set(range(world_size)) - set(outputs))
                        raise TimeoutError(f"the job did not finish within {timeout_s} s; ranks {missing} "
                                           "are still running (a rank stuck in a collective?)") from None
                    else:
                        continue
                if ok:
                    outputs[rank] = value
                else:
                    failures.append((stamp, rank, value))
            if failures:  # gather the echoes for a moment, then blame the earliest failure
                grace = time.monotonic() + 1.0
                while time.monotonic() < grace and len(failures) + len(outputs) < world_size:
                    try:
                        rank, ok, value, stamp = results.get(timeout=0.1)
                    except queue_module.Empty:
                        continue
                    if not ok:
                        failures.append((stamp, rank, value))
                reported = set(outputs) | {rank for _, rank, _ in failures}
                for rank, p in enumerate(processes):
                    if rank not in reported and p.exitcode not in (None, 0):  # died (killed, os._exit, crash)
                        failures.append((0.0, rank, f"exited with code {p.exitcode} without a result"))
        finally:
            for p in processes:
                if p.is_alive():
                    p.terminate()
            for p in processes:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join(5)
            results.close()
            results.join_thread()
    if failures:
        _, rank, message = min(failures)
        raise RankFailedError(rank, message)
    return [outputs[rank] for rank in range(world_size)]


class ReduceMetrics(Callback):
    """Replace each epoch's numeric logs by their average over all ranks, weighted by the examples each
    rank trained on, so every rank's ``trainer.history`` holds the metrics of the whole global data."""

    order = 50

    def __init__(self) -> None:
        self.examples = 0

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        self.examples = 0

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, Any]) -> None:
        self.examples += int(logs["batch_size"])

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float)) and k != "lr")
        weight = float(self.examples)
        packed = torch.tensor([weight] + [float(logs[k]) * weight for k in keys], dtype=torch.float64)
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)  # one collective for all metrics
        for i, key in enumerate(keys, start=1):
            reduced = float(packed[i] / packed[0])
            logs[key] = reduced
            trainer.history[key][-1] = reduced


@dataclass
class DataParallelSpec:
    """Everything a rank needs to rebuild the same run (it must be picklable: it crosses processes).

    ``batch_size`` is the **per-rank** batch; the global batch is ``batch_size * world_size``.
    """

    sizes: Sequence[int] = (4, 16, 1)
    n_examples: int = 64
    batch_size: int = 8
    epochs: int = 1
    lr: float = 0.1
    seed: int = 0
    checkpoint: Optional[str] = None
    log: Optional[str] = None
    fail_rank: Optional[int] = None  # for tests: this rank raises after its first step
    extra: dict = field(default_factory=dict)


def make_mlp(sizes: Sequence[int], seed: int) -> nn.Sequential:
    """``Linear, Tanh, Linear, ...`` in float64 with weights fixed by ``seed`` (same on every rank)."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    torch.random.set_rng_state(generator_state)
    return nn.Sequential(*layers)


def make_regression_data(n: int, n_features: int, n_outputs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed regression problem: ``y = sin(x @ w) + noise``, float64, shapes ``(n, f)`` and ``(n, o)``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g, dtype=torch.float64)
    w = torch.randn(n_features, n_outputs, generator=g, dtype=torch.float64)
    return x, torch.sin(x @ w) + 0.05 * torch.randn(n, n_outputs, generator=g, dtype=torch.float64)


def _batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, n_batches: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]) for i in range(n_batches)]


def _steps_per_epoch(spec: DataParallelSpec, world_size: int) -> int:
    # Every rank must run the same number of steps: a rank with an extra batch would wait forever in
    # an all-reduce its peers never join. So the shortest shard decides (the remainder is dropped).
    steps = (spec.n_examples // world_size) // spec.batch_size
    if steps < 1:
        raise ValueError(f"{spec.n_examples} examples over {world_size} ranks do not fill one batch of "
                         f"{spec.batch_size} per rank")
    return steps


class _FailAfterFirstStep(Callback):
    def __init__(self, rank: int) -> None:
        self.rank = rank

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, Any]) -> None:
        raise RuntimeError(f"deliberate failure on rank {self.rank} after batch {batch}")


class _RankZeroCheckpoint(Callback):
    """Write the unwrapped model's weights (no DDP ``module.`` prefix) after each epoch, on rank 0 only."""

    order = 90

    def __init__(self, path: str, log: Optional[str]) -> None:
        self.path, self.log = path, log

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        model = trainer.model.module if isinstance(trainer.model, nn.parallel.DistributedDataParallel) else trainer.model
        if self.path:
            save_checkpoint({"epoch": epoch, "model": model.state_dict(), "logs": dict(logs)}, self.path)
        if self.log:
            with open(self.log, "a", encoding="utf-8") as handle:
                handle.write(f"epoch {epoch}: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(logs.items())
                                                            if isinstance(v, (int, float))) + "\n")


def train_data_parallel(rank: int, world_size: int, spec: DataParallelSpec) -> dict[str, Any]:
    """One rank of a data-parallel run (call it through :func:`launch`).

    Builds the model (same seed everywhere; DDP also broadcasts rank 0's weights at wrap time), takes
    this rank's :func:`shard` of the data, wraps the model in ``DistributedDataParallel`` and trains it
    with the unchanged :class:`~mlbook.train.Trainer`. Returns the final weights (NumPy) and history.
    """
    x, y = make_regression_data(spec.n_examples, spec.sizes[0], spec.sizes[-1], spec.seed)
    steps = _steps_per_epoch(spec, world_size)
    x_rank, y_rank = shard(x, world_size, rank), shard(y, world_size, rank)
    model = nn.parallel.DistributedDataParallel(make_mlp(spec.sizes, spec.seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr)
    callbacks: list[Callback] = [ReduceMetrics()]
    if rank == 0 and (spec.checkpoint or spec.log):
        callbacks.append(_RankZeroCheckpoint(spec.checkpoint, spec.log))
    if spec.fail_rank == rank:
        callbacks.append(_FailAfterFirstStep(rank))
    trainer = Trainer(model, optimizer, nn.MSELoss(), _batches(x_rank, y_rank, spec.batch_size, steps),
                      device="cpu", callbacks=callbacks, progress=False)
    history = trainer.fit(spec.epochs)
    return {"rank": rank, "state": {k: v.numpy().copy() for k, v in model.module.state_dict().items()},
            "history": history, "steps": trainer.global_step, "shard_size": len(x_rank)}


def train_single_process(spec: DataParallelSpec, world_size: int) -> dict[str, Any]:
    """The reference for :func:`train_data_parallel`: one process, global batches of
    ``batch_size * world_size`` examples, i.e. the ranks' batches concatenated."""
    x, y = make_regression_data(spec.n_examples, spec.sizes[0], spec.sizes[-1], spec.seed)
    steps = _steps_per_epoch(spec, world_size)
    model = make_mlp(spec.sizes, spec.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr)
    # Step k of rank r uses rank r's shard rows [k*b, (k+1)*b), i.e. global rows r + n*(k*b + j); over
    # all ranks that is exactly the global rows [k*b*n, (k+1)*b*n): the contiguous global batch.
    global_batch = spec.batch_size * world_size
    trainer = Trainer(model, optimizer, nn.MSELoss(), _batches(x, y, global_batch, steps), device="cpu",
                      progress=False)
    history = trainer.fit(spec.epochs)
    return {"state": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, "history": history,
            "steps": trainer.global_step}


def allreduce_times(rank: int, world_size: int, sizes: Sequence[int], repeat: int = 5) -> dict[int, float]:
    """Median seconds of ``all_reduce`` (sum, float32) of a tensor of each element count in ``sizes``.

    Run through :func:`launch`; rank 0's numbers are the ones to read (all ranks wait for each other)."""
    out: dict[int, float] = {}
    dist.all_reduce(torch.ones(max(int(n) for n in sizes)))  # the first collective sets up connections
    for n in sizes:
        tensor = torch.ones(int(n), dtype=torch.float32)
        dist.all_reduce(tensor)  # warm-up for this size (buffers)
        times = []
        for _ in range(repeat):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(tensor)
            times.append(time.perf_counter() - t0)
        out[int(n)] = float(np.median(times))
        expected = float(world_size) ** (repeat + 1)  # every all-reduce multiplies each entry by world_size
        if not math.isclose(float(tensor[0]), expected, rel_tol=1e-5):
            raise RuntimeError(f"all_reduce gave {float(tensor[0])}, expected {expected}")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for ``torchrun``: ``torchrun --nproc_per_node=2 -m mlbook.train.distributed --epochs 2``.

    torchrun starts the processes and sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``;
    this joins the group from those variables (gloo on CPU, NCCL when CUDA is available) and runs
    :func:`train_data_parallel`. Rank 0 prints the reduced loss history.
    """
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="torchrun ... -m mlbook.train.distributed")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8, help="per rank")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        parser.error("RANK is not set: start this module with torchrun")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=timedelta(seconds=args.timeout))
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        spec = DataParallelSpec(n_examples=args.examples, batch_size=args.batch_size, epochs=args.epochs,
                                checkpoint=args.checkpoint)
        result = train_data_parallel(rank, world_size, spec)
        if rank == 0:
            print(json.dumps({"world_size": world_size, "backend": backend, "loss": result["history"]["loss"]}))
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
