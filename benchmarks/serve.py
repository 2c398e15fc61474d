"""Serving benchmark: latency and throughput against batch size and concurrency, with and without
micro-batching, against `python -m mlbook.serve` running in its own process on 127.0.0.1.

Run: .venv/bin/python benchmarks/serve.py [--requests 300] [--repeat 3]
Every run is bounded (a fixed number of requests and a time limit); the server is always stopped.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from mlbook.serve import Preprocessing, run_load, save_artifact, serve_subprocess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--features", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(args.features, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    x = np.random.default_rng(0).normal(size=(4096, args.features))
    pre = Preprocessing.fit(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_artifact(Path(tmp) / "model.npz", model, mean=pre.mean, std=pre.std, task="classification")
        print("batch size (1 client): median latency ms | rows/s")
        with serve_subprocess(path, extra_args=("--max-rows", "1024")) as url:
            for batch in (1, 4, 16, 64, 256):
                runs = [run_load(f"{url}/predict", x[:batch].tolist(), concurrency=1,
                                 n_requests=max(20, args.requests // 4), time_limit_s=60) for _ in range(args.repeat)]
                assert all(not r.errors for r in runs), runs[0].errors[:3]
                print(f"{batch:5d}  {statistics.median(r.latency_ms(0.5) for r in runs):8.2f} ms"
                      f"  {statistics.median(r.rows_per_s for r in runs):10.0f} rows/s")
        print("\nconcurrency (1 row per request): requests/s, plain vs micro-batched (alternating)")
        results: dict[str, dict[int, list[float]]] = {"plain": {}, "micro-batched": {}}
        with serve_subprocess(path) as plain_url, serve_subprocess(path, extra_args=("--micro-batching",)) as mb_url:
            for clients in (1, 4, 16):
                for _ in range(args.repeat):
                    for label, url in (("plain", plain_url), ("micro-batched", mb_url)):
                        r = run_load(f"{url}/predict", x[:1].tolist(), concurrency=clients, n_requests=args.requests,
                                     time_limit_s=60)
                        assert not r.errors, r.errors[:3]
                        results[label].setdefault(clients, []).append(r.requests_per_s)
                plain = statistics.median(results["plain"][clients])
                batched = statistics.median(results["micro-batched"][clients])
                print(f"{clients:3d} clients: plain {plain:7.0f} req/s   micro-batched {batched:7.0f} req/s"
                      f"   ratio {batched / plain:.2f}")


if __name__ == "__main__":
    main()
