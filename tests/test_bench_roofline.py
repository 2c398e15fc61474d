"""The roofline additions to mlbook.bench, and the figures of mlbook.viz.roofline."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlbook.bench import (
    gflops,
    limit_threads,
    machine_description,
    matmul_flops,
    matmul_intensity,
    measure_bandwidth,
    measure_peak_flops,
)
from mlbook.viz.roofline import plot_composition, plot_matmul_benchmark, plot_roofline, plot_sparse_crossover


def test_flop_counts_and_intensity():
    assert matmul_flops(2, 3, 4) == 48  # 8 entries, each 3 multiplies and 3 adds
    assert matmul_flops(0, 3, 4) == 0
    assert gflops(2e9, 0.5) == pytest.approx(4.0)
    # n x n float32: 2 n^3 flops over 3 n^2 * 4 bytes = n / 6
    assert matmul_intensity(600, 600, 600, itemsize=4) == pytest.approx(100.0)
    assert matmul_intensity(0, 0, 0) == 0.0
    with pytest.raises(ValueError, match="non-negative, got -1"):
        matmul_flops(-1, 2, 2)
    with pytest.raises(ValueError, match="positive"):
        gflops(1.0, 0.0)


def test_measured_peak_and_bandwidth_are_plausible():
    peak32 = measure_peak_flops(threads=1, repeat=3, seconds_per_call=0.002)
    peak64 = measure_peak_flops(threads=1, dtype="float64", repeat=3, seconds_per_call=0.002)
    assert 0.5 < peak32 < 1000 and 0.25 < peak64 < 1000
    bandwidth = measure_bandwidth(nbytes=2**22, repeat=3)
    assert 0.1 < bandwidth < 2000
    with pytest.raises(ValueError, match="threads must be at least 1"):
        measure_peak_flops(threads=0)
    with pytest.raises(ValueError, match="at least 4096"):
        measure_bandwidth(nbytes=10)


def test_limit_threads_restores():
    import numba
    import torch

    before = (numba.get_num_threads(), torch.get_num_threads())
    with limit_threads(1) as limited:
        assert numba.get_num_threads() == 1 and torch.get_num_threads() == 1
        assert limited.controlled["numba"] and limited.controlled["torch"]
        if limited.controlled["blas"]:
            from threadpoolctl import threadpool_info

            assert all(lib["num_threads"] == 1 for lib in threadpool_info() if lib["user_api"] == "blas")
    assert (numba.get_num_threads(), torch.get_num_threads()) == before
    with pytest.raises(ValueError, match="threads must be at least 1"):
        limit_threads(0)


def test_machine_description():
    info = machine_description()
    assert info["numpy"] == np.__version__ and info["cpu_count"] >= 1
    assert "OPENBLAS_CORETYPE" in info["env"]


def test_figures():
    fig = plot_roofline(100.0, 10.0, {"numpy": (50.0, 80.0), "naive": (0.5, 0.1)})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    roof = ax.lines[0].get_ydata()
    assert roof.max() == pytest.approx(100.0) and roof.min() == pytest.approx(10.0 / 16)
    rows = [dict(method=m, n=n, threads=t, gflops=g) for m, g in (("numpy", 50), ("numba", 10))
            for n in (64, 128) for t in (1, 2)]
    fig = plot_matmul_benchmark(rows, peak_gflops={1: 90.0, 2: 180.0})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3
    fig = plot_sparse_crossover([0.01, 0.1, 1.0], [1e-4, 1e-3, 1e-2], 2e-3, crossover=0.2)
    assert isinstance(fig, Figure)
    fig = plot_composition(np.array([[0, -1], [1, 0]]), np.array([[2, 0], [0, 1]]))
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="positive"):
        plot_roofline(0, 1)
    with pytest.raises(ValueError, match="at least one"):
        plot_matmul_benchmark([])
    with pytest.raises(ValueError, match="one time per density"):
        plot_sparse_crossover([0.1], [], 1.0)
    with pytest.raises(ValueError, match="2 x 2"):
        plot_composition(np.eye(3), np.eye(2))
