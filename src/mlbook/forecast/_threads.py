"""Run small optimisations with single-threaded BLAS.

L-BFGS-B calls BLAS on vectors of a few dozen numbers. With a multi-threaded OpenBLAS each of those
calls wakes the thread pool, and on a busy machine that costs milliseconds per iteration: more than the
Numba recursion it steers. Limiting BLAS to one thread for the duration of a fit removes that overhead.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

__all__ = ["single_threaded_blas"]

_controller = None


def single_threaded_blas() -> AbstractContextManager:
    """A context manager limiting BLAS to one thread (a no-op if ``threadpoolctl`` is not installed)."""
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and scipy's test deps
        return nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()  # scanning the loaded libraries is the slow part: once only
    return _controller.limit(limits=1, user_api="blas")
