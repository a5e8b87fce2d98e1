"""SQL on the raw tables shared by the load runner and both sources: quoting, live rows, column checks.

A raw row is **live** unless it is a tombstone (``_loader_deleted_at`` set: its key was
deleted in the source). A raw table written before tombstones existed has no such column:
all its rows are live. ``live_condition`` is the one place that says so.
"""

from __future__ import annotations

import duckdb

from loaders.table_stats import DELETED_AT_COLUMN


def quote(name: str) -> str:
    """An identifier, double-quoted (a double quote in it doubled): DuckDB, PostgreSQL and CQL alike."""
    return '"' + name.replace('"', '""') + '"'


def count_of(conn: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """The integer a ``SELECT count(*) …`` returns (0 if it returns no row)."""
    row = conn.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def has_column(conn: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    """Does ``schema.table`` of the connection's current database have ``column``?"""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "AND column_name = ? AND table_catalog = current_database()",
        [schema, table, column],
    ).fetchone()
    return bool(row and row[0])


def live_condition(has_tombstones: bool, alias: str = "") -> str:
    """The SQL condition true for the live rows of a raw table (``alias``: the table's alias in the query)."""
    if not has_tombstones:
        return "TRUE"
    return f"{alias + '.' if alias else ''}{quote(DELETED_AT_COLUMN)} IS NULL"


def live_rows_condition(conn: duckdb.DuckDBPyConnection, schema: str, table: str, alias: str = "") -> str:
    """``live_condition`` for ``schema.table`` as it is in the warehouse (with or without the tombstone column)."""
    return live_condition(has_column(conn, schema, table, DELETED_AT_COLUMN), alias)
