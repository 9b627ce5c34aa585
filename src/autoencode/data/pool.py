"""The map a prepare decodes its chunks with: in order, in this process or on a pool of them."""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context


@contextlib.contextmanager
def ordered_map(workers: int | None) -> Iterator:
    """An ordered map over chunks: in this process for one worker, else a pool of processes
    (each ignoring Ctrl-C, which the main process handles), with a few chunks in flight."""
    workers = workers or _cpus()
    if workers <= 1:
        yield map
        return
    # fork on Linux: the workers run Pillow only, and need no ``if __name__ == "__main__"``
    context = get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=signal.signal,
                             initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:  # fmt: skip
        yield partial(_bounded_map, pool, window=2 * workers)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _bounded_map(pool, fn, items, window: int) -> Iterator:
    """``pool.map`` with at most ``window`` results waiting: decoded chunks do not pile up in
    memory when writing them is the slower side."""
    items, pending = iter(items), collections.deque()
    pending.extend(pool.submit(fn, item) for item in itertools.islice(items, window))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, item) for item in itertools.islice(items, 1))
        yield result
