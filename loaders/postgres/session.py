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

Memory is bounded in bytes, not rows (``table_read``): the bytes a row takes
once decoded are estimated from a sample of the table's pages (``row_bytes``:
``octet_length`` of text and bytea, the value's uncompressed size, read from the
TOAST pointer without decompressing; ``pg_column_size`` of the others).
``batch_bytes`` is what the streams of one read decode at once, together: each
stream's batch is its share (16 MiB over 2 streams: 8 MiB a batch), because a
stream holds about three copies of the batch it is decoding (the scanner's
vectors, DuckDB's result buffer, the Arrow export), so a per-stream budget
would grow the peak with the machine's CPUs. DuckDB's scanner decodes whole
vectors (2,048 rows) before it hands any: for rows so wide that a vector would
exceed a stream's share (more than 4 KiB a row with 2 streams), the read is
split by primary-key ranges of at most a batch of rows each (the boundaries are
read in the snapshot, keys only), which the streams share; those batches come
from ``wide_batch_bytes`` (8 MiB: 4 MiB a stream), half the budget, because a
batch's own cost is nothing beside rows of a MiB, while the copies of them the
read holds are the process's peak (300 rows of 1 MiB texts: 285 MB with 16 MiB,
243 MB with 8 MiB; 2 M narrow payments read 6 % slower with 8 MiB batches).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from loaders.fan_in import consume, put_until_stopped, worker_thread

if TYPE_CHECKING:
    from loaders.postgres.catalog import SourceTable

log = logging.getLogger(__name__)

BatchFn = Callable[[pa.RecordBatch], pa.RecordBatch]

SCANNER_VECTOR_ROWS = 2048  # DuckDB decodes this many rows before it hands any of them
SAMPLE_PAGES = 64  # heap pages sampled to estimate a table's bytes per row
# PostgreSQL types whose values arrive as they are stored (octet_length: uncompressed bytes, no detoasting)
_OCTET_TYPES = frozenset({"text", "varchar", "bpchar", "bytea"})
_ROW_OVERHEAD = 8  # per column in Arrow: offsets, validity, alignment (an estimate)


@dataclass
class SessionOptions:
    streams: int = 2  # parallel COPY streams for a full read of a large table
    min_blocks_per_stream: int = 4096  # 32 MiB of heap per stream at least
    batch_rows: int = 102_400  # rows per Arrow batch at most (about 13 MB of payments)
    batch_bytes: int = 16 << 20  # decoded bytes of one read's streams together (a batch: a stream's share)
    queue_batches: int = 1  # decoded batches waiting per table (bounds memory)
    # the same for rows wider than a vector's share (read by key ranges): half, since a batch's
    # fixed cost is nothing beside a few rows of a MiB each, and its copies are all memory
    wide_batch_bytes: int = 8 << 20


