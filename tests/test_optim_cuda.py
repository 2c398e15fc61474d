"""Runs the CUDA-backend tests under Numba's CUDA simulator in a subprocess, so that
``NUMBA_ENABLE_CUDASIM=1`` (which replaces numba.cuda for the whole process) reaches no other test."""

from __future__ import annotations

from pathlib import Path

from tests._cudasim import run_under_cuda_simulator

TESTS = Path(__file__).resolve().parent


def test_cuda_backend_under_the_simulator():
    result = run_under_cuda_simulator("-m", "pytest", str(TESTS / "test_optim_cuda_sim.py"), "-q",
                                      "-p", "no:cacheprovider", "-p", "no:randomly", timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary, summary
    assert "skipped" not in summary or "1 skipped" in summary, summary  # only the torch-on-GPU test may skip
