"""Run code under Numba's CUDA simulator in a child process.

``NUMBA_ENABLE_CUDASIM=1`` replaces ``numba.cuda`` for the whole process that sees it, so the CUDA tests
set it only in a subprocess: no other test ever runs against the simulator by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_under_cuda_simulator(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python *args`` from the repository root with the simulator on; output captured as text."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
