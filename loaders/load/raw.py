"""What the loads need to know about a raw schema, read through the dlt pipeline.

Queries go through ``pipeline.sql_client()`` so that they share dlt's DuckDB
configuration (DuckDB refuses a second connection to one file with another).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loaders.raw_sql import has_column, live_rows_condition, quote

__all__ = ["PipelineRaw", "quote"]


class PipelineRaw:
    """The raw schema (dataset) of one dlt pipeline, plus its schema and state."""

    def __init__(self, pipeline: Any, source_name: str) -> None:
        self.pipeline = pipeline
        self.source_name = source_name
        self._client: Any = None

    @property
    def dataset(self) -> str:
        return str(self.pipeline.dataset_name)

    def connection(self) -> Any:
        """The warehouse's DuckDB connection (dlt's), for queries beside raw."""
        return self._connection()

    def _connection(self) -> Any:
        if self._client is None:
            client = self.pipeline.sql_client()
            client.open_connection()
            self._client = client
        return self._client.native_connection

    def close(self) -> None:
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
    def raw_tables(self) -> set[str]:
        rows = (
            self._connection()
            .execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_catalog = current_database()",
                [self.dataset],
            )
            .fetchall()
        )
        return {r[0] for r in rows}

    def has_column(self, table: str, column: str) -> bool:
        return has_column(self._connection(), self.dataset, table, column)

    def live(self, table: str, alias: str = "") -> str:
        """The SQL condition of ``table``'s live rows (tombstones left out)."""
        return live_rows_condition(self._connection(), self.dataset, table, alias)

    def count_rows(self, tables: list[str]) -> dict[str, int | None]:
        """Live rows per raw table (tombstones of deleted keys not counted); None: no such table."""
        existing = self.raw_tables()
        counts: dict[str, int | None] = {}
        conn = self._connection()
        for table in tables:
            if table not in existing:
                counts[table] = None
                continue
            sql = f"SELECT count(*) FROM {quote(self.dataset)}.{quote(table)} WHERE {self.live(table)}"
            counts[table] = int(conn.execute(sql).fetchone()[0])
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
        row = self._connection().execute(f"SELECT count(*) - count(DISTINCT ({cols})) FROM {q}").fetchone()
        return int(row[0])

    def remove_duplicate_keys(self, table: str, key: list[str]) -> int:
        """Keep one row per key (the latest load's); returns how many rows were removed."""
        cols = ", ".join(quote(c) for c in key)
        q = f"{quote(self.dataset)}.{quote(table)}"
        conn = self._connection()
        before = int(conn.execute(f"SELECT count(*) FROM {q}").fetchone()[0])
        conn.execute(
            f"DELETE FROM {q} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER "
            f"(PARTITION BY {cols} ORDER BY _dlt_load_id DESC) AS rn FROM {q}) WHERE rn > 1)"
        )
        after = int(conn.execute(f"SELECT count(*) FROM {q}").fetchone()[0])
        return before - after

    # -- dlt's view ---------------------------------------------------------------------
    def known_columns(self, table: str) -> dict[str, dict[str, Any]]:
        schema = (
            self.pipeline.schemas.get(self.source_name) if self.source_name in self.pipeline.schemas else None
        )
        if schema is None or table not in schema.tables:
            return {}
        return dict(schema.get_table_columns(table))

    def primary_key(self, table: str) -> list[str]:
        return [name for name, col in self.known_columns(table).items() if col.get("primary_key")]

    def resource_state(self, table: str) -> dict[str, Any]:
        sources = self.pipeline.state.get("sources", {})
        return dict(sources.get(self.source_name, {}).get("resources", {}).get(table, {}))
