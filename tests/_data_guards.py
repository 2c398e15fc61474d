"""Shared guards for the mlbook.data tests: a watchdog so no test can hang CI, and leak checks."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import threading
import time

import pytest

WATCHDOG_SECONDS = 120


def shm_segments() -> set[str]:
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith("psm_")}
    except FileNotFoundError:  # not Linux
        return set()


def live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


@pytest.fixture(autouse=True)
def watchdog():
    """Dump every thread's stack and exit the run if one test takes longer than WATCHDOG_SECONDS."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def no_leaks():
    """Fail the test if it leaves a thread, a child process or a shared-memory segment behind."""
    threads, children, segments = live_threads(), set(multiprocessing.active_children()), shm_segments()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        new_threads = live_threads() - threads
        new_children = set(multiprocessing.active_children()) - children
        new_segments = shm_segments() - segments
        if not (new_threads or new_children or new_segments) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not new_threads, f"leaked threads: {[t.name for t in new_threads]}"
    assert not new_children, f"leaked processes: {new_children}"
    assert not new_segments, f"leaked shared-memory segments: {new_segments}"
