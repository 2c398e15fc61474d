"""Map functions with a known character, for the chapters, tests and benchmarks.

They live in a module (not in a notebook cell) because process workers import a map function by
its module and name. Each has a cost you can dial: ``gil_free`` sleeps (like waiting on a disk or
a network: the GIL is released), ``numpy_heavy`` runs NumPy on arrays large enough that NumPy
releases the GIL, ``python_heavy`` runs a pure-Python loop that holds the GIL throughout, and
``cheap`` costs a microsecond or so.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["gil_free", "numpy_heavy", "python_heavy", "cheap", "fail_on", "FailingMap", "make_image", "exit_process_on", "big_array"]


def gil_free(x: np.ndarray, seconds: float = 0.001) -> np.ndarray:
    """Wait ``seconds`` with the GIL released (``time.sleep``), then return ``x`` doubled."""
    time.sleep(seconds)
    return x * 2


def numpy_heavy(x: np.ndarray, repeats: int = 20) -> np.ndarray:
    """A few milliseconds of NumPy (a sort of a 20k array, repeated): most of it runs without the GIL."""
    values = np.asarray(x, dtype=np.float64).reshape(-1)
    out = values
    for _ in range(repeats):
        out = np.sort(values + out[::-1])
    return out[:4].astype(np.float32)


def python_heavy(x: np.ndarray, loops: int = 3000) -> np.ndarray:
    """About 1 ms of pure-Python arithmetic that holds the GIL, then a small array result."""
    total = 0.0
    seed = float(np.asarray(x).reshape(-1)[0])
    for i in range(loops):
        total += (seed * i) % 7.0
    return np.full(64, total, dtype=np.float32)


def cheap(x: np.ndarray) -> np.ndarray:
    """A microsecond of work: the map that parallelism must not slow down."""
    return x + 1


def fail_on(x: np.ndarray, bad: int = 13) -> np.ndarray:
    """Return ``x``, but raise ``KeyError`` for the element equal to ``bad`` (tests error propagation)."""
    if int(x) == bad:
        raise KeyError(f"element {bad} is poisoned")
    return x


class FailingMap:
    """Picklable map that raises ``error_type(message)`` on element ``bad``, else sleeps ``seconds``."""

    def __init__(self, bad: int, error_type: type[BaseException] = ValueError, message: str = "bad element",
                 seconds: float = 0.0) -> None:
        self.bad, self.error_type, self.message, self.seconds = bad, error_type, message, seconds

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.seconds:
            time.sleep(self.seconds)
        if int(x) == self.bad:
            raise self.error_type(self.message)
        return np.asarray(x)


def exit_process_on(x: np.ndarray, bad: int = 5) -> np.ndarray:
    """Kill the worker process (``os._exit``) on element ``bad``: a crash, not an exception."""
    import os

    if int(x) == bad:
        os._exit(3)
    return x


def big_array(x: np.ndarray, size: int = 50_000, loops: int = 3000) -> np.ndarray:
    """``loops`` iterations of Python work (as :func:`python_heavy`), then a ``float32`` array of ``size``
    values filled with ``x``: a large output, to exercise shared memory."""
    python_heavy(x, loops)
    return np.full(size, float(np.asarray(x).reshape(-1)[0]), dtype=np.float32)


def make_image(label: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """A synthetic RGB ``uint8`` image of shape ``(size, size, 3)`` whose pattern depends on ``label``:
    stripes at an angle of ``label * 45`` degrees plus noise, so classes differ visibly."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = np.pi / 4 * label
    wave = np.sin(2 * np.pi * 3 * (np.cos(angle) * xx + np.sin(angle) * yy))
    base = (wave[..., None] * 0.5 + 0.5) * np.array([0.9, 0.6 + 0.1 * (label % 3), 0.4 + 0.2 * (label % 2)])
    image = base + 0.1 * rng.standard_normal((size, size, 3))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)
