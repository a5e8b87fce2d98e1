"""Parallel, paged, retried full scan of a Cassandra table over token ranges.

The ring is split into contiguous token ranges (``token_ranges``), aligned on the
nodes' tokens so each range has one replica set, and routed to those replicas. A pool of
worker threads takes ranges from a queue; each reads its range page by page
(``fetch_size`` rows) with ``SELECT ... WHERE token(pk) > ? AND token(pk) <= ?``,
requesting the next page before converting the current one, and hands every converted
page to the consumer through a bounded queue (memory stays bounded whatever the table
size: at most ``2 * parallelism`` pages queued and two in flight per worker).

Retries without duplicates or gaps: a page is *committed* when it is put on the output
queue, and the driver's paging state of the next page is kept. When a request fails
(timeout, unavailable, lost connection...), the range resumes from the paging state of
the first uncommitted page, so a retried range never re-emits a committed row and never
skips one. Only when ``max_attempts`` consecutive attempts of the same page fail does
the scan fail (and the load with it: nothing is committed to the warehouse).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from cassandra import DriverException, OperationTimedOut, RequestExecutionException, Unauthorized
from cassandra.cluster import EXEC_PROFILE_DEFAULT, NoHostAvailable, ResponseFuture, Session
from cassandra.connection import ConnectionException
from cassandra.query import PreparedStatement

from loaders.cassandra.token_ranges import TokenRange
from loaders.errors import UserError, one_line
from loaders.fan_in import consume, put_until_stopped, worker_thread
from loaders.raw_sql import quote
from loaders.settings import cpu_count

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_FETCH_SIZE = 5000
DEFAULT_MAX_ATTEMPTS = 5
RANGES_PER_WORKER = 16


def default_parallelism() -> int:
    """Concurrent range readers: two per core (a reader mostly waits on the server)."""
    return max(2, 2 * cpu_count())


class TransientScanError(Exception):
    """A failure worth retrying (the test hook raises it to simulate a lost page)."""


RETRYABLE = (
    TransientScanError,
    OperationTimedOut,
    NoHostAvailable,
    ConnectionException,
    RequestExecutionException,  # ReadTimeout, ReadFailure, Unavailable, Overloaded, ...
)


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, Unauthorized):
        return False
    return isinstance(error, RETRYABLE) or (
        isinstance(error, DriverException) and "connection" in str(error).lower()
    )


class ScanFailed(UserError):
    """A token range could not be read after all its attempts (the load of the table stops)."""


Page = Sized
"""A page as the session's protocol handler parsed it: a list of rows, or ``raw_protocol.RawColumns``."""

PageHook = Callable[[int, int, int], None]
"""``hook(range_index, page_number, attempt)``, called before each page's result is used."""


@dataclass(frozen=True)
class ScanStatements:
    """The prepared range query: ``first`` (``token >= ?``, the range holding MIN_TOKEN) and ``rest``.

    Both bind ``(start_token, end_token, *extra_params)``.
    """

    first: PreparedStatement
    rest: PreparedStatement
    extra_params: tuple[Any, ...] = ()
    consistency_level: int | None = None  # None: the session's default

    def bind(self, token_range: TokenRange, fetch_size: int) -> Any:
        statement = (self.first if token_range.start_inclusive else self.rest).bind(
            (token_range.start, token_range.end, *self.extra_params)
        )
        statement.fetch_size = fetch_size
        if self.consistency_level is not None:
            statement.consistency_level = self.consistency_level
        statement.routing_token = token_range.end  # read by connection.RangeAwarePolicy
        return statement


def range_query(
    keyspace: str,
    table: str,
    columns: Sequence[str],
    partition_key: Sequence[str],
    start_inclusive: bool,
    extra_where: str = "",
    quoted: bool = False,
) -> str:
    """``SELECT cols FROM ks.t WHERE token(pk) >[=] ? AND token(pk) <= ? [AND extra]``.

    ``quoted``: ``columns`` are selectors already (``"a"``, ``WRITETIME("b")``), used as they are.
    """
    token = f"token({', '.join(quote(c) for c in partition_key)})"
    where = f"{token} {'>=' if start_inclusive else '>'} ? AND {token} <= ?"
    if extra_where:
        where += f" AND {extra_where}"
    cols = ", ".join(columns if quoted else (quote(c) for c in columns))
    return f"SELECT {cols} FROM {quote(keyspace)}.{quote(table)} WHERE {where}"


def prepare(
    session: Session,
    keyspace: str,
    table: str,
    columns: Sequence[str],
    partition_key: Sequence[str],
    extra_where: str = "",
    extra_params: tuple[Any, ...] = (),
    *,
    consistency: int | None = None,
    quoted: bool = False,
) -> ScanStatements:
    first, rest = (
        session.prepare(range_query(keyspace, table, columns, partition_key, inclusive, extra_where, quoted))
        for inclusive in (True, False)
    )
    return ScanStatements(first, rest, extra_params, consistency)


