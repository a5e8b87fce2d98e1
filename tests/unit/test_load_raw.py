"""The raw view of a pipeline (loaders.load.raw) and the shared raw SQL (loaders.raw_sql), on a real DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from dlt.destinations import duckdb as duckdb_destination

from loaders.load.raw import PipelineRaw
from loaders.raw_sql import has_column, live_condition, live_rows_condition
from loaders.table_stats import DELETED_AT_COLUMN

DELETED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Any]:
    """A pipeline whose raw schema holds ``with_tombstones`` (2 live rows, 1 tombstone) and ``plain`` (3 rows)."""
    pipe = dlt.pipeline(
        pipeline_name="raw_view_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=duckdb_destination(credentials=str(tmp_path / "w.duckdb")),
        dataset_name="raw_test",
    )

    @dlt.source(name="test", max_table_nesting=0)
    def source() -> Any:
        yield dlt.resource(
            [
                {"id": 1, DELETED_AT_COLUMN: None},
                {"id": 2, DELETED_AT_COLUMN: None},
                {"id": 3, DELETED_AT_COLUMN: DELETED},
            ],
            name="with_tombstones",
            columns={DELETED_AT_COLUMN: {"data_type": "timestamp", "nullable": True}},
        )
        yield dlt.resource([{"id": 1}, {"id": 2}, {"id": 3}], name="plain")

    pipe.run(source())
    yield pipe


def test_count_rows_leaves_tombstones_out_and_says_none_for_a_missing_table(pipeline: Any) -> None:
    with PipelineRaw(pipeline, "test") as raw:
        assert {"with_tombstones", "plain"} <= raw.raw_tables()
        assert raw.has_column("with_tombstones", DELETED_AT_COLUMN)
        assert not raw.has_column("plain", DELETED_AT_COLUMN)
        assert raw.count_rows(["with_tombstones", "plain", "absent"]) == {
            "with_tombstones": 2,
            "plain": 3,
            "absent": None,
        }
        assert "id" in raw.known_columns("plain") and raw.known_columns("absent") == {}


def test_a_view_reads_raw_once_and_a_new_view_sees_changes(pipeline: Any) -> None:
    with PipelineRaw(pipeline, "test") as raw:
        assert "added" not in raw.raw_tables()
        raw.connection().execute("CREATE TABLE raw_test.added (id INTEGER)")
        assert "added" not in raw.raw_tables()  # read at first use: the phase's view of raw
    with PipelineRaw(pipeline, "test") as raw:
        assert "added" in raw.raw_tables() and raw.count_rows(["added"]) == {"added": 0}


def test_live_condition_with_and_without_the_tombstone_column() -> None:
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE t (id INTEGER, {DELETED_AT_COLUMN} TIMESTAMPTZ)")
    conn.execute("CREATE TABLE old (id INTEGER)")
    conn.execute("INSERT INTO t VALUES (1, NULL), (2, now()), (3, NULL)")
    conn.execute("INSERT INTO old VALUES (1), (2)")
    assert has_column(conn, "main", "t", DELETED_AT_COLUMN) and not has_column(
        conn, "main", "old", DELETED_AT_COLUMN
    )
    assert live_condition(False) == "TRUE"
    for table, live in (("t", 2), ("old", 2)):
        where = live_rows_condition(conn, "main", table, alias="r")
        assert conn.execute(f"SELECT count(*) FROM {table} r WHERE {where}").fetchone() == (live,)
