"""Optimizer step speed against the memory-bandwidth floor and torch.optim (issue 4's targets).

One flat float32 buffer of N parameters (10M by default). Every candidate is timed side by side in one
process by :func:`mlbook.bench.compare` (alternating, repeated, medians). The *bandwidth floor* of an
update is the bytes it must move (every array it reads once, every array it writes once; each written
array is also read, so no extra read-for-ownership is counted) divided by the memory bandwidth. It is
measured as the time of a *probe*, a kernel with the same access pattern and no arithmetic to speak of,
timed alternately with the candidates so that it sees the same background load.

    NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/optim.py --threads 2 --size 10000000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="parameters (float32)")
    parser.add_argument("--threads", type=int, default=2, help="threads for Numba and torch")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", nargs="*", default=None, help="optimizers to run (Adam, SGD, RMSprop, Adagrad)")
    parser.add_argument("--cuda", action="store_true", help="also time the CUDA kernels (needs a GPU)")
    parser.add_argument("--cuda-size", type=int, default=100_000_000)
    args = parser.parse_args()

    import numba
    import torch
    from numba import njit, prange

    from mlbook import optim
    from mlbook.bench import compare

    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    n = args.size
    rng = np.random.default_rng(0)
    print(f"{n:,} float32 parameters, {args.threads} threads; numba {numba.__version__}, torch {torch.__version__}, "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    # The access patterns of the updates with no arithmetic to speak of: what the memory system allows.
    @njit(parallel=True, cache=True)
    def stream_3_written_1_read(p, m, v, g):
        for i in prange(p.size):
            p[i] += g[i]
            m[i] += g[i]
            v[i] += g[i]

    @njit(parallel=True, cache=True)
    def stream_2_written_1_read(p, m, g):
        for i in prange(p.size):
            p[i] += g[i]
            m[i] += g[i]

    def bandwidth_probe(arrays_written: int):
        """A kernel that moves exactly the bytes of an update with 3 (Adam) or 2 (the others) written
        arrays and one read-only one: its time is the floor, measured under the same load."""
        # Filled, not np.zeros: a zeroed array that is only read stays mapped to the kernel's single
        # shared zero page, so its reads would hit in cache and the floor would come out ~15% too low.
        arrays = [np.full(n, 1e-3, dtype=np.float32) for _ in range(arrays_written + 1)]
        kernel = stream_3_written_1_read if arrays_written == 3 else stream_2_written_1_read
        return lambda: kernel(*arrays)

    def make(cls, backend, **kwargs):
        flat = optim.FlatParameters([(n,)], np.float32)
        flat.data[...] = rng.standard_normal(n, dtype=np.float32)
        grads = flat.like()
        grads.data[...] = rng.standard_normal(n, dtype=np.float32)
        opt = cls(flat.params, backend=backend, **kwargs)
        return lambda: opt.step(grads.params)

    def make_torch(cls, **kwargs):
        p = torch.randn(n, dtype=torch.float32)
        p.grad = torch.randn(n, dtype=torch.float32)
        opt = cls([p], **kwargs)
        return opt.step

    rows = []
    # (name, numba candidate, arrays written, bytes per parameter, extra candidates)
    suites = [
        ("Adam", dict(lr=1e-3), optim.Adam, torch.optim.Adam, 3, 28),
        ("SGD momentum", dict(lr=1e-2, momentum=0.9), optim.SGD, torch.optim.SGD, 2, 20),
        ("RMSprop", dict(lr=1e-2), optim.RMSprop, torch.optim.RMSprop, 2, 20),
        ("Adagrad", dict(lr=1e-2), optim.Adagrad, torch.optim.Adagrad, 2, 20),
    ]
    if args.only:
        suites = [suite for suite in suites if suite[0].split()[0] in args.only]
    for name, kwargs, ours, theirs, written, bytes_per_param in suites:
        probe = f"{name}: bandwidth floor (probe)"
        candidates = {probe: bandwidth_probe(written),
                      f"{name}: numba fused": make(ours, "numba", **kwargs),
                      f"{name}: numpy": make(ours, "numpy", **kwargs)}
        if name in ("Adam", "SGD momentum", "Adagrad"):
            candidates[f"{name}: torch fused"] = make_torch(theirs, fused=True, **kwargs)
        candidates[f"{name}: torch foreach"] = make_torch(theirs, foreach=True, **kwargs)
        candidates[f"{name}: torch for-loop"] = make_torch(theirs, foreach=False, **kwargs)
        result = compare(candidates, repeat=args.repeat, number=1, warmup=2, baseline=probe)
        floor = result.median(probe)
        bw = bytes_per_param * n / floor
        print(f"\n{name}: {bytes_per_param} bytes/parameter; the probe moves them at {bw / 1e9:.1f} GB/s, "
              f"floor {floor * 1e3:.2f} ms")
        print(result.table())
        for candidate, timing in result.timings.items():
            if candidate != probe:
                rows.append((candidate, timing.median, floor))

    print("\n| candidate | median ms | floor ms | % of floor speed |")
    print("| --- | ---: | ---: | ---: |")
    for candidate, median, floor in rows:
        print(f"| {candidate} | {median * 1e3:.2f} | {floor * 1e3:.2f} | {100 * floor / median:.0f}% |")

    timings = {c: m for c, m, _ in rows}
    floors = {c.split(":")[0]: f for c, _, f in rows}
    checks = []
    if "Adam" in floors:
        checks += [
            ("numba Adam at least as fast as torch fused Adam",
             timings["Adam: numba fused"] <= timings["Adam: torch fused"]),
            ("numba Adam >= 90% of its bandwidth floor", floors["Adam"] / timings["Adam: numba fused"] >= 0.9),
            ("numpy Adam no slower than torch foreach Adam", timings["Adam: numpy"] <= timings["Adam: torch foreach"]),
        ]
    for name in ("SGD momentum", "RMSprop", "Adagrad"):
        if name in floors:
            checks.append((f"numba {name} >= 85% of its floor", floors[name] / timings[f"{name}: numba fused"] >= 0.85))
    print()
    for text, ok in checks:
        print(f"{'MET ' if ok else 'MISS'}  {text}")

    if args.cuda:
        cuda_benchmark(args.cuda_size, args.repeat)


def cuda_benchmark(n: int, repeat: int) -> None:
    """CUDA Adam on ``n`` float32 parameters against torch's fused CUDA Adam and a device-copy bandwidth."""
    import torch
    from numba import cuda

    from mlbook import optim

    if not (cuda.is_available() and torch.cuda.is_available()):
        print("\nCUDA: no GPU here; skipped")
        return

    def timed(fn) -> float:
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        fn()
        torch.cuda.synchronize()
        samples = []
        for _ in range(repeat):
            start.record()
            fn()
            stop.record()
            torch.cuda.synchronize()
            samples.append(start.elapsed_time(stop) / 1e3)
        return float(np.median(samples))

    p = torch.randn(n, device="cuda")
    g = torch.randn(n, device="cuda")
    ours = optim.Adam([p], backend="cuda")
    tp = torch.randn(n, device="cuda")
    tp.grad = torch.randn(n, device="cuda")
    theirs = torch.optim.Adam([tp], fused=True)
    a, b = torch.empty(n, device="cuda"), torch.empty(n, device="cuda")
    copy_time = timed(lambda: b.copy_(a))
    bw = 8 * n / copy_time
    t_ours, t_theirs = timed(lambda: ours.step([g])), timed(theirs.step)
    floor = 28 * n / bw
    print(f"\nCUDA, {n:,} parameters: copy bandwidth {bw / 1e9:.0f} GB/s, Adam floor {floor * 1e3:.2f} ms")
    print(f"| numba CUDA Adam | {t_ours * 1e3:.2f} ms | {100 * floor / t_ours:.0f}% of floor |")
    print(f"| torch fused CUDA Adam | {t_theirs * 1e3:.2f} ms | {100 * floor / t_theirs:.0f}% of floor |")


if __name__ == "__main__":
    sys.exit(main())
