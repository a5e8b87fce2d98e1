"""The dlt source of the app's Cassandra tables (raw_cassandra).

Each table is a resource yielding Arrow tables (see ``reader``). Loading:

- No cursor yet, or ``full_refresh``: a full token-range scan, written with
  ``replace`` (the scan is a complete snapshot, so nothing is merged).
- Otherwise incremental: only rows with ``cursor > last_cursor - lag`` are read (filtered
  by the server in every token range, ``ALLOW FILTERING``), merged on the table's key
  (notification_states on (user_id, notification_id); messages and user_events on their
  full primary key, so rows re-read in the lag window are not duplicated).

The cursor lives in dlt's resource state, committed with the load: it is the greatest
cursor value read, but never later than the scan's start, because rows written while a
scan runs may land in ranges already read. The lag window then covers writes that
arrive late (clients' clock skew, in-flight writes).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any, Iterator, Sequence

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.resource import DltResource

from loaders.cassandra.connection import connected, table_metadata
from loaders.cassandra.reader import ReadOptions, read_table
from loaders.cassandra.scan import PageHook
from loaders.cassandra.tables import TABLE_SPECS, TABLES, TableSpec, check_columns, dlt_columns, spec_for
from loaders.errors import UserError
from loaders.load.uuid_columns import enable_uuid_columns
from loaders.settings import CassandraSettings, setting

__all__ = ["TABLES", "cassandra_source", "default_lag"]

LAG_ENV = "LOADERS_CURSOR_LAG_SECONDS"  # shared with the PostgreSQL loader
DEFAULT_LAG_SECONDS = 600


def default_lag() -> dt.timedelta:
    raw = setting(LAG_ENV, str(DEFAULT_LAG_SECONDS)) or str(DEFAULT_LAG_SECONDS)
    if not raw.strip().isdigit():
        raise UserError(f"{LAG_ENV}={raw!r} is not a whole number of seconds: set it to an integer or unset it")
    return dt.timedelta(seconds=int(raw))
STATE_CURSOR = "cursor"  # ISO-8601 UTC text of the resource's cursor

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
    return dt.datetime.now(dt.timezone.utc)


def parse_cursor(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def next_cursor(
    previous: dt.datetime | None, max_seen: dt.datetime | None, scan_started: dt.datetime
) -> dt.datetime | None:
    """The cursor after a scan: the greatest value read, capped at the scan's start, never moving back."""
    if max_seen is None:
        return previous
    candidate = min(max_seen, scan_started)
    return candidate if previous is None else max(previous, candidate)


def max_timestamp(table: pa.Table, column: str) -> dt.datetime | None:
    if table.num_rows == 0:
        return None
    value = pc.max(table[column]).as_py()
    return value


def table_rows(
    settings: CassandraSettings,
    spec: TableSpec,
    full_refresh: bool,
    lag: dt.timedelta,
    options: ReadOptions,
    add_row_ids: bool,
) -> Iterator[Any]:
    """The resource function of one table: Arrow tables, the first one carrying the run's disposition."""
    state = dlt.current.resource_state()
    previous = None if full_refresh else parse_cursor(state.get(STATE_CURSOR))
    since = previous - lag if previous is not None else None
    disposition: Any = "replace" if since is None else {"disposition": "merge", "strategy": "delete-insert"}
    started = utc_now()
    max_seen: dt.datetime | None = None
    first = True
    for table in read_table(settings, spec.name, since, options, add_row_ids=add_row_ids):
        seen = max_timestamp(table, spec.cursor)
        if seen is not None and (max_seen is None or seen > max_seen):
            max_seen = seen
        if first:
            first = False
            yield dlt.mark.with_hints(table, dlt.mark.make_hints(write_disposition=disposition))
        else:
            yield table
    cursor = next_cursor(previous, max_seen, started)
    if cursor is not None:
        state[STATE_CURSOR] = cursor.isoformat()


def check_source(settings: CassandraSettings, specs: Sequence[TableSpec]) -> dict[str, dict[str, dict[str, Any]]]:
    """Fail fast (UserError) on host, login, keyspace or table problems; the dlt column hints per table."""
    with connected(settings) as (cluster, _session):
        hints = {}
        for spec in specs:
            meta = table_metadata(cluster, settings, spec.name)
            check_columns(spec, meta, settings.keyspace)
            hints[spec.name] = dlt_columns(spec, meta)
        return hints


def use_system_memory_pool() -> None:
    """Arrow's default pool (jemalloc) keeps freed pages: the process would hold ~100 MB more."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


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
    lag: dt.timedelta | None = None,
    parallelism: int = 0,
    fetch_size: int = ReadOptions.fetch_size,
    batch_rows: int = ReadOptions.batch_rows,
    page_hook: PageHook | None = None,
) -> Iterator[DltResource]:
    """The app's Cassandra tables (all of TABLES by default) as dlt resources.

    Raises UserError right away when the hosts, the login, the keyspace or a table are wrong.
    ``lag``: the incremental window re-read before the cursor (default LOADERS_CURSOR_LAG_SECONDS,
    600 s). ``parallelism`` 0 means two range readers per core. ``page_hook`` is for tests
    (inject a failing page).
    """
    enable_uuid_columns()
    names = list(TABLES if tables is None else tables)
    if not names:
        raise UserError("no Cassandra table selected: name at least one of " + ", ".join(TABLES))
    specs = [spec_for(name) for name in names]
    hints = check_source(settings, specs)
    dlt_adds_row_ids = ensure_load_ids()
    use_system_memory_pool()
    lag = default_lag() if lag is None else lag
    options = ReadOptions(parallelism=parallelism, fetch_size=fetch_size, batch_rows=batch_rows, page_hook=page_hook)
    for spec in specs:
        columns = dict(hints[spec.name])
        if not dlt_adds_row_ids:
            columns["_dlt_id"] = {
                "name": "_dlt_id", "data_type": "text", "nullable": False, "unique": True, "row_key": True
            }
        yield dlt.resource(
            table_rows(settings, spec, full_refresh, lag, options, not dlt_adds_row_ids),
            name=spec.name,
            table_name=spec.name,
            write_disposition="replace" if full_refresh else {"disposition": "merge", "strategy": "delete-insert"},
            primary_key=list(spec.primary_key),
            columns=columns,
        )
