"""The dlt source of the PostgreSQL tables: a full read or an incremental one per table.

Every table is planned before extracting, in one pass (``plan_tables``: one catalog query,
one read of raw's tables and of dlt's schema and state, one count of the source tables and
one of raw's live rows for the key checks). Per table:

- full (write disposition ``replace``): the first load, ``--full-refresh``
  (raw table dropped and recreated, so a changed column type is taken), a raw
  table that disappeared, a column new in the source (reloaded so that the
  column is filled for every row, not only for rows changed from now on), or a
  table whose raw copy lost rows (found by the previous load's key check);
- incremental (``merge`` on the primary key, delete-insert): the row versions
  written by transactions the previous load's snapshot did not see
  (``change_capture``: by transaction id, whatever ``updated_at`` says), then
  the hard deletes found by key difference in the same snapshot (``deletes``:
  tombstones). Rows read again that raw already has are dropped before dlt sees
  them, so a run with no source change writes nothing.

A column whose type changed in the source stops the load of that table with
the fix (``--full-refresh``): loading it into the old column would fail or
silently change the values.

The position (dlt resource state, committed with the load package) is the
snapshot's transaction horizon, never a clock. A row stamped in the future by a
skewed clock is loaded and counted (``future_rows``); it moves nothing. A state
written before change capture existed (an ``updated_at`` / id cursor) is used
once, and replaced by the horizon.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders.errors import UserError
from loaders.extracts import RawView, TableReports
from loaders.postgres.arrow import DLT_LOAD_ID, convert_batch, key_table
from loaders.postgres.catalog import SourceTable, quote_ident, read_catalog
from loaders.postgres.change_capture import XID_COLUMN, changed_since, maybe_loaded, xid_select
from loaders.postgres.deletes import key_difference, tombstones, unexplained_keys
from loaders.postgres.session import PostgresSession, ReadPlan, SnapshotHorizon, ctid_ranges
from loaders.postgres.tables import APPEND_TIME_COLUMN, SPECS_BY_NAME, TableSpec
from loaders.table_stats import (
    DELETED_AT_COLUMN,
    MERGE_DISPOSITION,
    ROW_KEY_COLUMN,
    ROW_KEY_HINT,
    TOMBSTONE_HINT,
    TableStats,
)
from loaders.uuid_columns import enable_uuid_columns

log = logging.getLogger(__name__)

SOURCE_NAME = "postgres"


class SourceTableMissing(UserError):
    pass


class SourceColumnTypeChanged(UserError):
    pass


@dataclass
class TablePlan:
    spec: TableSpec
    table: SourceTable
    full: bool
    reason: str
    refresh: bool = False  # drop and recreate the raw table (dlt refresh="drop_resources")
    # incremental: the previous load's snapshot (change capture by transaction id) ...
    horizon: SnapshotHorizon | None = None
    previous_snapshot_time: datetime | None = None
    # ... or, once, for a state written before change capture: datetime (>=) or int id (>)
    since: Any = None
    # `loaders reconcile --deep`: every row is read and compared with raw, column by column
    deep: bool = False
    detect_deletes: bool = True
    source_rows: int | None = None  # the table's rows in the snapshot, counted while planning (key scans)
    raw_live_rows: int | None = None  # raw's live rows before this load, counted while planning (key scans)

    @property
    def captures_deletes(self) -> bool:
        """Deletes are found by key difference: incremental and deep loads of a table that allows them."""
        return self.spec.capture_deletes and self.detect_deletes and not self.full

    @property
    def mode(self) -> str:
        return "full" if self.full else "deep" if self.deep else "incremental"


# dlt resource state of a table (committed with its load)
STATE_HORIZON = "horizon"  # pg_current_snapshot() of the last load, "xmin:xmax:xip"
STATE_SNAPSHOT_TIME = "snapshot_time"  # its clock (ISO-8601)
STATE_CURSOR = "cursor"  # greatest updated_at (id) seen, capped at the snapshot's clock: informational
STATE_RELOAD = "reload"  # set when raw lost rows: the next run reloads the table in full


@dataclass
class PostgresOptions:
    schema: str = "public"
    lag: timedelta = timedelta(minutes=10)
    deep: bool = (
        False  # compare every row with raw and load the ones that differ (`loaders reconcile --deep`)
    )
    detect_deletes: bool = (
        True  # LOADERS_DETECT_DELETES: key difference on incremental loads (tables that allow it)
    )


def _parse_cursor(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _describe(dlt_type: tuple[str, int | None, int | None]) -> str:
    data_type, precision, scale = dlt_type
    return f"{data_type}({precision},{scale})" if data_type == "decimal" else data_type


def _known_type(column: dict[str, Any]) -> tuple[str, int | None, int | None] | None:
    data_type = column.get("data_type")
    if not data_type:
        return None
    if data_type == "decimal":
        return (data_type, column.get("precision"), column.get("scale"))
    return (data_type, None, None)


def plan_tables(
    session: PostgresSession, view: RawView, names: list[str], full_tables: set[str], options: PostgresOptions
) -> tuple[list[TablePlan], dict[str, UserError]]:
    """Decide full or incremental per table; (plans, one-line error per table that cannot be loaded).

    A missing or unreadable table, a missing key column or a changed column type stops that
    table only: the others are loaded. ``full_tables`` are dropped and reloaded whatever their
    state (--full-refresh, discarded loads).
    """
    catalog = read_catalog(session.cursor(), options.schema, names)
    raw_tables = view.raw_tables()
    plans: list[TablePlan] = []
    failures: dict[str, UserError] = {}
    for name in names:
        try:
            plan = _plan_table(name, catalog, raw_tables, view, full_tables, options)
        except UserError as exc:
            failures[name] = exc
        else:
            plans.append(plan)
    counted = [p for p in plans if p.captures_deletes]
    _count_sources(session, counted)
    raw_rows = view.count_rows([p.spec.name for p in counted]) if counted else {}
    for plan in counted:
        plan.raw_live_rows = raw_rows.get(plan.spec.name)
    return plans, failures


def _count_sources(session: PostgresSession, plans: list[TablePlan]) -> None:
    """Each table's rows in the load's snapshot (the reconciliation's figure): one query for all of them."""
    if not plans:
        return
    cur = session.cursor()
    cur.execute(
        " UNION ALL ".join(f"SELECT {i}, count(*) FROM {p.table.qualified}" for i, p in enumerate(plans))
    )
    for i, rows in cur.fetchall():
        plans[i].source_rows = int(rows)


def _plan_table(
    name: str,
    catalog: dict[str, SourceTable],
    raw_tables: set[str],
    view: RawView,
    full_tables: set[str],
    options: PostgresOptions,
) -> TablePlan:
    spec = SPECS_BY_NAME[name]
    table = catalog.get(name)
    if table is None:
        raise SourceTableMissing(
            f"table {options.schema}.{name} not found in PostgreSQL: create it (`datagen`, the demo data generator) "
            "or leave it out with --tables"
        )
    if not table.readable:
        raise UserError(
            f"the loader role may not read {options.schema}.{name}: GRANT SELECT ON it (or ON ALL TABLES IN "
            f"SCHEMA {options.schema}) TO the role of POSTGRES_DSN"
        )
    needed = [*spec.primary_key, spec.cursor] + ([APPEND_TIME_COLUMN] if spec.append_only else [])
    absent = [c for c in needed if table.column(c) is None]
    if absent:
        raise SourceTableMissing(
            f"{options.schema}.{name} has no column(s) {', '.join(absent)} (key or cursor of the contract): "
            "restore them in the source, the loader needs them"
        )
    state = view.resource_state(name)
    known = {k: v for k, v in view.known_columns(name).items() if not k.startswith("_dlt_")}
    cursor = _parse_cursor(state.get(STATE_CURSOR))
    horizon = state.get(STATE_HORIZON)
    had_raw = bool(known) or name in raw_tables
    if name in full_tables:
        return TablePlan(spec, table, True, "reloaded in full", refresh=had_raw)
    if (cursor is None and horizon is None) or not known:
        return TablePlan(spec, table, True, "first load", refresh=had_raw)
    if name not in raw_tables:
        return TablePlan(spec, table, True, "raw table missing: reloaded", refresh=True)
    if state.get(STATE_RELOAD):
        return TablePlan(spec, table, True, f"reloaded in full: {state[STATE_RELOAD]}", refresh=True)
    for column in table.columns:
        before = _known_type(known.get(column.name, {}))
        if before is not None and before != column.dlt_type:
            raise SourceColumnTypeChanged(
                f"column {name}.{column.name} changed type in PostgreSQL ({_describe(before)} in raw, now "
                f"{column.declared}): reload the table with `loaders load --source postgres --tables {name} "
                "--full-refresh`"
            )
    new_columns = [c.name for c in table.columns if c.name not in known]
    if new_columns:
        return TablePlan(spec, table, True, f"new column(s) {', '.join(new_columns)}: reloaded")
    if options.deep:
        return TablePlan(
            spec, table, False, "deep: every row compared with raw", deep=True
        )  # always detects deletes
    if horizon is not None:
        return TablePlan(
            spec,
            table,
            False,
            "incremental",
            horizon=SnapshotHorizon.parse(str(horizon)),
            previous_snapshot_time=_parse_cursor(state.get(STATE_SNAPSHOT_TIME)),
            detect_deletes=options.detect_deletes,
        )
    since: Any = int(cursor) if spec.append_only else cursor - options.lag
    return TablePlan(
        spec,
        table,
        False,
        "incremental (cursor upgraded to change capture)",
        since=since,
        detect_deletes=options.detect_deletes,
    )


def _table_queries(session: PostgresSession, plan: TablePlan) -> ReadPlan | list[str]:
    table, spec = plan.table, plan.spec
    if plan.full or plan.deep:  # split by heap or key ranges, batches sized in bytes (session.table_read)
        return session.table_read(
            table, f"SELECT {table.select_list()} FROM {table.qualified}", spec.primary_key
        )
    base = f"SELECT {table.select_list()}, {xid_select()} FROM {table.qualified}"
    if plan.horizon is not None:
        # every page is read (a transaction id has no index): split like a full read, filtered in the server
        return session.table_read(table, base, spec.primary_key, where=changed_since(plan.horizon))
    cursor = quote_ident(spec.cursor)
    if spec.append_only:
        return [f"{base} WHERE {cursor} > {int(plan.since)}"]
    since = plan.since.astimezone(UTC).isoformat()
    return [f"{base} WHERE {cursor} >= '{since}'::timestamptz"]


def _key_queries(session: PostgresSession, plan: TablePlan) -> list[str]:
    table = plan.table
    base = f"SELECT {', '.join(quote_ident(k) for k in plan.spec.primary_key)} FROM {table.qualified}"
    parts = session.stream_count(table.blocks, full_scan=True)
    return [
        f"{base} WHERE {where}" if where != "TRUE" else base for where in ctid_ranges(table.blocks, parts)
    ]


def _with_deleted_at(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with the (NULL) tombstone column before dlt's own columns: every raw table has it."""
    position = batch.schema.get_field_index(DLT_LOAD_ID)
    if position < 0:
        position = batch.num_columns
    column = pa.nulls(batch.num_rows, pa.timestamp("us", tz="UTC"))
    return batch.add_column(position, pa.field(DELETED_AT_COLUMN, column.type, nullable=True), column)


def _count_compared(batch: pa.RecordBatch, column: str, moment: datetime, later: bool) -> int:
    values = batch.column(column)
    compare = pc.greater if later else pc.less
    return int(pc.sum(compare(values, pa.scalar(moment, type=values.type))).as_py() or 0)


def _position(state: dict[str, Any]) -> str | None:
    if state.get(STATE_HORIZON):
        return f"snapshot {state[STATE_HORIZON]}"
    cursor = state.get(STATE_CURSOR)
    return None if cursor is None else f"cursor {cursor}"


def _keep_unseen(view: RawView, plan: TablePlan, batch: pa.RecordBatch) -> pa.RecordBatch:
    """Drop the rows raw already has (same key and cursor): rows the previous load's snapshot saw."""
    spec = plan.spec
    match = list(spec.primary_key) if spec.append_only else [*spec.primary_key, spec.cursor]
    if plan.horizon is None:  # upgrade from a cursor: every row of the window may be in raw
        candidates = np.arange(batch.num_rows)
    else:
        candidates = np.nonzero(maybe_loaded(batch.column(XID_COLUMN), plan.horizon))[0]
    if not len(candidates):
        return batch
    subset = batch.take(pa.array(candidates))
    missing = view.missing_rows(spec.name, key_table(subset, match), match, spec.cursor).to_numpy()
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[candidates] = False
    keep[candidates[missing]] = True
    return batch if keep.all() else batch.filter(pa.array(keep))


def _keep_different(view: RawView, plan: TablePlan, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The rows that raw lacks or holds with another value in any column (found by a deep check)."""
    columns = [c.name for c in plan.table.columns]
    indexed = pa.Table.from_batches([batch.select(columns)]).append_column(
        "__row", pa.array(np.arange(batch.num_rows, dtype=np.int64))
    )
    rows = view.different_rows(plan.spec.name, indexed, list(plan.spec.primary_key), columns).to_numpy()
    return batch.take(pa.array(rows)) if len(rows) < batch.num_rows else batch


def _deletes_and_losses(
    session: PostgresSession,
    view: RawView,
    plan: TablePlan,
    stats: TableStats,
    schema: pa.Schema,
    extracted_keys: list[pa.Table],
    has_tombstones: bool,
) -> Iterator[pa.RecordBatch]:
    """The key scan: tombstones for the keys gone from the source, and the count of rows raw lost."""
    key = list(plan.spec.primary_key)
    difference = key_difference(
        view.connection(),
        view.dataset,
        plan.spec.name,
        key,
        session.read(_key_queries(session, plan), lambda b: b),
        extracted_keys,
        has_tombstones=has_tombstones,
    )
    stats.source_rows = difference.source_rows
    if difference.deleted:
        stats.deleted_rows = len(difference.deleted)
        yield tombstones(schema, key, difference.deleted, session.snapshot_time)
    stats.lost_rows = difference.missing


def _resource_rows(
    session: PostgresSession,
    view: RawView,
    plan: TablePlan,
    stats: TableStats,
    on_rows: Callable[[str, int], None],
) -> Iterator[pa.RecordBatch]:
    spec = plan.spec
    state = dlt.current.resource_state()
    started = time.monotonic()
    stats.mode = plan.mode
    stats.cursor_before = _position(state)
    convert = partial(convert_batch, not_null=set(spec.primary_key))
    snapshot_time = session.snapshot_time
    capture_deletes = plan.captures_deletes
    extracted_keys: list[pa.Table] = []
    schema: pa.Schema | None = None
    cursor_value: Any = None
    for batch in session.read(_table_queries(session, plan), convert):
        stats.rows_read += batch.num_rows
        if plan.deep and batch.num_rows:
            batch = _keep_different(view, plan, batch)
        elif not plan.full and batch.num_rows:
            batch = _keep_unseen(view, plan, batch)
        if XID_COLUMN in batch.schema.names:
            batch = batch.drop_columns([XID_COLUMN])
        batch = _with_deleted_at(batch)
        schema = schema or batch.schema
        if batch.num_rows == 0:
            continue
        stats.future_rows += _count_compared(batch, spec.clock, snapshot_time, later=True)
        if plan.previous_snapshot_time is not None:
            stats.late_rows += _count_compared(batch, spec.clock, plan.previous_snapshot_time, later=False)
        top = pc.max(batch.column(spec.cursor)).as_py()
        if top is not None and (cursor_value is None or top > cursor_value):
            cursor_value = top
        if capture_deletes:
            extracted_keys.append(pa.Table.from_batches([batch.select(list(spec.primary_key))]))
        stats.rows_extracted += batch.num_rows
        yield batch
        on_rows(spec.name, stats.rows_extracted)
    if plan.full:
        stats.source_rows = stats.rows_extracted  # a full read of the snapshot: every row of the source
        if stats.rows_extracted == 0 and schema is not None:
            yield pa.RecordBatch.from_pylist(
                [], schema=schema
            )  # an empty source table still gets its raw table
    elif capture_deletes:
        stats.source_rows = plan.source_rows  # counted in the snapshot while planning
    if capture_deletes and schema is not None and stats.source_rows is not None:
        key = list(spec.primary_key)
        has_tombstones = view.has_column(spec.name, DELETED_AT_COLUMN)
        if unexplained_keys(
            view.connection(),
            view.dataset,
            spec.name,
            key,
            extracted_keys,
            stats.source_rows,
            has_tombstones=has_tombstones,
            raw_live_rows=plan.raw_live_rows,
        ):
            yield from _deletes_and_losses(session, view, plan, stats, schema, extracted_keys, has_tombstones)
    if stats.lost_rows:
        state[STATE_RELOAD] = (
            f"raw lacked {stats.lost_rows:,} row(s) of the source at {snapshot_time.isoformat()}"
        )
    else:
        state.pop(STATE_RELOAD, None)
    state[STATE_HORIZON] = session.horizon.text()
    state[STATE_SNAPSHOT_TIME] = snapshot_time.isoformat()
    if isinstance(cursor_value, datetime):
        state[STATE_CURSOR] = min(cursor_value, snapshot_time).isoformat()  # a future stamp moves nothing
    elif cursor_value is not None:
        state[STATE_CURSOR] = int(cursor_value)
    stats.cursor_after = _position(state)
    stats.seconds = time.monotonic() - started
    stats.done = True


def _hints(plan: TablePlan) -> dict[str, Any]:
    spec = plan.spec
    columns: dict[str, Any] = {key: {"name": key, "nullable": False} for key in spec.primary_key}
    columns[ROW_KEY_COLUMN] = dict(ROW_KEY_HINT)
    columns[DELETED_AT_COLUMN] = dict(TOMBSTONE_HINT)
    if plan.full:
        disposition: Any = "replace"
    else:
        disposition = MERGE_DISPOSITION
        if not spec.append_only:
            # loads before MERGE_DISPOSITION stored this hint, which dlt now warns it ignores: cleared
            columns[spec.cursor] = {"name": spec.cursor, "dedup_sort": None}
    return {"write_disposition": disposition, "primary_key": list(spec.primary_key), "columns": columns}


def postgres_source(
    session: PostgresSession,
    view: RawView,
    plans: list[TablePlan],
    options: PostgresOptions,
    reports: TableReports,
) -> Any:
    """A dlt source with one resource per planned table, reading inside ``session``'s snapshot.

    Each table's ``TableStats`` goes to ``reports`` (complete once its resource ran to its end).
    """
    enable_uuid_columns()

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def postgres() -> Any:
        return [
            dlt.resource(_rows_of(session, view, plan, reports), name=plan.spec.name, **_hints(plan))
            for plan in plans
        ]

    return postgres()


def _rows_of(
    session: PostgresSession, view: RawView, plan: TablePlan, reports: TableReports
) -> Callable[[], Iterator[pa.RecordBatch]]:
    """The table's rows as a generator function without arguments, for ``dlt.resource``.

    A function, not a generator object: dlt finds a generator's module with
    ``inspect.getmodule`` on its frame, which stats the file of every imported module the
    first time (0.1-0.2 s a run); a function's module is its ``__module__``. No arguments:
    dlt would try to fill them from its configuration."""
    stats = reports.table(plan.spec.name)

    def rows() -> Iterator[pa.RecordBatch]:
        yield from _resource_rows(session, view, plan, stats, reports.rows)

    return rows
