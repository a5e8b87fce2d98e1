"""Worker threads feeding one consumer through a bounded queue: the parallel scans of both sources.

Each worker (worker_thread) puts its items, then ``DONE``; an exception it raises is put in
the queue and raised again in the consumer. When the consumer stops early (an error, or the
caller closing the generator), the workers see ``stop`` at their next put and end; the
consumer drains the queue meanwhile so that none stays blocked on a full queue.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

DONE = object()  # a worker's last item


def put_until_stopped(
    out: queue.Queue[Any], stop: threading.Event, item: Any, *, force: bool = False
) -> bool:
    """Put ``item``, waiting while the queue is full; False if the consumer stopped first.

    force: put even after the stop, as long as the queue has room (a worker's ``DONE``)."""
    while True:
        if stop.is_set() and not force:
            return False
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def worker_thread(
    out: queue.Queue[Any], stop: threading.Event, work: Callable[[], None], *, name: str
) -> threading.Thread:
    """A daemon thread that runs ``work`` (which puts its items with put_until_stopped), hands
    an exception it raises to the consumer, then puts ``DONE``. Started by consume."""

    def run() -> None:
        try:
            work()
        except BaseException as error:
            put_until_stopped(out, stop, error)
        finally:
            put_until_stopped(out, stop, DONE, force=True)

    return threading.Thread(target=run, name=name, daemon=True)


def consume(
    workers: Sequence[threading.Thread],
    out: queue.Queue[Any],
    stop: threading.Event,
    *,
    unblock_for: float | None = None,
) -> Iterator[Any]:
    """Start the workers and yield their items until each has put ``DONE``.

    unblock_for: after an early stop, how long to keep draining for workers still running
    (None: until they all end). A worker waiting on a request in flight may outlive it."""
    for worker in workers:
        worker.start()
    running = len(workers)
    try:
        while running:
            item = out.get()
            if item is DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        deadline = None if unblock_for is None else time.monotonic() + unblock_for
        while any(w.is_alive() for w in workers) and (deadline is None or time.monotonic() < deadline):
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)  # unblock workers waiting on a full queue
