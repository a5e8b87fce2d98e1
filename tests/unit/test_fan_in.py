"""loaders.fan_in: worker threads feeding one consumer (both sources' parallel scans use it)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from functools import partial

import pytest

from loaders.fan_in import consume, put_until_stopped, worker_thread

Work = Callable[[queue.Queue, threading.Event], None]


def workers(*bodies: Work, maxsize: int = 1) -> tuple[list[threading.Thread], queue.Queue, threading.Event]:
    out: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()
    threads = [
        worker_thread(out, stop, partial(body, out, stop), name=f"w{i}") for i, body in enumerate(bodies)
    ]
    return threads, out, stop


def producing(name: str, count: int) -> Work:
    def body(out: queue.Queue, stop: threading.Event) -> None:
        for i in range(count):
            if not put_until_stopped(out, stop, (name, i)):
                return

    return body


def test_every_item_of_every_worker_arrives_in_each_workers_order() -> None:
    threads, out, stop = workers(producing("a", 50), producing("b", 30), producing("c", 0))

    items = list(consume(threads, out, stop))

    assert len(items) == 80
    for name, count in (("a", 50), ("b", 30)):
        assert [i for n, i in items if n == name] == list(range(count))
    assert not any(t.is_alive() for t in threads)


def test_a_workers_error_is_raised_in_the_consumer_and_the_others_end() -> None:
    def failing(out: queue.Queue, stop: threading.Event) -> None:
        put_until_stopped(out, stop, ("f", 0))
        raise ValueError("page 3 of range 7 failed")

    threads, out, stop = workers(failing, producing("endless", 10**9))

    with pytest.raises(ValueError, match="page 3 of range 7"):
        for _ in consume(threads, out, stop):
            pass

    assert stop.is_set()
    assert not any(t.is_alive() for t in threads), "a worker blocked on the full queue was left behind"


def test_closing_the_consumer_early_stops_the_workers() -> None:
    threads, out, stop = workers(producing("a", 10**9), producing("b", 10**9))

    items = consume(threads, out, stop)
    first = [next(items) for _ in range(5)]
    items.close()

    assert len(first) == 5
    assert not any(t.is_alive() for t in threads)


def test_a_worker_stuck_in_a_request_is_waited_for_no_longer_than_asked() -> None:
    release = threading.Event()

    def stuck(out: queue.Queue, stop: threading.Event) -> None:
        put_until_stopped(out, stop, "first page")
        release.wait(30)  # a request in flight that ignores the stop

    threads, out, stop = workers(stuck)
    items = consume(threads, out, stop, unblock_for=0.3)
    assert next(items) == "first page"
    items.close()  # returns although the worker has not ended: it is still in its request

    try:
        assert stop.is_set()
        assert threads[0].is_alive()
    finally:
        release.set()
    threads[0].join(5)
    assert not threads[0].is_alive()
