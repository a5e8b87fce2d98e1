"""One consistent read of PostgreSQL: a snapshot shared by parallel binary COPY streams.

A coordinator connection (psycopg2) opens a REPEATABLE READ, READ ONLY
transaction, exports its snapshot and reads the catalog. Stream connections
(DuckDB's postgres_scanner: COPY BINARY decoded to Arrow in C++, see
``scanner``) import that snapshot, so every table and every stream of a table
sees the same instant: a full read can be split by heap page ranges (``ctid``)
over several connections and stays consistent, and cross-table references in
one load are consistent too.

Streams run in threads (DuckDB and pyarrow release the GIL while reading and
decoding); batches go through a small bounded queue, which bounds memory
whatever the table size.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pyarrow as pa

from loaders.fan_in import consume, put_until_stopped, worker_thread

log = logging.getLogger(__name__)

BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]


@dataclass
class SessionOptions:
    streams: int = 2  # parallel COPY streams for a full read of a large table
    min_blocks_per_stream: int = 4096  # 32 MiB of heap per stream at least
    batch_rows: int = 102_400  # rows per Arrow batch (about 10 MB of payments)
    queue_batches: int = 1  # decoded batches waiting per table (bounds memory)


@dataclass(frozen=True)
class SnapshotHorizon:
    """Which transactions a snapshot sees (``pg_current_snapshot()``: ``xmin:xmax:xip,...``, 64-bit ids).

    A transaction whose id is below ``xmin`` had ended when the snapshot was taken; one at or
    above ``xmax``, or listed in ``in_progress``, had not: its rows are not in the snapshot.
    """

    xmin: int
    xmax: int
    in_progress: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SnapshotHorizon:
        xmin, xmax, xip = text.split(":")
        return cls(int(xmin), int(xmax), tuple(int(x) for x in xip.split(",") if x))

    def text(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(x) for x in self.in_progress)}"


@dataclass
class _Worker:
    connection: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


class PostgresSession:
    """A snapshot of the database and a pool of scanner connections that read inside it."""

    def __init__(self, dsn: str, options: SessionOptions | None = None) -> None:
        import psycopg2

        self.options = options or SessionOptions()
        self._coordinator = psycopg2.connect(dsn, application_name="loaders-load")
        self._coordinator.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cur = self._coordinator.cursor()
        # one statement: the exported snapshot, its clock and its transaction horizon are the same instant
        cur.execute("SELECT pg_export_snapshot(), statement_timestamp(), pg_current_snapshot()::text")
        self.snapshot_id, self.snapshot_time, snapshot_text = cur.fetchone()
        self.horizon = SnapshotHorizon.parse(snapshot_text)
        self._workers: list[_Worker] = []
        # the scanner (extension load, ATTACH, first query: ~0.5 s) opens while the caller
        # reads the catalog and plans: off the critical path
        self._scanner_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-scanner")
        self._scanner: Future[Any] = self._scanner_pool.submit(_open_warm_scanner, dsn)
        self._pool_lock = threading.Lock()
        self._closed = False

    def cursor(self) -> Any:
        """A cursor of the coordinator, inside the snapshot (catalog, small queries)."""
        return self._coordinator.cursor()

    def _connect_worker(self) -> _Worker:
        from loaders.postgres.scanner import snapshot_cursor

        return _Worker(snapshot_cursor(self._scanner.result(), self.snapshot_id))

    def _acquire(self) -> _Worker:
        """A connection no other stream is using (one query at a time per connection)."""
        with self._pool_lock:
            for worker in self._workers:
                if worker.lock.acquire(blocking=False):
                    return worker
            worker = self._connect_worker()
            worker.lock.acquire()
            self._workers.append(worker)
            return worker

    def stream_count(self, blocks: int, full_scan: bool) -> int:
        if not full_scan:
            return 1
        by_size = max(1, blocks // max(1, self.options.min_blocks_per_stream))
        return max(1, min(self.options.streams, by_size))

    def read(self, queries: list[str], convert: BatchFn) -> Iterator[pa.RecordBatch]:
        """Run ``queries`` (one per stream) in parallel and yield their converted batches.

        Even one stream reads in a thread: decoding the next batch overlaps with the caller
        writing the previous one (dlt's parquet writer)."""
        out: queue.Queue[Any] = queue.Queue(maxsize=max(1, self.options.queue_batches))
        stop = threading.Event()

        def stream(sql: str) -> None:
            for batch in self._read_one(sql, convert):
                if not put_until_stopped(out, stop, batch):
                    return

        threads = [
            worker_thread(out, stop, partial(stream, q), name=f"pg-stream-{i}") for i, q in enumerate(queries)
        ]
        yield from consume(threads, out, stop)

    def _read_one(self, sql: str, convert: BatchFn) -> Iterator[pa.RecordBatch]:
        from loaders.postgres.scanner import query_sql

        worker = self._acquire()
        try:
            log.debug("COPY stream: %s", sql)
            reader = worker.connection.execute(query_sql(sql)).to_arrow_reader(self.options.batch_rows)
            yielded = False
            for batch in reader:
                if batch.num_rows:
                    yielded = True
                    yield convert(batch)
            if not yielded:  # no row at all: an empty batch keeps the columns
                empty = [pa.array([], type=f.type) for f in reader.schema]
                yield convert(pa.RecordBatch.from_arrays(empty, schema=reader.schema))
        finally:
            worker.lock.release()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            try:
                worker.connection.close()
            except Exception:
                log.debug("closing a PostgreSQL stream connection failed", exc_info=True)
        self._scanner_pool.shutdown(wait=True)
        try:
            self._scanner.result().close()
        except Exception:
            log.debug("closing the PostgreSQL scanner failed", exc_info=True)
        try:
            self._coordinator.rollback()
            self._coordinator.close()
        except Exception:
            log.debug("closing the PostgreSQL coordinator connection failed", exc_info=True)

    def __enter__(self) -> PostgresSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_warm_scanner(dsn: str) -> Any:
    from loaders.postgres.scanner import open_scanner, query_sql

    scanner = open_scanner(dsn)
    scanner.execute(query_sql("SELECT 1")).fetchall()  # its first query costs ~0.2 s (connection, catalog)
    return scanner


def ctid_ranges(blocks: int, parts: int) -> list[str]:
    """WHERE clauses splitting a heap of ``blocks`` pages into ``parts`` TID ranges (last one open)."""
    if parts <= 1:
        return ["TRUE"]
    bounds = [blocks * i // parts for i in range(parts)]
    clauses = []
    for i, low in enumerate(bounds):
        clause = f"ctid >= '({low},0)'::tid"
        if i + 1 < len(bounds):
            clause += f" AND ctid < '({bounds[i + 1]},0)'::tid"
        clauses.append(clause)
    return clauses
