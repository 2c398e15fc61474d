"""Benchmark conv2d forward and backward side by side: naive, im2col (NumPy), numba, torch (oneDNN).

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/conv.py           # the issue's case
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/conv.py --quick   # batch 4
    .venv/bin/python benchmarks/conv.py --gpu      # also cuda vs cuDNN (torch on CUDA, TF32 off), batch 128

The target case is fp32, batch 32, 64 -> 64 channels, 56 x 56, 3 x 3, padding 1 (a ResNet stage-1
layer). The issue's targets, as speed relative to ``torch.nn.functional.conv2d`` in the same run:
numba >= 0.8x, im2col >= 0.4x; with a GPU, cuda >= 0.3x of cuDNN. ``naive`` is timed on a small case.
Backward: ``conv2d_backward`` (all three gradients) against torch's autograd of the same convolution.

Every comparison uses :func:`mlbook.bench.compare`: one process, candidates alternated on every
repeat, medians and ratios, and a quarter-second pause before each sample so that the thread pool one
candidate leaves spinning (OpenBLAS, OpenMP) does not slow down the next. Results go to benchmarks/results/conv.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mlbook.bench import compare  # noqa: E402
from mlbook.kernels.conv import conv2d, conv2d_backward, conv_geometry, im2col  # noqa: E402


#: Seconds of idle time before every timed sample (see ``mlbook.bench.compare``): the NumPy im2col
#: leaves OpenBLAS's threads spinning for about 0.1 s, which on two cores would be charged to whichever
#: candidate runs next.
SETTLE = 0.25


def _torch_backward(x, w, b, g):
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    F.conv2d(xt, wt, bt, padding=1).backward(torch.from_numpy(g))
    return xt.grad, wt.grad, bt.grad


def cpu(batch: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 64, 56, 56)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    reference = conv2d(x, w, b, padding=1, method="torch")
    for method in ("im2col", "numba"):
        np.testing.assert_allclose(conv2d(x, w, b, padding=1, method=method), reference, rtol=1e-3, atol=1e-3)
    candidates = {m: (lambda m=m: conv2d(x, w, b, padding=1, method=m)) for m in ("torch", "im2col", "numba")}
    geometry = conv_geometry(x.shape, w.shape, padding=1)
    candidates["im2col columns only"] = lambda: im2col(x, geometry)  # the copy alone, without the product
    forward = compare(candidates, repeat=repeat, number=1, settle=SETTLE)
    print(f"forward, batch {batch}, 64->64 channels, 56x56, 3x3, padding 1, float32\n{forward}")
    print(f"building the columns: {forward.median('im2col columns only') / forward.median('im2col'):.0%} "
          "of the NumPy im2col convolution")

    g = rng.standard_normal(reference.shape).astype(np.float32)
    backward = compare({
        "torch autograd (fwd+bwd)": lambda: _torch_backward(x, w, b, g),
        "torch fwd": lambda: conv2d(x, w, b, padding=1, method="torch"),
        "im2col bwd": lambda: conv2d_backward(g, x, w, padding=1, method="im2col"),
        "numba bwd": lambda: conv2d_backward(g, x, w, padding=1, method="numba"),
    }, repeat=repeat, number=1, settle=SETTLE)
    torch_bwd_only = backward.median("torch autograd (fwd+bwd)") - backward.median("torch fwd")
    print(f"\nbackward (input, weight and bias gradients)\n{backward}")
    print(f"torch backward alone ~ {torch_bwd_only * 1e3:.1f} ms (autograd minus forward)")

    xs = rng.standard_normal((1, 3, 8, 8))
    ws = rng.standard_normal((4, 3, 3, 3))
    small = compare({m: (lambda m=m: conv2d(xs, ws, padding=1, method=m)) for m in ("torch", "im2col", "numba", "naive")},
                    repeat=repeat)
    print(f"\nsmall case (1x3x8x8, 4 filters 3x3, float64)\n{small}")

    speed = {m: forward.speedup(m) for m in ("im2col", "numba")}
    results = {
        "forward_ms": {k: forward.median(k) * 1e3 for k in forward.timings},
        "im2col_build_share": forward.median("im2col columns only") / forward.median("im2col"),
        "speed_vs_torch": speed,
        "backward_ms": {k: backward.median(k) * 1e3 for k in backward.timings},
        "torch_backward_only_ms": torch_bwd_only * 1e3,
        "backward_speed_vs_torch": {m: torch_bwd_only / backward.median(f"{m} bwd") for m in ("im2col", "numba")},
        "small_ms": {k: small.median(k) * 1e3 for k in small.timings},
        "targets_met": {"numba >= 0.8x": speed["numba"] >= 0.8, "im2col >= 0.4x": speed["im2col"] >= 0.4},
    }
    for name, met in results["targets_met"].items():
        print(f"target {name}: {'met' if met else 'NOT met'} ({speed[name.split()[0]]:.2f}x)")
    return results


def gpu(batch: int, repeat: int) -> dict:
    from numba import cuda

    if not torch.cuda.is_available():
        print("no CUDA GPU: skipping the cuda comparison")
        return {}
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 64, 56, 56)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    dx, dw = cuda.to_device(x), cuda.to_device(w)
    tx, tw = torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda()

    def ours():
        conv2d(dx, dw, padding=1, method="cuda")
        cuda.synchronize()

    def cudnn():
        F.conv2d(tx, tw, padding=1)
        torch.cuda.synchronize()

    np.testing.assert_allclose(conv2d(dx, dw, padding=1, method="cuda").copy_to_host(),
                               F.conv2d(tx, tw, padding=1).cpu().numpy(), rtol=1e-3, atol=1e-3)
    result = compare({"cudnn": cudnn, "cuda": ours}, repeat=repeat)
    print(f"\nGPU, batch {batch}\n{result}\ntarget cuda >= 0.3x cuDNN: {result.speedup('cuda'):.2f}x")
    return {"gpu_ms": {k: result.median(k) * 1e3 for k in result.timings}, "gpu_speed_vs_cudnn": result.speedup("cuda")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 4 instead of 32")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--gpu", action="store_true", help="also time the CUDA kernel against cuDNN at batch 128")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "conv.json")
    args = parser.parse_args()
    results = cpu(4 if args.quick else 32, args.repeat)
    if args.gpu:
        results.update(gpu(128, args.repeat))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
