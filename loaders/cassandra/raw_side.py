"""The warehouse side of a Cassandra load: the scanned rows raw lacks or holds differently, and the keys gone.

Both are computed on the DuckDB connection of the load (``PipelineRaw``), against raw as the
last committed loads left it (this run's rows are loaded only after the extract), each
**set-based at the end of the scan** (in parts by the key's hash for big tables, below):

- ``StagedRows``: while the scan runs, every row it keeps (a sweep: all of them; an
  incremental run: those past the write-time filter) is appended to one Parquet file in a
  private directory under the pipeline's working directory (the source's columns, LZ4, no
  dictionary or statistics: cheap to write, smaller than plain on disk);
  memory stays bounded whatever the table's size;
- ``RawTable.changed``: after the scan, an anti join of that file against raw's live rows
  on the key and every other column (``IS NOT DISTINCT FROM``; JSON compared as its text)
  keeps the rows raw does not hold identical and live. DuckDB writes them to a second
  Parquet file in the same directory, read back in batches in the scan's own Arrow types
  (uuid, timestamps with their zone): a run with no source change writes nothing, a sweep
  writes only what changed;
- ``RawTable.deleted_keys`` (sweeps): an anti join of raw's live keys against the staged
  keys (plus the keys of the rows the scan read but rejected: they exist) gives the keys
  deleted in the source. The scan covers the ring exactly once and a range is read after
  the sweep started, so a key it did not see was absent from the source at the moment its
  range was read; a key written again later has a later write time and comes back in the
  next run, merged over its tombstone.

**Probing raw.** An incremental run stages only the window's new writes: a few per cent of
raw. Its ``changed`` diff then probes raw by the staged keys instead (``probes``): the staged file
in parts of ``DIFF_PART_ROWS`` rows, and for each part raw's live rows whose key a staged row of the
part has (a semi join: its hash table holds the part's keys, raw streams past it), anti joined with
that part. Raw is read once a part, and no part of raw is written out: partitioning 20 M
user_events to diff a one-day window cost more than the rest of the run (scale 10, bench_volume).

**Parts.** One join of a side above about a million rows runs out of DuckDB's 128 MB (a 2 M-row
synthetic user_events anti join, a 4.6 M-row messages one at scale 5), so a diff of more than
``DIFF_PART_ROWS`` rows a side runs in parts by the key's hash, computed in raw's own types on both
sides (the staged and rejected keys cast to them), so that a key and its twin in raw always fall in
the same part. With few parts (below ``PARTITIONED_FROM_PARTS``) each part filters raw and the
staged file by that hash: raw is read once a part, which costs less than writing it out (raw
is DuckDB's own storage). From ``PARTITIONED_FROM_PARTS`` parts up (``parted``), each side is read
once: one ``COPY … PARTITION_BY`` writes raw's live rows (compared columns only) and one the staged
rows into ``<part column>=<p>/`` Parquet directories beside the staged file, and both diffs join
part ``p`` of one side with part ``p`` of the other, then the next part: peak memory is one part's
join under the cap, whatever the table's size, and raw's copy is the one both diffs read. The
partitioned files hold only types Parquet keeps exactly (uuid, date, timestamps with zone,
integers, doubles, booleans, text; JSON as text), so the comparison stays exact.

Why this and not the alternatives (measured on 1 M user_events, ``bench/bench_cassandra_load.py``):

- The previous design joined every scanned batch (50,000 rows) against the whole raw
  table: raw was read once per batch, so a sweep cost grew with the square of the table
  (a sweep finding nothing: 29.3 s, 2.85 x the bare raw-cell scan, 10.3 s of it in those
  joins, against 22.0 s for the full load). Staging once and diffing once reads raw once per
  run, whatever the batch size: 24.2 s, 2.16 x, peak RSS 314 MB (16.6 s but 410-446 MB when
  DuckDB keeps the load's 128 MB for the joins).
- A per-row fingerprint column in raw (or a hash of the row compared instead of the row)
  would shrink the join (on synthetic 1 M rows 1.6-2.4 s against 2.8-4.1 s for the exact
  one), but a hash that collides loses a change silently, and a new raw
  column changes the warehouse's layout for every reader; the exact comparison keeps the
  guarantee "a row raw does not hold identical is loaded" with no probability in it.
  DuckDB's hash join spills to disk under its ``memory_limit`` (at most
  ``DIFF_MEMORY_LIMIT`` while the diffs run, or the load's limit if set higher), and the parts keep each join small enough for
  that, so the exact join stays in bounded memory.
- Restricting the probe by token range needs the token of every raw row (not stored);
  numpy membership on hashes is the fingerprint again, plus all of raw's hashes in memory.

Memory: every diff statement writes its result to Parquet and ends before a row is handed to dlt
(``RawTable.run``). dlt takes one item from each table's generator in turn, so another table's diffs
run on the same DuckDB while this one waits: a query left open across a yield would hold its join's
memory beside theirs (the weekly-sweep job at scale 10 ran out of the 128 MB once, intermittently),
and a statement on the same connection would cut it short. A statement that still runs out of
memory runs once more under twice its limit, with a warning; out of memory again, the run fails in
one line naming the table, the diff and ``LOADERS_DUCKDB_MEMORY_LIMIT``, and loads nothing.

Crash safety: nothing here writes to the warehouse. The staged files (and the parts written
from them and from raw, in the same directory) are scratch: removed when the table's read ends,
even on an error; a run killed at any moment leaves them behind, and the next run of the table
removes them before it stages its own; the table's state (cursor, last sweep) is saved only after the scan and
both diffs, and committed by dlt with the load package, so a killed run is read again.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loaders.cassandra.tables import TableSpec
from loaders.duckdb_memory import (
    current_memory_limit,
    is_out_of_memory,
    memory_bytes,
    memory_limit_within,
    mib,
    out_of_memory_message,
)
from loaders.errors import UserError
from loaders.raw_sql import count_of, live_condition, quote
from loaders.table_stats import DELETED_AT_COLUMN
from loaders.uuid_columns import is_uuid_type

log = logging.getLogger(__name__)

REJECTED_TABLE = "__loader_cassandra_rejected_keys"
TOMBSTONE_CHUNK = 50_000
STAGE_FILE = "rows.parquet"
CHANGED_FILE = "changed.parquet"
DELETED_FILE = "deleted-keys.parquet"
RAW_PARTS_DIR = "raw-parts"  # raw's live rows by key-hash part: <dir>/_loader_diff_part=<p>/*.parquet
STAGED_PARTS_DIR = "staged-parts"  # the staged rows likewise
PART_COLUMN = "_loader_diff_part"
# From this many parts up, both sides are written once by part before the diffs (raw and the staged
# rows each read once); below, each part reads them again, filtered by the hash: on 1 M user_events
# (4 parts) re-reading raw from DuckDB's own storage costs less than writing it out (synthetic, 2 cores:
# partitioning 6.9 s against 3-4 s for the 4 re-reading parts of the changed rows; the whole sweep
# forced to partition 13.1-18.0 s against 11.0-14.9 s); on 10 M (40 parts) both diffs written once took
# 55.7 s against 169.8 s re-reading (bench/bench_cassandra_load.py diff).
PARTITIONED_FROM_PARTS = 8
STAGE_COMPRESSION = "lz4"
# DuckDB's memory for the two diffs at most (lowered from a connection's higher limit while they run,
# then restored; their hash joins spill beyond it), unless the load's own limit is set higher
# (``diff_memory_cap``). 64 MB gave a 1 M-row sweep 344-346 MB of peak RSS
# against 419-446 MB, but ran out of memory at scale 5 (10 M user_events, 5 M messages) even in parts;
# 128 MB (the load's own default) ran it: peak RSS 410 MB.
DIFF_MEMORY_LIMIT = "128MB"
# Rows a side per diff join: above, the diff runs in parts by the key's hash (raw read once a part).
# One join of 4.6 M messages against raw failed under 64 MB (scale 5, bench_volume); 1 M user_events ran.
DIFF_PART_ROWS = 250_000
# Staged rows at most 1 / PROBE_FROM_RAW_SHARE of raw's: the changed diff probes raw by the staged keys
# (no raw part written; raw read once a part of the staged rows) instead of partitioning both sides.
PROBE_FROM_RAW_SHARE = 4
# A diff statement that ran out of DuckDB's memory runs once more under this many times the limit it
# had (``RawTable.run``), as a merge is retried (loaders.load.merge_memory); then the one-line error.
# The weekly-sweep job at scale 10 ran out of the 128 MB once and passed when rerun (2026-12-03).
DIFF_RETRY_FACTOR = 2


def diff_memory_cap(configured: str | None) -> str:
    """The diffs' memory limit at most: ``DIFF_MEMORY_LIMIT``, or the load's own limit when it is set
    higher (``LOADERS_DUCKDB_MEMORY_LIMIT`` raised after an out-of-memory must reach the diffs too)."""
    if configured is not None and memory_bytes(configured) > memory_bytes(DIFF_MEMORY_LIMIT):
        return configured
    return DIFF_MEMORY_LIMIT


@contextmanager
def diff_memory(
    connection: Any, configured: str | None = None, at_least: str | None = None
) -> Iterator[None]:
    """DuckDB's memory limit at most ``diff_memory_cap`` inside the block (raised to ``at_least``
    instead when given: a retry, ``RawTable.run``), then exactly the previous one.

    DuckDB shows its limit only rounded (``current_setting``: '122.0 MiB' for the load's 128MB), so
    the previous limit is restored from the value the connection was opened with (``configured``,
    the load's ``memory_limit``) if it shows as the limit did before; else (DuckDB's default, or a
    limit set by hand on the connection) the middle of what shows as it did
    (``loaders.duckdb_memory.restore_memory_limit``)."""
    order = bool(connection.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0])
    bound = {"at_least": at_least} if at_least else {"at_most": diff_memory_cap(configured)}
    with memory_limit_within(connection, configured, **bound):
        connection.execute("SET preserve_insertion_order = false")  # the diffs' order does not matter
        try:
            yield
        finally:
            connection.execute("SET preserve_insertion_order = ?", [order])


@contextmanager
def one_thread(connection: Any) -> Iterator[None]:
    """DuckDB on one thread inside the block (the thread count is restored): a partitioned COPY keeps
    buffers per thread and partition; on one thread it took 150-190 MB of RSS against 190-240 MB on
    two for 1 M synthetic user_events, in no more time (its reads and writes are light work)."""
    threads = int(connection.execute("SELECT current_setting('threads')").fetchone()[0])
    connection.execute("SET threads = 1")
    try:
        yield
    finally:
        connection.execute(f"SET threads = {threads}")


# Rows a thread buffers across a partitioned COPY's open files before it flushes them (DuckDB's
# default 524,288). Under the diffs' 128 MB the default buffers more than fits, and the write spills
# and thrashes: raw's 10 M synthetic user_events by 40 parts on one thread took 22.1-23.1 s against
# 9.5-9.7 s with 65,536 (32,768: 11.2 s, smaller row groups), the same peak RSS (221-238 MB).
PARTITIONED_FLUSH_ROWS = 65_536


@contextmanager
def partitioned_writes(connection: Any, parts: int) -> Iterator[None]:
    """DuckDB's partitioned COPY flushing every ``PARTITIONED_FLUSH_ROWS`` rows and keeping every
    part's file open (no close and reopen per flush) inside the block; both settings restored."""
    names = ("partitioned_write_flush_threshold", "partitioned_write_max_open_files")
    before = [connection.execute(f"SELECT current_setting('{name}')").fetchone()[0] for name in names]
    connection.execute(f"SET {names[0]} = {PARTITIONED_FLUSH_ROWS}")
    connection.execute(f"SET {names[1]} = {max(int(before[1]), int(parts) + 1)}")
    try:
        yield
    finally:
        for name, value in zip(names, before, strict=True):
            connection.execute(f"SET {name} = {int(value)}")


class StagedRows:
    """The rows a scan kept, spilled to one Parquet file in a private directory (removed by ``close``).

    ``parent`` (the pipeline's working directory, on the persistent volume: a pod's /tmp is
    small) holds it; a directory a killed run left there is removed when the next one starts.
    """

    def __init__(self, spec: TableSpec, parent: Path | None = None) -> None:
        self.spec = spec
        self.parent = parent
        self.prefix = f"loaders-{spec.name}-stage-"
        self.directory: Path | None = None
        self.path: Path | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        if parent is not None:
            for stale in (*parent.glob(self.prefix + "*"), *parent.glob(f"loaders-{spec.name}-keys-*")):
                shutil.rmtree(stale, ignore_errors=True)

    def add(self, rows: pa.Table) -> None:
        """Append ``rows`` (the source's columns are kept, any other is dropped)."""
        if rows.num_rows == 0:
            return
        table = rows.select(list(self.spec.columns))
        if self._writer is None:
            self.path = self.scratch() / STAGE_FILE
            self.schema = table.schema
            self._writer = pq.ParquetWriter(
                str(self.path),
                table.schema,
                compression=STAGE_COMPRESSION,
                use_dictionary=False,
                write_statistics=False,
            )
        self._writer.write_table(table.cast(self._writer.schema))
        self.rows += table.num_rows

    def scratch(self) -> Path:
        """The private directory of the staged file and of what the diffs write (made on first use)."""
        if self.directory is None:
            if self.parent is not None:
                self.parent.mkdir(parents=True, exist_ok=True)
            self.directory = Path(tempfile.mkdtemp(prefix=self.prefix, dir=self.parent))
        return self.directory

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        self.finish()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = self.path = None

    def __enter__(self) -> StagedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sql_path(path: Path) -> str:
    """``path`` as a SQL string literal."""
    return "'" + path.as_posix().replace("'", "''") + "'"


def parquet_source(path: Path) -> str:
    return f"read_parquet({sql_path(path)})"


@dataclass(frozen=True)
class PartedSides:
    """Raw's live rows and the staged rows, each written once to Parquet files by the key's hash part.

    ``raw`` holds the compared columns (JSON as text), ``staged`` the staged rows as staged; part
    ``p`` of a side is the files of its ``part=p`` directory (none when no key hashed there)."""

    raw: Path
    staged: Path
    parts: int

    def raw_files(self, part: int) -> list[Path]:
        return _part_files(self.raw, part)

    def staged_files(self, part: int) -> list[Path]:
        return _part_files(self.staged, part)


def _part_files(directory: Path, part: int) -> list[Path]:
    return sorted((directory / f"{PART_COLUMN}={part}").glob("*.parquet"))


def parquet_files(files: list[Path]) -> str:
    """The rows of ``files`` (hive partition columns not added: a part's files carry none)."""
    return f"read_parquet([{', '.join(sql_path(f) for f in files)}], hive_partitioning = false)"


class RawTable:
    """One raw table of the warehouse, as the extract of its source table sees it.

    ``memory_limit``: DuckDB's memory limit the load opened the connection with (restored exactly
    after the diffs lower it; ``None``: unknown, DuckDB's default tried)."""

    def __init__(
        self, connection: Any, dataset: str, spec: TableSpec, memory_limit: str | None = None
    ) -> None:
        self.connection = connection
        self.spec = spec
        self.memory_limit = memory_limit
        self.dataset = dataset
        self.qualified = f"{quote(dataset)}.{quote(spec.name)}"
        rows = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
            [dataset, spec.name],
        ).fetchall()
        self.columns = dict(rows)
        self._parted: PartedSides | None = None

    @property
    def exists(self) -> bool:
        return bool(self.columns)

    def _live(self, alias: str = "") -> str:
        """A where clause keeping raw's live rows (``raw_sql.live_condition``; ``alias``: raw's alias)."""
        return f" WHERE {live_condition(DELETED_AT_COLUMN in self.columns, alias)}"

    def in_raw_type(self, column: str) -> str:
        """A key column of the other side (staged or rejected keys) cast to raw's type for it."""
        return f"CAST({quote(column)} AS {self.columns[column]})" if column in self.columns else quote(column)

    @property
    def compared(self) -> list[str]:
        """The columns a staged row and its raw twin are compared on: the key and raw's other columns."""
        spec = self.spec
        return [c for c in spec.columns if c in spec.primary_key or c in self.columns]

    def part_of(self, parts: int, other_side: bool) -> str:
        """The part of a key: its hash in raw's own types on both sides (the other side's keys cast to
        them), so a key and its twin in raw always fall in the same part."""
        keys = [self.in_raw_type(c) if other_side else quote(c) for c in self.spec.primary_key]
        return f"hash({', '.join(keys)}) % {int(parts)}"

    @cached_property
    def rows(self) -> int:
        """Raw's rows (tombstones included), counted once: the diffs' parts are sized from it."""
        return count_of(self.connection, f"SELECT count(*) FROM {self.qualified}")

    def diff_parts(self, staged_rows: int) -> int:
        """How many key-hash parts the diff runs in: each joins at most ``DIFF_PART_ROWS`` rows a side."""
        return max(1, -(-max(self.rows, staged_rows) // DIFF_PART_ROWS))

    def probes(self, staged_rows: int) -> bool:
        """Whether the changed diff probes raw by the staged keys: the staged rows are few beside raw's."""
        return staged_rows * PROBE_FROM_RAW_SHARE <= self.rows

    def probe_parts(self, staged_rows: int) -> int:
        """How many parts of the staged rows probe raw: each part's keys are one semi join's hash table."""
        return max(1, -(-staged_rows // DIFF_PART_ROWS))

    def raw_projection(self, alias: str | None = None) -> str:
        """Raw's compared columns, JSON as its text (what a staged row is compared with); ``alias``
        qualifies the columns read (output names unqualified)."""
        prefix = f"{alias}." if alias else ""
        return ", ".join(
            f"CAST({prefix}{quote(c)} AS VARCHAR) AS {quote(c)}"
            if c in self.spec.json_columns
            else f"{prefix}{quote(c)} AS {quote(c)}"
            for c in self.compared
        )

    def probe_sides(self, staged: StagedRows) -> Iterator[tuple[str, str]]:
        """Each part of a probing diff: ``(raw's live rows keyed like a staged row of the part, the
        part's staged rows)`` as SQL relations. The staged keys are cast to raw's types, as in
        ``part_of``."""
        if staged.path is None:
            return
        parts = self.probe_parts(staged.rows)
        keys = self.spec.primary_key
        cast_keys = ", ".join(f"{self.in_raw_type(c)} AS {quote(c)}" for c in keys)
        on = " AND ".join(f"r.{quote(c)} = k.{quote(c)}" for c in keys)
        live = self._live("r")
        for part in range(parts):
            in_part = f" WHERE {self.part_of(parts, other_side=True)} = {part}" if parts > 1 else ""
            part_rows = f"(SELECT * FROM {parquet_source(staged.path)}{in_part})"
            yield (
                f"(SELECT {self.raw_projection('r')} FROM {self.qualified} r SEMI JOIN "
                f"(SELECT {cast_keys} FROM {part_rows}) k ON {on}{live})",
                part_rows,
            )

    def parted(self, staged: StagedRows) -> PartedSides:
        """Both sides partitioned by the key's hash, each read once (the first diff writes them, the
        second reads them again), in ``staged``'s directory: removed with it, or by the next run."""
        if self._parted is not None and self._parted.raw.parent == staged.directory:
            return self._parted
        if staged.path is None or staged.directory is None:
            raise ValueError("nothing staged: no sides to partition")
        staged.finish()
        parts = self.diff_parts(staged.rows)
        raw_dir, staged_dir = staged.directory / RAW_PARTS_DIR, staged.directory / STAGED_PARTS_DIR
        for folder in (raw_dir, staged_dir):  # a previous attempt's, in the same run
            shutil.rmtree(folder, ignore_errors=True)
        part = quote(PART_COLUMN)
        options = f"(FORMAT parquet, COMPRESSION {STAGE_COMPRESSION}, PARTITION_BY ({part}))"
        with one_thread(self.connection), partitioned_writes(self.connection, parts):
            self.run(
                f"COPY (SELECT {self.raw_projection()}, {self.part_of(parts, other_side=False)} AS {part} "
                f"FROM {self.qualified}{self._live()}) TO {sql_path(raw_dir)} {options}",
                f"the diffs' copy of raw's rows by {parts} parts",
                redo=lambda: shutil.rmtree(raw_dir, ignore_errors=True),
            )
            self.run(
                f"COPY (SELECT *, {self.part_of(parts, other_side=True)} AS {part} "
                f"FROM {parquet_source(staged.path)}) TO {sql_path(staged_dir)} {options}",
                f"the diffs' copy of the staged rows by {parts} parts",
                redo=lambda: shutil.rmtree(staged_dir, ignore_errors=True),
            )
        self._parted = PartedSides(raw_dir, staged_dir, parts)
        return self._parted

    def part_sides(self, staged: StagedRows) -> Iterator[tuple[int, int, str | None, str | None]]:
        """Each part of the diff: ``(part, parts, raw's live rows, the staged rows)`` as SQL relations
        (``None``: no row of that side in the part).

        From ``PARTITIONED_FROM_PARTS`` parts up, both sides are first written once by part
        (``parted``); below, each part filters raw and the staged file by the key's hash (each read
        once a part: cheaper than writing them out while the parts are few)."""
        if staged.path is None:
            return
        parts = self.diff_parts(staged.rows)
        if parts >= PARTITIONED_FROM_PARTS:
            sides = self.parted(staged)
            for part in range(parts):
                raw_files, staged_files = sides.raw_files(part), sides.staged_files(part)
                yield (
                    part,
                    parts,
                    parquet_files(raw_files) if raw_files else None,
                    parquet_files(staged_files) if staged_files else None,
                )
            return
        staged.finish()
        live = self._live()
        for part in range(parts):
            in_raw = f"{self.part_of(parts, other_side=False)} = {part}" if parts > 1 else "TRUE"
            in_staged = f"{self.part_of(parts, other_side=True)} = {part}" if parts > 1 else "TRUE"
            where = f"{live} AND {in_raw}"
            yield (
                part,
                parts,
                f"(SELECT {self.raw_projection()} FROM {self.qualified}{where})",
                f"(SELECT * FROM {parquet_source(staged.path)} WHERE {in_staged})",
            )

    @staticmethod
    def copy_sql(query: str, out: Path) -> str:
        """``query``'s rows written to the Parquet file ``out`` (read back in batches: ``_batches``)."""
        return f"COPY ({query}) TO {sql_path(out)} (FORMAT parquet, COMPRESSION {STAGE_COMPRESSION})"

    def run(self, sql: str, step: str, redo: Callable[[], None] | None = None) -> None:
        """One diff statement (``sql`` writes Parquet, returns nothing) under ``diff_memory``.

        When DuckDB runs out of that memory (a spilling join's need varies from run to run), the
        statement runs once more under at least ``DIFF_RETRY_FACTOR`` times the limit it had (the
        connection's own if higher; ``redo`` first removes what the failed attempt wrote), with a
        warning. Out of memory again, a one-line ``UserError`` names the table, ``step`` and the
        setting to raise. Nothing is loaded either way."""
        with diff_memory(self.connection, self.memory_limit):
            failed = memory_bytes(current_memory_limit(self.connection))
            try:
                self.connection.execute(sql)
                return
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
        if redo is not None:
            redo()
        with diff_memory(self.connection, self.memory_limit, at_least=f"{int(DIFF_RETRY_FACTOR * failed)}B"):
            raised = mib(memory_bytes(current_memory_limit(self.connection)))
            log.warning(
                "%s: DuckDB ran out of its %s during %s; running it again under %s",
                self.qualified_name,
                mib(failed),
                step,
                raised,
            )
            try:
                self.connection.execute(sql)
            except Exception as again:
                if not is_out_of_memory(again):
                    raise
                raise UserError(
                    out_of_memory_message(
                        str(again), step, self.dataset, self.spec.name, retried_under=raised
                    )
                ) from again

    @property
    def qualified_name(self) -> str:
        """``<dataset>.<table>`` as the messages name it (unquoted)."""
        return f"{self.dataset}.{self.spec.name}"

    def changed_sql(self, raw_rows: str | None, staged_rows: str) -> str:
        """The staged rows that no live raw row equals in every column raw has: one hash join, every
        condition a join key (``IS NOT DISTINCT FROM``: null = null). Rows are compared, never hashes."""
        spec = self.spec
        if raw_rows is None:  # no live raw key in this part: every staged row is new
            return f"SELECT * FROM {staged_rows}"
        on = " AND ".join(
            f"s.{quote(c)} = r.{quote(c)}"
            if c in spec.primary_key
            else f"s.{quote(c)} IS NOT DISTINCT FROM r.{quote(c)}"
            for c in self.compared
        )
        return f"SELECT s.* FROM {staged_rows} s ANTI JOIN {raw_rows} r ON {on}"

    def changed(self, staged: StagedRows, batch_rows: int) -> Iterator[pa.Table]:
        """The staged rows raw lacks or holds differently (or as a tombstone), in the staged Arrow types."""
        if staged.path is None or staged.directory is None or staged.schema is None:
            return
        staged.finish()
        if not self.exists:  # nothing in raw: every staged row is new
            yield from _batches(staged.path, staged.schema, batch_rows)
            return
        if self.probes(staged.rows):
            sides: Iterator[tuple[str | None, str | None]] = self.probe_sides(staged)
        else:
            sides = ((raw_rows, staged_rows) for _, _, raw_rows, staged_rows in self.part_sides(staged))
        for part, (raw_rows, staged_rows) in enumerate(sides):
            if staged_rows is None:
                continue
            out = staged.directory / f"{part}-{CHANGED_FILE}"
            self.run(
                self.copy_sql(self.changed_sql(raw_rows, staged_rows), out),
                f"the changed rows' diff (part {part})",
            )
            yield from _batches(out, staged.schema, batch_rows)
            out.unlink(missing_ok=True)

    def deleted_keys(self, staged: StagedRows, rejected_keys: list[pa.Table]) -> Iterator[pa.Table]:
        """The live raw keys neither staged nor rejected by the sweep, in chunks (key columns only)."""
        if not self.exists:
            return
        staged.finish()
        rejected = [t.select(list(self.spec.primary_key)) for t in rejected_keys if t.num_rows]
        if staged.path is None:  # nothing staged: raw's live keys against the few rejected ones
            queries = [
                self.deleted_sql(f"(SELECT * FROM {self.qualified}{self._live()})", None, bool(rejected))
            ]
        else:
            queries = [
                self.deleted_sql(raw_rows, staged_rows, bool(rejected), (part, parts))
                for part, parts, raw_rows, staged_rows in self.part_sides(staged)
                if raw_rows is not None
            ]
        if rejected:
            self.connection.register(REJECTED_TABLE, pa.concat_tables(rejected))
        try:
            for part, sql in enumerate(queries):
                # written out, then read back in chunks: no statement stays open while dlt extracts
                # another table on the same DuckDB (each diff has its whole memory limit to itself)
                out = staged.scratch() / f"{part}-{DELETED_FILE}"
                self.run(self.copy_sql(sql, out), f"the deleted keys' diff (part {part})")
                yield from _batches(out, None, TOMBSTONE_CHUNK)
                out.unlink(missing_ok=True)
        finally:
            if rejected:
                self.connection.unregister(REJECTED_TABLE)

    def deleted_sql(
        self, raw_rows: str, staged_rows: str | None, rejected: bool, part: tuple[int, int] = (0, 1)
    ) -> str:
        """The keys of ``raw_rows`` (raw's live rows, or one part of them) neither in ``staged_rows``
        nor rejected (the rejected keys of ``part`` only: their hash in raw's types, like the staged)."""
        keys = self.spec.primary_key
        key_list = ", ".join(quote(c) for c in keys)
        seen = [f"SELECT {key_list} FROM {staged_rows}"] if staged_rows is not None else []
        if rejected:
            number, parts = part
            in_part = f" WHERE {self.part_of(parts, other_side=True)} = {int(number)}" if parts > 1 else ""
            seen.append(f"SELECT {key_list} FROM {REJECTED_TABLE}{in_part}")
        if not seen:  # nothing seen in this part: every live key of it is gone
            return f"SELECT {key_list} FROM {raw_rows}"
        on = " AND ".join(f"r.{quote(c)} = s.{quote(c)}" for c in keys)
        return (
            f"SELECT {', '.join('r.' + quote(c) for c in keys)} FROM {raw_rows} r "
            f"ANTI JOIN ({' UNION ALL '.join(seen)}) s ON {on}"
        )


def _batches(path: Path, schema: pa.Schema | None, batch_rows: int) -> Iterator[pa.Table]:
    """A Parquet file's rows as Arrow tables of up to ``batch_rows`` rows, cast to ``schema`` (if any:
    else as Parquet keeps DuckDB's types, a UUID as Arrow's uuid)."""
    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=batch_rows):
        if batch.num_rows:
            table = pa.Table.from_batches([batch])
            yield table if schema is None else table.cast(schema)


def as_type(column: pa.ChunkedArray | pa.Array, field: pa.Field) -> pa.Array:
    """A key column read back from DuckDB in the source's Arrow type (DuckDB exports UUID as text)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if is_uuid_type(field.type) and not is_uuid_type(column.type):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            storage = pa.array(
                [None if v is None else uuid.UUID(v).bytes for v in column.to_pylist()], type=pa.binary(16)
            )
            return pa.ExtensionArray.from_storage(pa.uuid(), storage)
        return pa.ExtensionArray.from_storage(pa.uuid(), column.cast(pa.binary(16)))
    return column.cast(field.type)


def tombstones(keys: pa.Table, schema: pa.Schema, deleted_at: dt.datetime) -> pa.Table:
    """Raw rows for deleted keys: the key, null non-key columns, ``DELETED_AT_COLUMN`` set."""
    n = keys.num_rows
    arrays = []
    for field in schema:
        if field.name == DELETED_AT_COLUMN:
            arrays.append(pa.array([deleted_at] * n, type=field.type))
        elif field.name in keys.column_names:
            arrays.append(as_type(keys.column(field.name), field))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
