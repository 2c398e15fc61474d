"""Inference latency and throughput against batch size: the Forward-propagation chapter's measurement at
full size, for the library's NumPy forward pass and the same network in PyTorch.

Run:  .venv/bin/python benchmarks/inference_batching.py [--threads 1]

Network [784, 256, 128, 10] (ReLU, ReLU, softmax), float32 in both libraries. For every batch size the
candidates run side by side in one process, alternating, with medians over repeats (mlbook.bench.compare).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mlbook.bench import compare, limit_threads, machine_description
from mlbook.nn.forward import forward_rows, initialize_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    dims, activations = [784, 256, 128, 10], ["relu", "relu", "softmax"]
    params = {k: v.astype(np.float32) for k, v in initialize_parameters(dims, rng=0).items()}
    torch_model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                      torch.nn.ReLU(), torch.nn.Linear(128, 10), torch.nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        for i, l in zip((0, 2, 4), (1, 2, 3)):
            torch_model[i].weight.copy_(torch.from_numpy(params[f"W{l}"]))
            torch_model[i].bias.copy_(torch.from_numpy(params[f"b{l}"][:, 0]))
    pool = np.random.default_rng(0).standard_normal((16384, 784)).astype(np.float32)
    tpool = torch.from_numpy(pool)
    out_np = forward_rows(pool[:64], params, activations)[0]
    with torch.no_grad():
        out_t = torch_model(tpool[:64]).numpy()
    assert np.allclose(out_np, out_t, atol=1e-5), "the two implementations disagree"

    print(machine_description())
    print(f"threads: {args.threads}")
    print(f"{'batch':>6}  {'numpy us/call':>14}  {'torch us/call':>14}  {'numpy ex/s':>12}  {'torch ex/s':>12}  {'torch speed-up':>14}")
    with limit_threads(args.threads), torch.no_grad():
        for m in (1, 8, 32, 128, 512, 2048, 8192, 16384):
            result = compare({"numpy": lambda m=m: forward_rows(pool[:m], params, activations),
                              "torch": lambda m=m: torch_model(tpool[:m])}, repeat=args.repeat, min_time=0.02)
            t_np, t_t = result.median("numpy"), result.median("torch")
            print(f"{m:6d}  {t_np * 1e6:14.1f}  {t_t * 1e6:14.1f}  {m / t_np:12,.0f}  {m / t_t:12,.0f}  "
                  f"{t_np / t_t:13.2f}x")


if __name__ == "__main__":
    main()
