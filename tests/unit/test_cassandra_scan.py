"""The token-range scan against a fake session: retries resume at the failed page, nothing twice."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra import InvalidRequest, ReadTimeout

from loaders.cassandra.change_capture import micros, next_cursor
from loaders.cassandra.scan import PageRows, ScanFailed, ScanStatements, TokenRangeScan
from loaders.cassandra.token_ranges import split_ring


class FakePrepared:
    def bind(self, params: tuple) -> SimpleNamespace:
        return SimpleNamespace(params=params)


class FakeFuture:
    def __init__(self, rows: list | None = None, state: Any = None, error: Exception | None = None) -> None:
        self.rows, self.state, self.error = rows, state, error

    def result(self) -> SimpleNamespace:
        if self.error is not None:
            raise self.error
        return SimpleNamespace(current_rows=[PageRows(self.rows)], paging_state=self.state)


class FakeSession:
    """Each range holds ``rows_per_range`` rows ``(range_start, i)``, served ``page`` at a time.

    ``fail`` maps (range_start, page_number) to how many requests of that page fail first.
    """

    def __init__(
        self,
        ranges: list,
        rows_per_range: int,
        page: int,
        fail: dict | None = None,
        error: Exception | None = None,
    ) -> None:
        self.data = {r.start: [(r.start, i) for i in range(rows_per_range)] for r in ranges}
        self.page = page
        self.fail = dict(fail or {})
        self.error = error or ReadTimeout(
            "injected", consistency=1, required_responses=1, received_responses=0
        )
        self.requests: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def execution_profile_clone_update(self, *_: Any, **__: Any) -> None:
        return None

    def execute_async(
        self, statement: Any, paging_state: Any = None, execution_profile: Any = None
    ) -> FakeFuture:
        start = statement.params[0]
        page_number = paging_state or 0
        with self.lock:
            self.requests.append((start, page_number))
            if self.fail.get((start, page_number), 0) > 0:
                self.fail[(start, page_number)] -= 1
                return FakeFuture(error=self.error)
        rows = self.data[start][page_number * self.page : (page_number + 1) * self.page]
        more = (page_number + 1) * self.page < len(self.data[start])
        return FakeFuture(rows, page_number + 1 if more else None)


def scan(session: FakeSession, ranges: list, **kwargs: Any) -> TokenRangeScan:
    kwargs.setdefault("parallelism", 3)
    kwargs.setdefault("backoff_s", 0.0)
    return TokenRangeScan(session, ScanStatements(FakePrepared(), FakePrepared()), ranges, list, **kwargs)


def test_every_row_once_without_failures() -> None:
    ranges = split_ring(10)
    session = FakeSession(ranges, rows_per_range=23, page=5)
    rows = [row for page in scan(session, ranges) for row in page]
    assert sorted(rows) == sorted(row for r in ranges for row in session.data[r.start])


def test_failed_pages_resume_at_the_failed_page() -> None:
    ranges = split_ring(8)
    fail = {(ranges[0].start, 0): 2, (ranges[1].start, 2): 1, (ranges[5].start, 4): 3}
    session = FakeSession(ranges, rows_per_range=23, page=5, fail=fail)
    s = scan(session, ranges)
    rows = [row for page in s for row in page]
    assert len(rows) == len(set(rows)) == 8 * 23
    assert s.stats.retries == 6
    # a retried page is asked again with its own paging state, never from the range's start
    asked = [page for start, page in session.requests if start == ranges[5].start]
    assert asked.count(4) == 4 and asked.count(0) == 1


def test_hook_failure_after_a_page_was_emitted() -> None:
    ranges = split_ring(4)
    session = FakeSession(ranges, rows_per_range=12, page=5)
    seen: list = []

    def hook(index: int, page: int, attempt: int) -> None:
        seen.append((index, page, attempt))
        if page == 1 and attempt == 0:
            from loaders.cassandra.scan import TransientScanError

            raise TransientScanError("lost page")

    rows = [row for page in scan(session, ranges, page_hook=hook) for row in page]
    assert len(rows) == len(set(rows)) == 4 * 12
    assert all((i, 1, 1) in seen for i in range(4))


def test_a_page_failing_every_attempt_fails_the_scan() -> None:
    ranges = split_ring(4)
    session = FakeSession(ranges, rows_per_range=12, page=5, fail={(ranges[2].start, 1): 99})
    with pytest.raises(ScanFailed, match="3 times"):
        list(scan(session, ranges, max_attempts=3))


def test_a_non_retryable_error_is_raised_at_once() -> None:
    ranges = split_ring(4)
    session = FakeSession(ranges, 12, 5, fail={(ranges[1].start, 0): 1}, error=InvalidRequest("bad query"))
    with pytest.raises(InvalidRequest):
        list(scan(session, ranges, max_attempts=5))
    assert sum(1 for start, page in session.requests if (start, page) == (ranges[1].start, 0)) == 1


def test_closing_the_scan_early_stops_the_workers() -> None:
    ranges = split_ring(64)
    session = FakeSession(ranges, rows_per_range=100, page=1)
    iterator = iter(scan(session, ranges, parallelism=4))
    next(iterator)
    iterator.close()
    before = len(session.requests)
    threading.Event().wait(0.3)
    assert len(session.requests) - before <= 8  # at most the in-flight requests
    assert not [t for t in threading.enumerate() if t.name.startswith("scan--")]


def test_page_rows_are_handed_over_once() -> None:
    box = PageRows([1, 2])
    assert box.take() == [1, 2] and box.take() == [] and box.rows is None


def test_cursor_moves_forward_capped_at_the_scan_start() -> None:
    t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    assert next_cursor(None, None, t) is None
    assert next_cursor(micros(t - hour), None, t) == micros(t - hour)
    assert next_cursor(None, micros(t - hour), t) == micros(t - hour)
    assert next_cursor(None, micros(t + hour), t) == micros(
        t
    )  # writes from the future: capped at the scan's start
    assert next_cursor(micros(t), micros(t - hour), t + hour) == micros(t)  # never moves back