class PageRows:
    """One page's rows, handed over once.

    The driver's response future sits in a reference cycle (it and its timeout timer),
    which only a full garbage collection frees; if the future held the rows, hundreds
    of megabytes of pages would wait for it. It holds this box instead, emptied by ``take``.
    """

    __slots__ = ("rows",)

    def __init__(self, rows: Page) -> None:
        self.rows: Page | None = rows

    def take(self) -> Page:
        rows, self.rows = self.rows, None
        return rows if rows is not None else []


def page_rows_factory(_column_names: list[str], rows: Page) -> PageRows:
    """Row factory of the scan's execution profile: the page's rows as they were parsed."""
    return PageRows(rows)


@dataclass
class ScanStats:
    rows: int = 0
    pages: int = 0
    retries: int = 0
    ranges: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class TokenRangeScan(Generic[T]):
    """Iterate over ``convert(page_rows)`` for every page of every range (ranges in any order).

    ``convert`` runs in the worker threads; ``count`` tells how many rows an item holds.
    Closing the iterator early (or an error) stops the workers.
    """

    def __init__(
        self,
        session: Session,
        statements: ScanStatements,
        ranges: Sequence[TokenRange],
        convert: Callable[[Any], T],
        *,
        parallelism: int,
        fetch_size: int = DEFAULT_FETCH_SIZE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_s: float = 0.5,
        page_hook: PageHook | None = None,
        label: str = "",
    ) -> None:
        if parallelism < 1 or fetch_size < 1 or max_attempts < 1:
            raise ValueError("parallelism, fetch_size and max_attempts must be >= 1")
        self.session = session
        self.statements = statements
        self.ranges = list(ranges)
        self.convert = convert
        self.parallelism = min(parallelism, max(1, len(self.ranges)))
        self.fetch_size = fetch_size
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.page_hook = page_hook
        self.label = label
        self.stats = ScanStats(ranges=len(self.ranges))
        self.profile = session.execution_profile_clone_update(
            EXEC_PROFILE_DEFAULT, row_factory=page_rows_factory
        )

    # -- consumer side -----------------------------------------------------------------
    def __iter__(self) -> Iterator[T]:
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(self.ranges)):
            todo.put(index)
        out: queue.Queue[Any] = queue.Queue(maxsize=2 * self.parallelism)
        stop = threading.Event()
        workers = [
            worker_thread(
                out, stop, partial(self._scan_ranges, todo, out, stop), name=f"scan-{self.label}-{i}"
            )
            for i in range(self.parallelism)
        ]
        started = time.monotonic()
        try:
            # a worker may wait on an in-flight request after a stop: don't hang on it
            yield from consume(workers, out, stop, unblock_for=5.0)
        finally:
            self.stats.seconds = time.monotonic() - started
            log.info(
                "scan %s: %d rows, %d pages, %d ranges, %d retries in %.1f s",
                self.label,
                self.stats.rows,
                self.stats.pages,
                self.stats.ranges,
                self.stats.retries,
                self.stats.seconds,
            )

    # -- worker side -------------------------------------------------------------------
    def _scan_ranges(
        self, todo: queue.SimpleQueue[int], out: queue.Queue[Any], stop: threading.Event
    ) -> None:
        while not stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            self._scan_range(index, out, stop)

    def _request(self, statement: Any, paging_state: bytes | None) -> ResponseFuture:
        return self.session.execute_async(
            statement, paging_state=paging_state, execution_profile=self.profile
        )

    def _scan_range(self, index: int, out: queue.Queue[Any], stop: threading.Event) -> None:
        token_range = self.ranges[index]
        statement = self.statements.bind(token_range, self.fetch_size)
        resume_state: bytes | None = None  # paging state of the first uncommitted page
        page_number = 0
        attempt = 0
        future = self._request(statement, None)
        while not stop.is_set():
            try:
                if self.page_hook is not None:
                    self.page_hook(index, page_number, attempt)
                result = future.result()
            except Exception as error:
                if not is_retryable(error):
                    raise
                attempt += 1
                with self.stats.lock:
                    self.stats.retries += 1
                if attempt >= self.max_attempts:
                    raise ScanFailed(
                        f"Cassandra failed to serve token range {token_range.start}..{token_range.end} of "
                        f"{self.label} {attempt} times (last: {type(error).__name__}: {one_line(error, 160)}): "
                        "check the cluster's health (nodetool status) and rerun; nothing of the run was committed"
                    ) from error
                log.warning(
                    "retrying page %d of token range %d of %s (attempt %d): %s: %s",
                    page_number,
                    index,
                    self.label,
                    attempt + 1,
                    type(error).__name__,
                    error,
                )
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
                future = self._request(statement, resume_state)
                continue
            attempt = 0
            next_state = result.paging_state
            rows = result.current_rows[0].take() if result.current_rows else []
            del result
            # ask for the next page before converting this one, so the server works meanwhile
            next_future = self._request(statement, next_state) if next_state else None
            if rows:
                item = self.convert(rows)
                if not put_until_stopped(out, stop, item):
                    return
                with self.stats.lock:
                    self.stats.rows += len(rows)
                    self.stats.pages += 1
            if next_future is None:
                return
            resume_state = next_state
            page_number += 1
            future = next_future
