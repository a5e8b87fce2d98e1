"""The dlt source of the app's Cassandra tables (raw_cassandra).

Each table is a resource yielding Arrow tables (see ``reader``), in one of three modes
chosen per table from its dlt resource state (``change_capture`` says which rows each mode
reads, and the guarantee):

- full: a full token-range scan, written with ``replace`` (the scan is complete, so
  nothing is merged): the first load, ``full_refresh``, a raw table that disappeared;
- incremental: the late-arrival window read by the server, rows with a write time after
  the cursor (minus the lag) kept, rows raw already holds unchanged dropped, merged on the
  table's key (notification_states on (user_id, notification_id); messages and
  user_events on their full primary key);
- sweep: the whole table, merged likewise, plus a tombstone (``_loader_deleted_at`` set,
  other columns null) for every live raw key the scan did not see (hard deletes), and the
  scan's row count as the source count.

Every table handed to dlt carries ``_loader_deleted_at`` (null for live rows). A row with a
cell that cannot be converted (text that is not UTF-8) is quarantined (``TableStats.rejected``)
and the rest of the table loads. The per-table report is a ``loaders.table_stats.TableStats``
in the ``stats`` dict the caller passes (``loaders.cassandra.extracts`` passes its request's reports).

The state (write-time cursor, last sweep) lives in dlt's resource state and is committed
with the load package: a run killed at any point leaves the previous state, so its rows
are read again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from cassandra import ConsistencyLevel
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource

from loaders.cassandra import change_capture as cc
from loaders.cassandra.columns import TIMESTAMP_TYPE, random_ids
from loaders.cassandra.connection import connected, table_metadata
from loaders.cassandra.raw_side import RawTable, StagedRows, tombstones
from loaders.cassandra.reader import WRITETIME_COLUMN, ReadOptions, ReadReport, ScanFilter, read_table
from loaders.cassandra.scan import PageHook
from loaders.cassandra.tables import TABLE_SPECS, TABLES, TableSpec, check_columns, dlt_columns, spec_for
from loaders.errors import UserError
from loaders.settings import CassandraSettings
from loaders.table_stats import (
    DELETED_AT_COLUMN,
    MERGE_DISPOSITION,
    ROW_KEY_COLUMN,
    ROW_KEY_HINT,
    TOMBSTONE_HINT,
    TableStats,
)
from loaders.uuid_columns import enable_uuid_columns

__all__ = ["TABLES", "cassandra_source"]

log = logging.getLogger(__name__)

STATE_CURSOR = cc.STATE_WRITETIME

# dlt adds _dlt_load_id to Arrow items only when told; the raw layout requires it.
LOAD_ID_ENV = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"
ROW_ID_ENV = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"


class _JsonHintWarningFilter(logging.Filter):
    """dlt warns that an Arrow string column differs from its ``json`` hint: that is the intended JSON column."""

    def __init__(self, resources: set[str]) -> None:
        super().__init__()
        self.resources = resources

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "when merging arrow schema with dlt schema" not in message:
            return True
        return not any(f"In resource: {name}," in message for name in self.resources)


_json_warning_filter = _JsonHintWarningFilter({s.name for s in TABLE_SPECS.values() if s.json_columns})
logging.getLogger("dlt").addFilter(_json_warning_filter)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def raw_schema(spec: TableSpec, source: pa.Schema, add_row_ids: bool) -> pa.Schema:
    """The columns handed to dlt: the source's, ``_loader_deleted_at``, then dlt's (when we make them)."""
    fields = [source.field(name) for name in spec.columns] + [pa.field(DELETED_AT_COLUMN, TIMESTAMP_TYPE)]
    if add_row_ids:
        fields += [pa.field("_dlt_load_id", pa.string()), pa.field("_dlt_id", pa.string(), nullable=False)]
    return pa.schema(fields)


def to_raw(table: pa.Table, schema: pa.Schema, add_row_ids: bool) -> pa.Table:
    """Source rows (or tombstones) as raw rows: the write time dropped, the loader's columns added."""
    n = table.num_rows
    arrays = []
    for field in schema:
        if field.name in table.column_names:
            arrays.append(table.column(field.name))
        elif field.name == "_dlt_id":
            arrays.append(random_ids(n))  # dlt fills _dlt_load_id in place of its placeholder
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def source_part(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f for f in schema if not f.name.startswith("_dlt_")])


def new_since(table: pa.Table, since: int) -> pa.Array:
    """Rows written after ``since`` (µs), or with no write time at all (every regular cell null)."""
    writetime = table.column(WRITETIME_COLUMN)
    return pc.or_kleene(pc.greater(writetime, since), pc.is_null(writetime))


