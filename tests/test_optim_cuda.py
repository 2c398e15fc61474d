"""Runs the CUDA-backend tests under Numba's CUDA simulator in a subprocess, so that
``NUMBA_ENABLE_CUDASIM=1`` (which replaces numba.cuda for the whole process) reaches no other test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_cuda_backend_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(TESTS / "test_optim_cuda_sim.py"), "-q", "-p", "no:cacheprovider",
         "-p", "no:randomly"],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary, summary
    assert "skipped" not in summary or "1 skipped" in summary, summary  # only the torch-on-GPU test may skip
