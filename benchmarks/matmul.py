"""Benchmark every CPU matmul method side by side, with the machine's measured peak and bandwidth.

Usage (from the repository root)::

    .venv/bin/python benchmarks/matmul.py                 # full run, writes benchmarks/results/matmul.{csv,json}
    .venv/bin/python benchmarks/matmul.py --quick         # small sizes, a minute or so
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/matmul.py

On machines where the environment sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (a workaround for old
OpenBLAS builds), NumPy runs a slower kernel; unset both together *in the benchmark command only*, as in
the last line, and check the ``blas`` entry of the machine description.

How it measures:

* Each thread count runs in its own child process with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set
  before NumPy starts, and inside it :class:`mlbook.bench.limit_threads` also limits BLAS (through
  threadpoolctl when installed), Numba and PyTorch.
* For each size all methods are timed by :func:`mlbook.bench.compare`: one process, candidates
  alternated on every repeat, medians, ratios to ``numpy.matmul``, and a short pause before every
  sample so that the threads OpenBLAS leaves spinning after a NumPy call do not slow the next candidate.
* GFLOP/s = 2 n^3 / median seconds; "% of peak" divides by the peak measured with
  :func:`mlbook.bench.measure_peak_flops` on the same number of threads.
* ``--gpu`` (with a CUDA GPU) times ``cuda_naive``, ``cuda_tiled`` and ``cuda_register`` against
  cuBLAS through ``torch.matmul`` at n = 4096 in float32 with TF32 off.
* Strassen is compared with NumPy from 512 to 4096 on one thread (its crossover), and the CSR x dense
  product against dense ``numpy.matmul`` over a range of densities (the density crossover).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FULL_SIZES = [64, 128, 256, 512, 1024, 2048]
QUICK_SIZES = [64, 128, 256]
NAIVE_MAX_N = 128
SIMPLE_NUMBA_MAX_N = 2048
#: Idle seconds before every timed sample (see ``mlbook.bench.compare``). After each call OpenBLAS keeps
#: its worker threads spinning for about 0.1 s; on two cores that halves the speed of the Numba kernel
#: timed next (measured: the simple kernel ran 1.8x slower right after ``numpy.matmul``).
SETTLE = 0.15


def run_child(threads: int, sizes: list[int], repeat: int, strassen_sizes: list[int], sparse_n: int) -> dict:
    import numpy as np

    from mlbook import bench
    from mlbook.kernels import (CSRMatrix, csr_matmul, matmul_blocked, matmul_naive, matmul_numba,
                                matmul_numba_blocked, matmul_strassen, matmul_torch)

    out: dict = {"threads": threads, "rows": [], "strassen": [], "sparse": None}
    rng = np.random.default_rng(0)
    with bench.limit_threads(threads) as limited:
        out["controlled"] = limited.controlled
        out["peak_gflops"] = bench.measure_peak_flops(threads=threads)
        out["peak_gflops_float64"] = bench.measure_peak_flops(threads=threads, dtype="float64")
        out["bandwidth_gbs"] = bench.measure_bandwidth(threads=threads)
        print(f"[{threads} thread(s)] peak {out['peak_gflops']:.1f} GFLOP/s float32, "
              f"bandwidth {out['bandwidth_gbs']:.1f} GB/s", flush=True)
        for n in sizes:
            A = rng.standard_normal((n, n), dtype=np.float32)
            B = rng.standard_normal((n, n), dtype=np.float32)
            candidates = {
                "numpy": lambda: A @ B,
                "blocked": lambda: matmul_blocked(A, B),
                "strassen": lambda: matmul_strassen(A, B),
                "numba": lambda: matmul_numba(A, B),
                "numba_blocked": lambda: matmul_numba_blocked(A, B),
                "torch": lambda: matmul_torch(A, B),
            }
            if n <= NAIVE_MAX_N:
                candidates["naive"] = lambda: matmul_naive(A, B)
            if n > SIMPLE_NUMBA_MAX_N:
                del candidates["numba"]
            reps = repeat if n >= 512 else max(repeat, 9)
            result = bench.compare(candidates, baseline="numpy", repeat=reps, min_time=0.05, settle=SETTLE)
            flops = bench.matmul_flops(n, n, n)
            for name, timing in result.timings.items():
                rate = bench.gflops(flops, timing.median)
                out["rows"].append({
                    "threads": threads, "n": n, "method": name, "median_s": timing.median,
                    "best_s": timing.best, "gflops": rate,
                    "fraction_of_numpy": result.speedup(name),
                    "fraction_of_peak": rate / out["peak_gflops"],
                    "intensity": bench.matmul_intensity(n, n, n, 4),
                })
            print(f"[{threads} thread(s)] n={n}\n{result.table()}", flush=True)
        if threads == 1:
            for n in strassen_sizes:
                A = rng.standard_normal((n, n), dtype=np.float32)
                B = rng.standard_normal((n, n), dtype=np.float32)
                cands = {"numpy": lambda: A @ B}
                for leaf in (256, 512, 1024, 2048):
                    if leaf < n:
                        cands[f"strassen_leaf{leaf}"] = (lambda leaf=leaf: matmul_strassen(A, B, leaf=leaf))
                result = bench.compare(cands, baseline="numpy", repeat=5, min_time=0.05,
                                       settle=SETTLE)
                for name, timing in result.timings.items():
                    out["strassen"].append({"n": n, "method": name, "median_s": timing.median,
                                            "speedup_over_numpy": result.speedup(name)})
                print(f"[strassen] n={n}\n{result.table()}", flush=True)
            if sparse_n:
                n = sparse_n
                dense = rng.standard_normal((n, n), dtype=np.float32)
                B = rng.standard_normal((n, n), dtype=np.float32)
                densities = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5]
                dense_time = bench.time_call(lambda: dense @ B, repeat=7, min_time=0.05).median
                times = []
                for density in densities:
                    S = CSRMatrix.from_dense(np.where(rng.random((n, n)) < density, dense, 0).astype(np.float32))
                    times.append(bench.time_call(lambda S=S: csr_matmul(S, B), repeat=7, min_time=0.05).median)
                out["sparse"] = {"n": n, "densities": densities, "sparse_s": times, "dense_s": dense_time,
                                 "crossover": crossover(densities, times, dense_time)}
                print(f"[sparse] n={n} dense {dense_time * 1e3:.2f} ms, crossover density "
                      f"{out['sparse']['crossover']}", flush=True)
    return out


def run_gpu(n: int = 4096, repeat: int = 5) -> list[dict] | None:
    """Time the three Numba CUDA kernels against cuBLAS (torch.matmul, TF32 off) on n x n float32."""
    import torch

    if not torch.cuda.is_available():
        return None
    import numpy as np
    from numba import cuda

    from mlbook import bench
    from mlbook.kernels import cuda_matmul

    torch.backends.cuda.matmul.allow_tf32 = False  # compare float32 with float32, not TF32 tensor cores
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    dA, dB = cuda.to_device(A), cuda.to_device(B)
    tA, tB = torch.from_numpy(A).cuda(), torch.from_numpy(B).cuda()

    def synced(fn):
        def call():
            fn()
            cuda.synchronize()
            torch.cuda.synchronize()
        return call

    candidates = {"torch": synced(lambda: tA @ tB)}
    for kind in ("naive", "tiled", "register"):
        kernel = getattr(cuda_matmul, f"matmul_cuda_{kind}")
        candidates[f"cuda_{kind}"] = synced(lambda kernel=kernel: kernel(dA, dB))
    expected = A.astype(np.float64) @ B
    for name in ("cuda_naive", "cuda_tiled", "cuda_register"):
        got = getattr(cuda_matmul, f"matmul_{name}")(A, B)
        assert np.allclose(got, expected, rtol=1e-3, atol=1e-2), name
    result = bench.compare(candidates, baseline="torch", repeat=repeat, min_time=0.2)
    print(f"[gpu] {torch.cuda.get_device_name()} n={n}\n{result.table()}", flush=True)
    flops = bench.matmul_flops(n, n, n)
    return [{"device": torch.cuda.get_device_name(), "n": n, "method": name, "median_s": t.median,
             "gflops": bench.gflops(flops, t.median), "fraction_of_torch": result.speedup(name)}
            for name, t in result.timings.items()]


def crossover(densities: list[float], times: list[float], dense_time: float) -> float | None:
    """The density where the sparse time meets the dense time (log-log interpolation), or None."""
    import math

    for (d0, t0), (d1, t1) in zip(zip(densities, times), zip(densities[1:], times[1:])):
        if t0 <= dense_time < t1:
            f = (math.log(dense_time) - math.log(t0)) / (math.log(t1) - math.log(t0))
            return math.exp(math.log(d0) + f * (math.log(d1) - math.log(d0)))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (a minute or so)")
    parser.add_argument("--sizes", type=int, nargs="*", help="square sizes n to time")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "matmul")
    parser.add_argument("--gpu", action="store_true", help="also time the CUDA kernels against torch.matmul")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    strassen_sizes = [256, 512] if args.quick else [512, 1024, 2048, 4096]
    sparse_n = 256 if args.quick else 1024

    if args.child is not None:  # inside a child: measure and print JSON on the last line
        result = run_child(args.child, sizes, args.repeat, strassen_sizes, sparse_n)
        print("JSON " + json.dumps(result))
        return

    from mlbook.bench import machine_description

    report = {"command": " ".join([Path(sys.executable).name] + sys.argv),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine_description(), "runs": []}
    for threads in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--child", str(threads), "--repeat", str(args.repeat), "--sizes",
               *map(str, sizes)] + (["--quick"] if args.quick else [])
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        payload = None
        for line in proc.stdout:
            if line.startswith("JSON "):
                payload = json.loads(line[5:])
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0 or payload is None:
            raise SystemExit(f"child for {threads} thread(s) failed")
        report["runs"].append(payload)

    report["gpu"] = run_gpu() if args.gpu else None

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    rows = [row for run in report["runs"] for row in run["rows"]]
    with args.out.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.csv')}")
    print(summary(report))


def summary(report: dict) -> str:
    """The issue's targets, checked against this run."""
    lines = ["target check (fraction of numpy GFLOP/s, same run):"]
    rows = {(r["method"], r["n"], r["threads"]): r for run in report["runs"] for r in run["rows"]}
    for method, n, threads, target in [("numba_blocked", 1024, 2, 0.80), ("numba_blocked", 1024, 1, 0.85),
                                       ("numba_blocked", 2048, 2, 0.75), ("numba", 1024, 1, 0.30),
                                       ("numba", 1024, 2, 0.30), ("blocked", 2048, 1, 0.85)]:
        row = rows.get((method, n, threads))
        if row:
            got = row["fraction_of_numpy"]
            lines.append(f"  {method:14s} n={n:5d} {threads}T: {got:6.2f} (target >= {target}) "
                         f"{'met' if got >= target else 'NOT met'}")
    for run in report["runs"]:
        for r in run["strassen"]:
            if r["n"] == 4096 and r["method"] != "numpy":
                lines.append(f"  {r['method']:14s} n=4096 1T: {r['speedup_over_numpy']:.2f}x numpy (target >= 1.05)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
