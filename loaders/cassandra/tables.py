"""The Cassandra tables the loaders read, and how each is loaded: derived from the registry.

The tables, columns, keys and change capture are those of ``contracts/source_tables.yml``
(``loaders.source_tables``), which follows ``../shared/spec/sources.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cassandra.metadata import TableMetadata

from loaders.cassandra import change_capture as cc
from loaders.errors import UserError
from loaders.source_tables import SourceTable, registry
from loaders.uuid_columns import uuid_column_type


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]  # selected, in this order
    partition_key: tuple[str, ...]
    primary_key: tuple[str, ...]  # partition key + clustering columns: the merge key
    app_time: str  # when the app says the row happened (a timestamp): late rows are stamped before the cursor
    window_column: str  # the late-arrival window's server-side filter (>=): a day partition or app_time
    writetime_columns: tuple[
        str, ...
    ]  # regular non-collection columns: their greatest WRITETIME is the row's
    json_columns: tuple[str, ...] = ()  # collections, landed as one JSON column each
    detect_deletes: bool = True  # sweeps turn keys gone from the source into tombstones

    def window_bound(self, window_from: dt.datetime) -> Any:
        """The late-arrival window's server-side bound from ``window_from``: a date for ``day``."""
        return cc.window_value(window_from, "date" if self.window_column == "day" else "timestamp")


def spec_from_registry(table: SourceTable) -> TableSpec:
    """The loader's view of a registry table: what it selects, its keys, windows and WRITETIMEs."""
    window = table.change_capture.window
    if window is None:  # the registry requires it of Cassandra tables
        raise UserError(f"contracts/source_tables.yml: {table.name} has no change_capture.window: add one")
    regular = [column for column in table.columns if column.name not in table.primary_key]
    return TableSpec(
        name=table.name,
        columns=table.column_names,
        partition_key=table.partition_key,
        primary_key=table.primary_key,
        app_time=table.change_capture.clock,
        window_column=window,
        # WRITETIME of a collection is per element: not used
        writetime_columns=tuple(column.name for column in regular if not column.is_collection),
        json_columns=tuple(column.name for column in table.columns if column.is_collection),
        detect_deletes=table.delete_capture == "sweep",
    )


TABLE_SPECS: dict[str, TableSpec] = {
    table.name: spec_from_registry(table) for table in registry().of_store("cassandra")
}

TABLES: tuple[str, ...] = tuple(TABLE_SPECS)

# dlt column types per CQL type name (collections are JSON)
_DLT_TYPES = {
    "uuid": "text",
    "timeuuid": "text",
    "text": "text",
    "varchar": "text",
    "ascii": "text",
    "timestamp": "timestamp",
    "date": "date",
    "bigint": "bigint",
    "counter": "bigint",
    "int": "bigint",
    "double": "double",
    "boolean": "bool",
}


def spec_for(table: str) -> TableSpec:
    try:
        return TABLE_SPECS[table]
    except KeyError:
        raise UserError(f"unknown Cassandra table {table!r}: use one of {', '.join(TABLES)}") from None


def check_columns(spec: TableSpec, meta: TableMetadata, keyspace: str) -> None:
    """UserError when the live table lacks a column or has another key than the contract."""
    missing = [c for c in spec.columns if c not in meta.columns]
    if missing:
        raise UserError(
            f"Cassandra table {keyspace}.{spec.name} lacks column(s) {', '.join(missing)}: "
            "apply contracts/cassandra.cql (`datagen` does) or fix CASSANDRA_KEYSPACE"
        )
    live_partition_key = tuple(c.name for c in meta.partition_key)
    if live_partition_key != spec.partition_key:
        raise UserError(
            f"Cassandra table {keyspace}.{spec.name} has partition key ({', '.join(live_partition_key)}), "
            f"expected ({', '.join(spec.partition_key)}): apply contracts/cassandra.cql"
        )


def dlt_columns(spec: TableSpec, meta: TableMetadata) -> dict[str, dict[str, Any]]:
    """dlt column hints: types from the live CQL types, keys not null, collections as JSON."""
    columns: dict[str, dict[str, Any]] = {}
    for name in spec.columns:
        cql = meta.columns[name].cql_type
        base = cql.split("<", 1)[0].strip().lower().removeprefix("frozen")
        if name in spec.json_columns or base in ("map", "set", "list"):
            data_type = "json"
        else:
            data_type = _DLT_TYPES.get(base, "text")
        hint: dict[str, Any] = {
            "name": name,
            "data_type": data_type,
            "nullable": name not in spec.primary_key,
        }
        if base in ("uuid", "timeuuid"):
            hint.update(uuid_column_type())  # DuckDB UUID, 16 bytes
        if data_type == "timestamp":
            hint["timezone"] = True
        columns[name] = hint
    return columns
