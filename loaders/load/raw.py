"""What the loads need to know about a raw schema, read through the dlt pipeline.

Queries go through a cursor of the run's own warehouse connection (the one dlt borrows,
``loaders.load.runner.open_warehouse``) when the caller passes it, else through
``pipeline.sql_client()`` so that they share dlt's DuckDB configuration (DuckDB refuses a
second connection to one file with another). The cursor saves dlt's destination client set-up
(configuration, schema) at every view: 0.1-0.4 s a run.

A ``PipelineRaw`` is a view for one phase of a run: the raw tables and their columns are
read once (one catalog query for every table), dlt's schema and state once, at first use;
the phase that changes them (the load) comes after the views that read them are closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from loaders.raw_sql import count_of, live_condition, quote
from loaders.table_stats import DELETED_AT_COLUMN

if TYPE_CHECKING:
    import duckdb
    from dlt import Pipeline, Schema
    from dlt.destinations.sql_client import SqlClientBase

__all__ = ["PipelineRaw", "quote"]


class PipelineRaw:
    """The raw schema (dataset) of one dlt pipeline, plus its schema and state."""

    def __init__(
        self, pipeline: Pipeline, source_name: str, warehouse: duckdb.DuckDBPyConnection | None = None
    ) -> None:
        self.pipeline = pipeline
        self.source_name = source_name
        self._warehouse = warehouse  # the run's connection: queries go through a cursor of it
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._client: SqlClientBase[duckdb.DuckDBPyConnection] | None = None
        self._raw_columns: dict[str, set[str]] | None = None
        self._schema: Schema | None = None
        self._schema_read = False
        self._resources: dict[str, dict[str, Any]] | None = None  # dlt's resource state (JSON)

    @property
    def dataset(self) -> str:
        return str(self.pipeline.dataset_name)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The warehouse's DuckDB connection (dlt's), for queries beside raw."""
        return self._connection()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._warehouse is not None:
            if self._cursor is None:
                self._cursor = self._warehouse.cursor()
            return self._cursor
        if self._client is None:
            client = self.pipeline.sql_client()
            client.open_connection()
            self._client = client
        return self._client.native_connection

    def close(self) -> None:
        if self._cursor is not None:
            try:
                self._cursor.close()
            finally:
                self._cursor = None
        if self._client is not None:
            try:
                self._client.close_connection()
            finally:
                self._client = None

    def __enter__(self) -> PipelineRaw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the warehouse ------------------------------------------------------------------
    def _columns(self) -> dict[str, set[str]]:
        """Every raw table of the dataset and its columns: one query, at first use."""
        if self._raw_columns is None:
            rows = (
                self._connection()
                .execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_catalog = current_database()",
                    [self.dataset],
                )
                .fetchall()
            )
            columns: dict[str, set[str]] = {}
            for table, column in rows:
                columns.setdefault(table, set()).add(column)
            self._raw_columns = columns
        return self._raw_columns

    def raw_tables(self) -> set[str]:
        return set(self._columns())

    def has_column(self, table: str, column: str) -> bool:
        return column in self._columns().get(table, set())

    def live(self, table: str, alias: str = "") -> str:
        """The SQL condition of ``table``'s live rows (tombstones left out)."""
        return live_condition(self.has_column(table, DELETED_AT_COLUMN), alias)

    def count_rows(self, tables: list[str]) -> dict[str, int | None]:
        """Live rows per raw table (tombstones of deleted keys not counted), in one query; None: no such table."""
        existing = [t for t in tables if t in self._columns()]
        counts: dict[str, int | None] = dict.fromkeys(tables)
        if existing:
            sql = " UNION ALL ".join(
                f"SELECT {i} AS n, count(*) FROM {quote(self.dataset)}.{quote(t)} WHERE {self.live(t)}"
                for i, t in enumerate(existing)
            )
            for i, count in self._connection().execute(sql).fetchall():
                counts[existing[i]] = int(count)
        return counts

    def missing_rows(self, table: str, keys: pa.Table, match: list[str], prune: str) -> pa.Array:
        """Row indexes of ``keys`` (columns ``match`` + ``__row``) with no raw row equal on all of ``match``."""
        conn = self._connection()
        low = pc.min(keys.column(prune)).as_py()
        high = pc.max(keys.column(prune)).as_py()
        on = " AND ".join(f"r.{quote(c)} = k.{quote(c)}" for c in match)
        sql = (
            f"SELECT k.__row FROM __loader_keys k WHERE NOT EXISTS (SELECT 1 FROM {quote(self.dataset)}.{quote(table)} r "
            f"WHERE {on} AND r.{quote(prune)} BETWEEN ? AND ?) ORDER BY k.__row"
        )
        conn.register("__loader_keys", keys)
        try:
            result = conn.execute(sql, [low, high]).fetch_arrow_table()
        finally:
            conn.unregister("__loader_keys")
        return result.column(0).combine_chunks() if result.num_rows else pa.array([], type=pa.int64())

    def different_rows(self, table: str, rows: pa.Table, key: list[str], columns: list[str]) -> pa.Array:
        """Row indexes (column ``__row``) of ``rows`` that raw lacks as a live row or holds with another value."""
        conn = self._connection()
        on = " AND ".join(f"r.{quote(c)} = k.{quote(c)}" for c in key) + " AND " + self.live(table, "r")
        differs = " OR ".join(f"k.{quote(c)} IS DISTINCT FROM r.{quote(c)}" for c in columns if c not in key)
        sql = (
            f"SELECT k.__row FROM __loader_rows k LEFT JOIN {quote(self.dataset)}.{quote(table)} r ON {on} "
            f"WHERE r.{quote(key[0])} IS NULL" + (f" OR {differs}" if differs else "") + " ORDER BY k.__row"
        )
        conn.register("__loader_rows", rows)
        try:
            result = conn.execute(sql).fetch_arrow_table()
        finally:
            conn.unregister("__loader_rows")
        return result.column(0).combine_chunks() if result.num_rows else pa.array([], type=pa.int64())

    def duplicate_keys(self, table: str, key: list[str]) -> int:
        """How many rows of a raw table repeat a key (0 unless a load job ran twice)."""
        cols = ", ".join(quote(c) for c in key)
        q = f"{quote(self.dataset)}.{quote(table)}"
        return count_of(self._connection(), f"SELECT count(*) - count(DISTINCT ({cols})) FROM {q}")

    def remove_duplicate_keys(self, table: str, key: list[str]) -> int:
        """Keep one row per key (the latest load's); returns how many rows were removed."""
        cols = ", ".join(quote(c) for c in key)
        q = f"{quote(self.dataset)}.{quote(table)}"
        conn = self._connection()
        before = count_of(conn, f"SELECT count(*) FROM {q}")
        conn.execute(
            f"DELETE FROM {q} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER "
            f"(PARTITION BY {cols} ORDER BY _dlt_load_id DESC) AS rn FROM {q}) WHERE rn > 1)"
        )
        after = count_of(conn, f"SELECT count(*) FROM {q}")
        return before - after

    # -- dlt's view ---------------------------------------------------------------------
    def _dlt_schema(self) -> Schema | None:
        if not self._schema_read:
            schemas = self.pipeline.schemas
            # SchemaStorage.get loads the schema file: asked only for a schema it holds
            self._schema = schemas.get(self.source_name) if self.source_name in schemas else None
            self._schema_read = True
        return self._schema

    def known_columns(self, table: str) -> dict[str, dict[str, Any]]:
        schema = self._dlt_schema()
        if schema is None or table not in schema.tables:
            return {}
        # dlt's TColumnSchema, as the plain mapping RawView.known_columns promises (the sources read it so)
        return cast(dict[str, dict[str, Any]], dict(schema.get_table_columns(table)))

    def primary_key(self, table: str) -> list[str]:
        return [name for name, col in self.known_columns(table).items() if col.get("primary_key")]

    def resource_state(self, table: str) -> dict[str, Any]:
        """The table's dlt resource state as the run found it (a copy: the extract writes its own)."""
        if self._resources is None:
            sources = self.pipeline.state.get("sources", {})
            self._resources = dict(sources.get(self.source_name, {}).get("resources", {}))
        return dict(self._resources.get(table, {}))
