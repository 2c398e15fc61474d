"""A bounded load generator: a fixed number of requests from several concurrent clients.

Each client is a thread with its own ``httpx.Client`` (one keep-alive connection). The run is bounded
twice: by ``n_requests`` in total and by ``time_limit_s`` (clients stop taking new requests after it),
and every request has its own ``timeout_s``, so a stuck server cannot hang the caller.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    """Outcome of :func:`run_load`. ``latencies_s`` holds one entry per completed request."""

    latencies_s: np.ndarray
    statuses: dict[int, int]
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    rows_per_request: int = 1

    @property
    def completed(self) -> int:
        return int(self.latencies_s.size)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def requests_per_s(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.requests_per_s * self.rows_per_request

    def latency_ms(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the request latency, in milliseconds."""
        return float(np.quantile(self.latencies_s, q) * 1e3) if self.completed else float("nan")


def run_load(url: str, instances: Sequence[Sequence[float]], *, concurrency: int = 4, n_requests: int = 200,
             time_limit_s: float = 30.0, timeout_s: float = 10.0) -> LoadResult:
    """POST ``{"instances": instances}`` to ``url`` (``.../predict``) ``n_requests`` times from
    ``concurrency`` client threads. Transport failures are recorded in ``errors``, not raised."""
    import httpx

    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    if not isinstance(n_requests, int) or n_requests < 1:
        raise ValueError(f"n_requests must be a positive integer, got {n_requests!r}")
    body = {"instances": [list(map(float, row)) for row in instances]}
    remaining = [n_requests]
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    start = time.perf_counter()
    deadline = start + time_limit_s

    def client() -> None:
        with httpx.Client(timeout=timeout_s) as session:
            while time.perf_counter() < deadline:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                t0 = time.perf_counter()
                try:
                    response = session.post(url, json=body)
                except httpx.HTTPError as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    continue
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()) + timeout_s + 1.0)
    elapsed = time.perf_counter() - start
    if any(t.is_alive() for t in threads):
        errors.append("a client thread was still running after the time limit")
    if remaining[0] and not errors:
        errors.append(f"{remaining[0]} requests not sent within {time_limit_s} s")
    return LoadResult(np.array(latencies), statuses, errors, elapsed, len(body["instances"]))