def count_true(mask: Any) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def late_count(table: pa.Table, spec: TableSpec, before: dt.datetime) -> int:
    """Rows the app stamped before ``before`` (the previous cursor minus the lag): written late."""
    if table.num_rows == 0:
        return 0
    return count_true(pc.less(table.column(spec.app_time), pa.scalar(before, TIMESTAMP_TYPE)))


def consistency_level() -> int:
    return int(getattr(ConsistencyLevel, cc.consistency_name()))


def open_raw_table(stack: ExitStack, spec: TableSpec) -> RawTable:
    """The raw table of ``spec`` in the running pipeline's warehouse (its own dlt SQL client)."""
    pipeline = dlt.current.pipeline()
    sql_client: Any = pipeline.sql_client()
    client = stack.enter_context(sql_client)
    configured = getattr(client.credentials, "global_config", None) or {}
    memory_limit = configured.get("memory_limit")  # the load's: the diffs restore it exactly
    return RawTable(
        client.native_connection,
        str(pipeline.dataset_name),
        spec,
        memory_limit=None if memory_limit is None else str(memory_limit),
    )


def spill_directory() -> Path:
    """Where a run stages the rows it read: beside the pipeline's load packages (DLT_DATA_DIR)."""
    return Path(dlt.current.pipeline().working_dir) / "cassandra_seen_keys"


def table_rows(
    settings: CassandraSettings,
    spec: TableSpec,
    full_refresh: bool,
    capture: cc.CaptureSettings,
    options: ReadOptions,
    add_row_ids: bool,
    stats: TableStats,
    on_rows: Callable[[str, int], None] = lambda table, rows: None,
) -> Iterator[Any]:
    """The resource function of one table: Arrow tables, the first one carrying the run's disposition."""
    state = dlt.current.resource_state()
    clock = time.monotonic()
    with ExitStack() as stack:
        cursor_known = cc.previous_cursor(state)[0] is not None
        raw = open_raw_table(stack, spec) if cursor_known and not full_refresh else None
        scan_started = utc_now()
        plan = cc.plan(state, capture, scan_started, full_refresh, raw is not None and raw.exists)
        stats.mode, stats.cursor_before = plan.mode, cc.describe_cursor(plan.cursor)
        log.info("%s: %s (%s)", spec.name, plan.mode, plan.reason)
        window = None
        if plan.window_from is not None:
            window = spec.window_bound(plan.window_from)
        scan_filter = ScanFilter(
            writetimes=True, window_column=spec.window_column if window else None, window_value=window
        )
        finds_deletes = plan.mode == cc.SWEEP and capture.deletes and spec.detect_deletes
        # incremental and sweep: the kept rows are staged, then diffed against raw (each side read once: raw_side)
        stage = StagedRows(spec, spill_directory())  # removes what a killed run left
        staged = stack.enter_context(stage) if raw is not None and plan.mode != cc.FULL else None
        late_before = cc.from_micros(plan.since) if plan.since is not None else None
        report = ReadReport()
        started_us = cc.micros(scan_started)
        max_seen: int | None = None
        schema: pa.Schema | None = None
        disposition: Any = "replace" if plan.mode == cc.FULL else MERGE_DISPOSITION
        first = True

        def handed(table: pa.Table) -> pa.Table:
            """``table`` as raw rows handed to dlt, counted."""
            out = to_raw(table, cast(pa.Schema, schema), add_row_ids)
            stats.rows_extracted += out.num_rows
            stats.bytes_extracted = (stats.bytes_extracted or 0) + out.nbytes
            return out

        for table in read_table(settings, spec.name, scan_filter, options, report=report):
            writetime = table.column(WRITETIME_COLUMN)
            top = pc.max(writetime).as_py()
            if top is not None and (max_seen is None or top > max_seen):
                max_seen = top
            if plan.reads_everything:
                stats.in_flight_rows += count_true(pc.greater(writetime, started_us))
            if plan.mode == cc.INCREMENTAL and plan.since is not None:
                table = table.filter(new_since(table, plan.since))
            schema = schema or raw_schema(spec, table.schema, add_row_ids)
            if staged is not None:
                staged.add(table)
                table = table.slice(0, 0)  # the staged rows are handed to dlt after the diff
            elif late_before is not None:
                stats.late_rows += late_count(table, spec, late_before)
            if table.num_rows == 0 and not first:
                on_rows(spec.name, report.rows_read)
                continue
            out = handed(table)
            if first:
                first = False
                yield dlt.mark.with_hints(out, dlt.mark.make_hints(write_disposition=disposition))
            else:
                yield out
            on_rows(spec.name, report.rows_read)
        if staged is not None and raw is not None and schema is not None:
            for changed in raw.changed(staged, options.batch_rows):
                if late_before is not None:
                    stats.late_rows += late_count(changed, spec, late_before)
                yield handed(changed)
            if finds_deletes:
                for keys in raw.deleted_keys(staged, report.rejected_keys):
                    dead = handed(tombstones(keys, source_part(schema), scan_started))
                    stats.deleted_rows += dead.num_rows
                    yield dead
    stats.rows_read = report.rows_read
    stats.rejected = list(report.rejected)
    if plan.reads_everything:
        stats.source_rows = report.rows_read
    if max_seen is None and plan.reads_everything:
        # a complete scan that saw no write time: everything written before it (less the lag) was read
        max_seen = started_us - capture.lag // dt.timedelta(microseconds=1)
    cursor = cc.next_cursor(plan.cursor, max_seen, scan_started)
    cc.save(state, plan, cursor, scan_started)
    stats.cursor_after = cc.describe_cursor(cursor)
    stats.seconds = time.monotonic() - clock
    stats.done = True


