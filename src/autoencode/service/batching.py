"""Requests that arrive together, run on the model together.

A :class:`Batcher` holds a bounded queue of requests for one function of one model. Its worker
takes the first request waiting, then every other one already queued (up to ``max_batch``
images); while the batch is not full and other requests are arriving (their bodies being read
and decoded: ``arriving``), it lets them queue for up to ``max_wait`` seconds; then it runs the
function once on them all in the model's thread, and each request gets its own rows back. A
lone request never waits. While the model runs, new requests queue up, so the busier the
service the larger its batches. A full queue refuses at once (:class:`Busy`: the service
answers 503) rather than growing memory.
``max_batch=1`` turns batching off: each request runs alone, through the same queue.

The model's thread is one for the whole service (``concurrent.futures.ThreadPoolExecutor(1)``):
torch uses every core within an operation, and two batches at once would only contend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np


class Busy(Exception):
    """The queue is full."""


class Batcher:
    """``await batcher(images, option)``: ``fn`` applied to ``images`` with others' at once.

    ``fn(arrays, options)`` takes the requests' image arrays and options (one of each a
    request) and returns one result a request, in order."""

    def __init__(self, fn: Callable[[list[np.ndarray], list], list], executor: Executor, *,
                 max_batch: int = 256, max_wait: float = 0.002, max_queue: int = 1024):  # fmt: skip
        self.fn, self.executor = fn, executor
        self.max_batch, self.max_wait = max_batch, max_wait
        self.queue: asyncio.Queue = asyncio.Queue(max_queue)
        self.batches = self.requests = 0  # counted, for /health
        self.arriving = 0  # requests on their way to this queue (see ``arriving_request``)
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    @contextlib.contextmanager
    def arriving_request(self):
        """Around reading and decoding a request bound for this queue: a batch not yet full
        waits for such requests (up to ``max_wait``), not for ones that may never come."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    async def __call__(self, images: np.ndarray, option=None):
        future = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((images, option, future))
        except asyncio.QueueFull:
            raise Busy from None
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            rows = self._take(batch, len(batch[0][0]))
            deadline = loop.time() + self.max_wait
            while rows < self.max_batch and self.arriving > 0 and loop.time() < deadline:
                await asyncio.sleep(0)  # the event loop reads and decodes the arriving ones
                rows = self._take(batch, rows)
            batch = [item for item in batch if not item[2].done()]  # the client went away
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(
                    self.executor, self.fn, [b[0] for b in batch], [b[1] for b in batch]
                )
            except Exception as e:  # the function's error belongs to each request's caller
                results = [e] * len(batch)
            self.batches, self.requests = self.batches + 1, self.requests + len(batch)
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _take(self, batch: list, rows: int) -> int:
        """Move queued requests into ``batch`` while it has room; the rows it then holds."""
        while rows < self.max_batch and not self.queue.empty():
            item = self.queue.get_nowait()
            batch.append(item)
            rows += len(item[0])
        return rows