@dataclass(frozen=True)
class ReadPlan:
    """The queries of one read (the streams share them) and the rows per Arrow batch."""

    queries: tuple[str, ...]
    batch_rows: int
    row_bytes: int = 0  # the estimate the plan was sized with (0: not estimated)


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
        row = cur.fetchone()
        if row is None:  # pragma: no cover - a SELECT of three values returns one row
            raise RuntimeError("PostgreSQL returned no snapshot")
        self.snapshot_id, self.snapshot_time, snapshot_text = row
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

    def stream_batch_bytes(self, streams: int, budget: int | None = None) -> int:
        """The decoded bytes of a batch when ``streams`` streams read at once: their share of
        ``budget`` (default ``batch_bytes``)."""
        total = self.options.batch_bytes if budget is None else budget
        return max(1, total // max(1, streams))

    def row_bytes(self, table: SourceTable) -> int:
        """About how many bytes a row of ``table`` takes once decoded, from a sample of its pages."""
        from loaders.postgres.catalog import quote_ident

        widths = []
        for column in table.columns:
            quoted = quote_ident(column.name)
            size = "octet_length" if column.type_name in _OCTET_TYPES else "pg_column_size"
            widths.append(f"coalesce(avg({size}({quoted})), 0)")
        if table.blocks > 0:  # a plain table: a few pages sampled (the same pages every run)
            percent = min(100.0, 100.0 * SAMPLE_PAGES / table.blocks)
            sample = f"{table.qualified} TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (0)"
        else:  # a view, a partitioned or empty table: the first rows
            sample = f"(SELECT * FROM {table.qualified} LIMIT 1000) AS sample"
        cur = self.cursor()
        cur.execute(f"SELECT {' + '.join(widths) or '0'} FROM {sample}")
        row = cur.fetchone()
        measured = float(row[0]) if row and row[0] is not None else 0.0
        return max(1, int(measured) + _ROW_OVERHEAD * len(table.columns))

    def table_read(
        self, table: SourceTable, select: str, key: Sequence[str], where: str | None = None
    ) -> ReadPlan:
        """The plan of a read of every page of ``table`` (``select`` ``FROM`` it, filtered by ``where``).

        Narrow rows: heap ranges (ctid), one per stream, each stream's batches its share of
        ``batch_bytes``. Rows so wide that a vector would exceed a stream's share: primary-key
        ranges of at most a batch of rows each, read by all the streams."""
        width = self.row_bytes(table)
        parts = self.stream_count(table.blocks, full_scan=True)
        share = self.stream_batch_bytes(parts)
        if width * SCANNER_VECTOR_ROWS <= share:
            batch_rows = max(1, min(self.options.batch_rows, share // width))
            clauses = ctid_ranges(table.blocks, parts)
        else:  # the key ranges are shared by every stream (a TOASTed table has few heap pages)
            wide_share = self.stream_batch_bytes(self.options.streams, self.options.wide_batch_bytes)
            batch_rows = max(1, min(self.options.batch_rows, wide_share // width))
            clauses = self._key_ranges(table, key, where, batch_rows)
        queries = []
        for clause in clauses:
            conditions = [c for c in (where, clause) if c and c != "TRUE"]
            queries.append(f"{select} WHERE {' AND '.join(conditions)}" if conditions else select)
        log.debug(
            "%s: ~%d bytes a row, %d rows a batch, %d queries", table.name, width, batch_rows, len(queries)
        )
        return ReadPlan(tuple(queries), batch_rows, width)

    def _key_ranges(self, table: SourceTable, key: Sequence[str], where: str | None, rows: int) -> list[str]:
        """WHERE clauses splitting the rows (in the snapshot) into primary-key ranges of ``rows`` rows."""
        from loaders.postgres.catalog import quote_ident

        columns = ", ".join(quote_ident(k) for k in key)
        cur = self.cursor()
        cur.execute(
            f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER (ORDER BY {columns}) AS rn "
            f"FROM {table.qualified}{f' WHERE {where}' if where else ''}) AS keys "
            f"WHERE (rn - 1) % {int(rows)} = 0 ORDER BY {columns}"
        )
        starts = [cur.mogrify(", ".join(["%s"] * len(key)), tuple(r)).decode() for r in cur.fetchall()]
        if len(starts) <= 1:
            return ["TRUE"]
        tuple_ = f"({columns})"
        clauses = []
        for i, low in enumerate(starts):
            clause = "TRUE" if i == 0 else f"{tuple_} >= ({low})"
            if i + 1 < len(starts):
                upper = f"{tuple_} < ({starts[i + 1]})"
                clause = upper if clause == "TRUE" else f"{clause} AND {upper}"
            clauses.append(clause)
        return clauses

    def read(self, queries: ReadPlan | Sequence[str], convert: BatchFn) -> Iterator[pa.RecordBatch]:
        """Run the queries on at most ``streams`` connections in parallel; yield their converted batches.

        Each stream takes the next query when it has finished one. Even one stream reads in a
        thread: decoding the next batch overlaps with the caller writing the previous one
        (dlt's parquet writer)."""
        plan = queries if isinstance(queries, ReadPlan) else ReadPlan(tuple(queries), self.options.batch_rows)
        out: queue.Queue[Any] = queue.Queue(maxsize=max(1, self.options.queue_batches))
        stop = threading.Event()
        todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        for sql in plan.queries:
            todo.put(sql)

        def stream() -> None:
            while not stop.is_set():
                try:
                    sql = todo.get_nowait()
                except queue.Empty:
                    return
                for batch in self._read_one(sql, convert, plan.batch_rows):
                    if not put_until_stopped(out, stop, batch):
                        return

        count = max(1, min(len(plan.queries), self.options.streams if len(plan.queries) > 1 else 1))
        threads = [worker_thread(out, stop, stream, name=f"pg-stream-{i}") for i in range(count)]
        yield from consume(threads, out, stop)

    def _read_one(self, sql: str, convert: BatchFn, batch_rows: int) -> Iterator[pa.RecordBatch]:
        from loaders.postgres.scanner import query_sql

        worker = self._acquire()
        try:
            log.debug("COPY stream: %s", sql)
            reader = worker.connection.execute(query_sql(sql)).to_arrow_reader(batch_rows)
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