def check_source(
    settings: CassandraSettings, specs: Sequence[TableSpec]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Fail fast (UserError) on host, login, keyspace or table problems; the dlt column hints per table."""
    with connected(settings) as (cluster, _session):
        hints = {}
        for spec in specs:
            meta = table_metadata(cluster, settings, spec.name)
            check_columns(spec, meta, settings.keyspace)
            hints[spec.name] = dlt_columns(spec, meta)
        return hints


def ensure_load_ids() -> bool:
    """Make dlt add ``_dlt_load_id`` to Arrow items; True when dlt also adds ``_dlt_id`` itself."""
    os.environ.setdefault(LOAD_ID_ENV, "true")
    return os.environ.get(ROW_ID_ENV, "").strip().lower() in ("true", "1", "yes")


@dlt.source(name="cassandra", max_table_nesting=0)
def cassandra_source(
    settings: CassandraSettings,
    tables: list[str] | None = None,
    full_refresh: bool = False,
    *,
    stats: dict[str, TableStats] | None = None,
    lag: dt.timedelta | None = None,
    parallelism: int = 0,
    fetch_size: int = ReadOptions.fetch_size,
    batch_rows: int = ReadOptions.batch_rows,
    page_hook: PageHook | None = None,
    on_rows: Callable[[str, int], None] = lambda table, rows: None,
    deep: bool = False,
) -> Iterator[DltResource]:
    """The app's Cassandra tables (all of TABLES by default) as dlt resources.

    Raises UserError right away when the hosts, the login, the keyspace, a table or a
    setting is wrong. ``stats`` receives one ``TableStats`` per table as it is extracted.
    ``lag``: re-read before the write-time cursor (default LOADERS_CURSOR_LAG_SECONDS, 600 s);
    the window and the sweep come from LOADERS_CASSANDRA_LATE_WINDOW_DAYS and
    LOADERS_CASSANDRA_SWEEP_HOURS (``change_capture``). ``parallelism`` 0 means two range
    readers per core. ``page_hook`` is for tests (inject a failing page). ``on_rows(table,
    rows_read)`` is called after each table handed to dlt (progress, the crash tests' pause).
    ``deep``: sweep every table whatever the schedule (`loaders reconcile --deep`).
    """
    enable_uuid_columns()
    names = list(TABLES if tables is None else tables)
    if not names:
        raise UserError("no Cassandra table selected: name at least one of " + ", ".join(TABLES))
    specs = [spec_for(name) for name in names]
    capture = cc.CaptureSettings.from_env(lag)
    if deep:  # `loaders reconcile --deep`: a sweep of every table now (every row compared with raw)
        capture = dataclasses.replace(capture, sweep_every=dt.timedelta(0), deletes=True)
    options = ReadOptions(
        parallelism=parallelism,
        fetch_size=fetch_size,
        batch_rows=batch_rows,
        page_hook=page_hook,
        consistency_level=consistency_level(),
    )
    hints = check_source(settings, specs)
    dlt_adds_row_ids = ensure_load_ids()
    stats = {} if stats is None else stats
    for spec in specs:
        columns: dict[str, Any] = dict(hints[spec.name])
        columns[DELETED_AT_COLUMN] = dict(TOMBSTONE_HINT)
        if not dlt_adds_row_ids:
            columns[ROW_KEY_COLUMN] = dict(ROW_KEY_HINT)
        table_stats = stats.setdefault(spec.name, TableStats(spec.name))
        yield dlt.resource(
            table_rows(
                settings, spec, full_refresh, capture, options, not dlt_adds_row_ids, table_stats, on_rows
            ),
            name=spec.name,
            table_name=spec.name,
            write_disposition="replace" if full_refresh else MERGE_DISPOSITION,
            primary_key=list(spec.primary_key),
            columns=cast("dict[str, TColumnSchema]", columns),
        )
