"""The dlt source of the PostgreSQL tables: a full read or an incremental one per table.

Per table, the plan is decided before extracting (``plan_tables``):

- full (write disposition ``replace``): the first load, ``--full-refresh``
  (raw table dropped and recreated, so a changed column type is taken), a raw
  table that disappeared, or a column new in the source (reloaded so that the
  column is filled for every row, not only for rows changed from now on);
- incremental (``merge`` on the primary key, delete-insert): rows with
  ``updated_at >= cursor - lag`` (mutable tables) or ``id > settled id``
  (append-only notifications). The lag window re-reads rows that committed
  late; the rows of the window already in raw with the same key and cursor
  value are dropped before dlt sees them, so a run with no source change
  writes nothing.

A column whose type changed in the source stops the load of that table with
the fix (``--full-refresh``): loading it into the old column would fail or
silently change the values.

The cursor moves with what the run read (dlt resource state, committed with
the load package), never with the clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from loaders.errors import UserError
from loaders.load.uuid_columns import enable_uuid_columns
from loaders.postgres.arrow import convert_batch, key_table
from loaders.postgres.catalog import SourceTable, read_catalog
from loaders.postgres.session import PostgresSession, ctid_ranges
from loaders.postgres.tables import APPEND_TIME_COLUMN, SPECS_BY_NAME, TableSpec

log = logging.getLogger(__name__)

SOURCE_NAME = "postgres"


class RawView(Protocol):
    """What the PostgreSQL source needs to know about the warehouse and the pipeline."""

    def raw_tables(self) -> set[str]: ...

    def known_columns(self, table: str) -> dict[str, dict[str, Any]]: ...

    def resource_state(self, table: str) -> dict[str, Any]: ...

    def missing_rows(self, table: str, keys: pa.Table, match: list[str], prune: str) -> pa.Array: ...


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
    since: Any = None  # incremental lower bound: datetime (>=) or int id (>)


@dataclass
class TableStats:
    table: str
    mode: str = ""
    rows_read: int = 0
    rows_extracted: int = 0
    seconds: float = 0.0
    done: bool = False


@dataclass
class PostgresOptions:
    schema: str = "public"
    lag: timedelta = timedelta(minutes=10)


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
    return plans, failures


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
            f"table {options.schema}.{name} not found in PostgreSQL: create it (`loaders generate`) "
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
    cursor = _parse_cursor(state.get("cursor"))
    if name in full_tables:
        return TablePlan(spec, table, True, "reloaded in full", refresh=bool(known) or name in raw_tables)
    if cursor is None or not known:
        return TablePlan(spec, table, True, "first load", refresh=bool(known) or name in raw_tables)
    if name not in raw_tables:
        return TablePlan(spec, table, True, "raw table missing: reloaded", refresh=True)
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
    since: Any = int(cursor) if spec.append_only else cursor - options.lag
    return TablePlan(spec, table, False, "incremental", since=since)


def _table_queries(session: PostgresSession, plan: TablePlan) -> list[str]:
    table, spec = plan.table, plan.spec
    base = f"SELECT {table.select_list()} FROM {table.qualified}"
    if plan.full:
        parts = session.stream_count(table.blocks, full_scan=True)
        return [f"{base} WHERE {where}" if where != "TRUE" else base for where in ctid_ranges(table.blocks, parts)]
    cursor = f'"{spec.cursor}"'
    if spec.append_only:
        return [f"{base} WHERE {cursor} > {int(plan.since)}"]
    since = plan.since.astimezone(timezone.utc).isoformat()
    return [f"{base} WHERE {cursor} >= '{since}'::timestamptz"]


def _max(batch: pa.RecordBatch, column: str) -> Any:
    value = pc.max(batch.column(column)).as_py()
    return value


def _settled_id(batch: pa.RecordBatch, id_column: str, settle_before: datetime) -> int | None:
    """The largest id among rows written before ``settle_before`` (older transactions are all visible)."""
    created = batch.column(APPEND_TIME_COLUMN)
    mask = pc.less(created, pa.scalar(settle_before, type=created.type))
    ids = pc.filter(batch.column(id_column), mask)
    return pc.max(ids).as_py() if len(ids) else None


def _resource_rows(
    session: PostgresSession,
    view: RawView,
    plan: TablePlan,
    options: PostgresOptions,
    stats: TableStats,
    on_rows: Callable[[str, int], None],
) -> Iterator[pa.RecordBatch]:
    import dlt

    spec = plan.spec
    state = dlt.current.resource_state()
    started = time.monotonic()
    stats.mode = "full" if plan.full else "incremental"
    convert = partial(convert_batch, not_null=set(spec.primary_key))
    queries = _table_queries(session, plan)
    old_cursor = _parse_cursor(state.get("cursor"))
    cursor_value: Any = None if plan.full else old_cursor
    settle_before = session.snapshot_time - options.lag
    match = [*spec.primary_key, spec.cursor] if not spec.append_only else list(spec.primary_key)
    empty: pa.RecordBatch | None = None
    for batch in session.read(queries, convert):
        if batch.num_rows == 0:
            empty = empty or batch
            continue
        stats.rows_read += batch.num_rows
        if spec.append_only:
            settled = _settled_id(batch, spec.cursor, settle_before)
            if settled is not None and (cursor_value is None or settled > cursor_value):
                cursor_value = settled
        else:
            top = _max(batch, spec.cursor)
            if top is not None and (cursor_value is None or top > cursor_value):
                cursor_value = top
        if not plan.full:
            keys = key_table(batch, match)
            prune = spec.cursor
            keep = view.missing_rows(spec.name, keys, match, prune)
            if len(keep) < batch.num_rows:
                batch = batch.take(keep)
        if batch.num_rows:
            stats.rows_extracted += batch.num_rows
            yield batch
        on_rows(spec.name, stats.rows_read)
    if plan.full and stats.rows_extracted == 0 and empty is not None:
        yield empty  # an empty source table still gets its raw table, with its columns
    if cursor_value is not None:
        state["cursor"] = cursor_value.isoformat() if isinstance(cursor_value, datetime) else int(cursor_value)
    elif plan.full:
        state.pop("cursor", None)
    stats.seconds = time.monotonic() - started
    stats.done = True


def _hints(plan: TablePlan) -> dict[str, Any]:
    spec = plan.spec
    columns: dict[str, Any] = {key: {"name": key, "nullable": False} for key in spec.primary_key}
    columns["_dlt_id"] = {"name": "_dlt_id", "data_type": "text", "nullable": False, "unique": True, "row_key": True}
    if plan.full:
        disposition: Any = "replace"
    else:
        disposition = {"disposition": "merge", "strategy": "delete-insert"}
        if not spec.append_only:  # the latest version of a row wins if a batch holds two
            columns[spec.cursor] = {"name": spec.cursor, "dedup_sort": "desc"}
    return {"write_disposition": disposition, "primary_key": list(spec.primary_key), "columns": columns}


def postgres_source(
    session: PostgresSession,
    view: RawView,
    plans: list[TablePlan],
    options: PostgresOptions,
    stats: dict[str, TableStats],
    on_rows: Callable[[str, int], None] = lambda table, rows: None,
) -> Any:
    """A dlt source with one resource per planned table, reading inside ``session``'s snapshot."""
    import dlt

    enable_uuid_columns()

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def postgres() -> Any:
        resources = []
        for plan in plans:
            table_stats = stats.setdefault(plan.spec.name, TableStats(plan.spec.name))
            resources.append(
                dlt.resource(
                    _resource_rows(session, view, plan, options, table_stats, on_rows),
                    name=plan.spec.name,
                    **_hints(plan),
                )
            )
        return resources

    return postgres()


@dataclass
class PlannedExtract:
    """One dlt extract: the source and whether its tables are dropped and recreated first."""

    source: Any
    refresh: str | None
    tables: list[str] = field(default_factory=list)
