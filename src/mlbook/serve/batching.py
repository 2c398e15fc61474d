"""Micro-batching: merge the rows of requests that arrive close together into one forward pass.

A forward pass on 64 rows costs barely more than on 1 (one matrix product instead of 64 small ones), so
a server under concurrent load can trade a little latency (waiting up to ``max_wait_s`` for company)
for throughput. :class:`MicroBatcher` runs in the server's asyncio event loop: each request awaits a
future; one background task takes requests off a queue until ``max_rows`` rows are gathered or
``max_wait_s`` has passed since the first, runs ``predict`` once on the stacked rows (in a worker thread,
so the event loop keeps accepting requests meanwhile) and hands each request its slice.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Optional

import numpy as np

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Batch ``predict(x: (rows, features)) -> (rows, outputs)`` calls across concurrent requests.

    Parameters
    ----------
    predict : callable
        Vectorised over rows; must return one output row per input row.
    max_rows : int
        Upper bound on the rows of one merged batch (a single request larger than this runs alone).
    max_wait_s : float
        How long the first request of a batch waits for others. 0 merges only what is already queued.
    """

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], *, max_rows: int = 256,
                 max_wait_s: float = 0.002) -> None:
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
        if not max_wait_s >= 0:
            raise ValueError(f"max_wait_s must be >= 0 seconds, got {max_wait_s!r}")
        self.predict = predict
        self.max_rows = max_rows
        self.max_wait_s = float(max_wait_s)
        self.batches_run = 0
        self.rows_run = 0
        self._queue: Optional[asyncio.Queue] = None
        self._task: Optional[asyncio.Task] = None
        self._carry: Optional[tuple] = None  # a request that did not fit the last batch: it opens the next

    async def start(self) -> None:
        """Start the background task (call from inside the running event loop)."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Cancel the background task; requests still waiting get an error instead of hanging."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        pending = [self._carry] if self._carry is not None else []
        self._carry = None
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for _, future in pending:
            if not future.done():
                future.set_exception(RuntimeError("the server is shutting down"))

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """Predict for the rows of ``x`` (shape ``(rows, features)``), merged with concurrent requests."""
        if self._queue is None or self._task is None:
            raise RuntimeError("MicroBatcher.submit called before start()")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((x, future))
        return await future

    async def _gather(self) -> list:
        """One batch of queued requests: wait for the first, then for more until full or out of time."""
        assert self._queue is not None
        if self._carry is not None:
            items, self._carry = [self._carry], None
        else:
            items = [await self._queue.get()]
        rows = items[0][0].shape[0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while rows < self.max_rows:
            try:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    item = self._queue.get_nowait()
            except asyncio.TimeoutError:
                break
            if rows + item[0].shape[0] > self.max_rows:
                self._carry = item
                break
            items.append(item)
            rows += item[0].shape[0]
        return items

    async def _run(self) -> None:
        while True:
            items = await self._gather()
            inputs = [x for x, _ in items]
            try:
                outputs = await asyncio.to_thread(self.predict, np.concatenate(inputs))
            except Exception as error:  # one bad batch must not kill the loop; each request gets the error
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches_run += 1
            self.rows_run += int(outputs.shape[0])
            start = 0
            for x, future in items:
                if not future.done():  # the client may have gone away (cancelled)
                    future.set_result(outputs[start:start + x.shape[0]])
                start += x.shape[0]
