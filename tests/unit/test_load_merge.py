"""The merge of incremental packages into raw: within a small DuckDB memory limit, retried, upgraded.

The merge is dlt's (``MERGE_DISPOSITION``, delete-insert) on the loaders' own DuckDB connection
(``duckdb_config``), as ``loaders load`` runs it. Declared deduplicated, it inserts the staged
rows as they are: 600,000 changed rows (a third of them tombstones) merge in 48MB. Numbered by
key first (dlt's default), the same package ran out of 64MB here (it fits in 96MB), as 2 M
changed user_events ran out of the load's 128MB (loaders/table_stats.py).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import dlt
import duckdb
import pyarrow as pa
import pytest
from dlt.destinations import duckdb as duckdb_destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from loaders.duckdb_memory import memory_bytes
from loaders.load.config import DLT_DEFAULTS, duckdb_config
from loaders.load.errors import out_of_memory, user_error
from loaders.load.merge_memory import (
    BASE_BYTES,
    BYTES_PER_ROW,
    OutOfMemoryLogFilter,
    load_package,
    retry_limit,
)
from loaders.postgres.source import TablePlan, _hints
from loaders.postgres.tables import SPECS_BY_NAME
from loaders.progress import Progress
from loaders.table_stats import DELETED_AT_COLUMN, MERGE_DISPOSITION, TOMBSTONE_HINT

ROWS = 600_000
MEMORY_LIMIT = "48MB"
DELETED = datetime(2026, 11, 30, tzinfo=UTC)


def _events(version: str, deleted_every: int = 0) -> pa.Table:
    """ROWS user_events-like rows (a four-column key); every ``deleted_every``-th one a tombstone."""
    n = pa.array(range(ROWS), pa.int64())
    deleted = [DELETED if deleted_every and i % deleted_every == 0 else None for i in range(ROWS)]
    return pa.table(
        {
            "user_id": pa.array([f"u{i % 5_000:05d}" for i in range(ROWS)]),
            "day": pa.array([i % 300 for i in range(ROWS)], pa.int32()),
            "event_time": n,
            "event_id": pa.array([f"e{i:09d}" for i in range(ROWS)]),
            "event_type": pa.array([version] * ROWS),
            DELETED_AT_COLUMN: pa.array(deleted, pa.timestamp("us", tz="UTC")),
        }
    )


@pytest.fixture
def connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[duckdb.DuckDBPyConnection]:
    for key, value in DLT_DEFAULTS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOADERS_DUCKDB_MEMORY_LIMIT", MEMORY_LIMIT)
    conn = duckdb.connect(str(tmp_path / "w.duckdb"), config=duckdb_config())
    yield conn
    conn.close()


def _pipeline(tmp_path: Path, connection: duckdb.DuckDBPyConnection) -> Any:
    return dlt.pipeline(
        pipeline_name="merge_memory_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=duckdb_destination(credentials=DuckDbCredentials(connection)),
        dataset_name="raw_test",
    )


def _load(pipeline: Any, rows: pa.Table, disposition: Any) -> None:
    resource = dlt.resource(
        rows,
        name="user_events",
        write_disposition=disposition,
        primary_key=["user_id", "day", "event_time", "event_id"],
        columns={DELETED_AT_COLUMN: dict(TOMBSTONE_HINT)},  # type: ignore[dict-item]
    )
    pipeline.run(resource).raise_on_failed_jobs()


def test_a_package_changing_every_row_merges_in_48mb(tmp_path: Path, connection: Any) -> None:
    pipeline = _pipeline(tmp_path, connection)
    _load(pipeline, _events("v1"), "replace")
    _load(pipeline, _events("v2", deleted_every=3), MERGE_DISPOSITION)

    limit = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.endswith(" MiB") and float(limit.split()[0]) < 48, limit  # the test's limit held
    rows, keys, v2, dead = connection.execute(
        "SELECT count(*), count(DISTINCT (user_id, day, event_time, event_id)), "
        f"count(*) FILTER (event_type = 'v2'), count({DELETED_AT_COLUMN}) FROM raw_test.user_events"
    ).fetchone()
    assert (rows, keys, v2) == (ROWS, ROWS, ROWS)
    assert dead == len(range(0, ROWS, 3))


def test_a_merge_out_of_memory_names_the_table_and_the_limit_to_raise(
    tmp_path: Path, connection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = _pipeline(tmp_path, connection)
    _load(pipeline, _events("v1"), "replace")
    monkeypatch.setenv("LOADERS_DUCKDB_MEMORY_LIMIT", "8MB")  # as if the load had been opened with it
    connection.execute("SET memory_limit = '8MB'")
    with pytest.raises(Exception) as failed:
        _load(pipeline, _events("v2", deleted_every=3), MERGE_DISPOSITION)
    message = str(user_error(failed.value, "load", "raw_test", str(tmp_path / "w.duckdb")))
    assert message.startswith("raw_test.user_events: DuckDB ran out of its memory limit during load (")
    assert "LOADERS_DUCKDB_MEMORY_LIMIT (now 8MB; e.g. LOADERS_DUCKDB_MEMORY_LIMIT=16MB" in message
    assert "\n" not in message


def test_a_load_that_ran_out_of_memory_is_loaded_again_under_a_limit_sized_to_its_table(
    tmp_path: Path, connection: Any
) -> None:
    pipeline = _pipeline(tmp_path, connection)
    _load(pipeline, _events("v1"), "replace")
    connection.execute("SET memory_limit = '16MB'")  # the merge below runs out of it
    pipeline.extract(
        dlt.resource(
            _events("v2", deleted_every=3),
            name="user_events",
            write_disposition=MERGE_DISPOSITION,
            primary_key=["user_id", "day", "event_time", "event_id"],
            columns={DELETED_AT_COLUMN: dict(TOMBSTONE_HINT)},  # type: ignore[dict-item]
        )
    )
    pipeline.normalize()
    lines = io.StringIO()
    shown = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    load_package(pipeline, connection, Progress(stream=lines), configured="16MB")

    said, failed = lines.getvalue(), memory_bytes(shown)
    assert (
        f"raw_test.user_events: DuckDB ran out of its {failed / 2**20:.0f}MiB loading the package (600,000 rows in"
        in said
    )
    assert f"raw table); loading it again under {retry_limit(failed, ROWS) / 2**20:.0f}MiB" in said
    assert connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == shown  # restored
    assert not pipeline.list_normalized_load_packages()
    v2, dead = connection.execute(
        f"SELECT count(*) FILTER (event_type = 'v2'), count({DELETED_AT_COLUMN}) FROM raw_test.user_events"
    ).fetchone()
    assert (v2, dead) == (ROWS, len(range(0, ROWS, 3)))


def test_the_retry_limit_doubles_and_covers_the_table() -> None:
    assert retry_limit(128 * 2**20, 1_000_000) == 256 * 2**20
    assert retry_limit(128 * 2**20, 40_000_000) == BASE_BYTES + BYTES_PER_ROW * 40_000_000


def test_an_upgraded_warehouse_loses_the_dedup_sort_hint_that_dlt_would_warn_about(tmp_path: Path) -> None:
    """Loads before MERGE_DISPOSITION stored ``dedup_sort`` on the cursor of PostgreSQL's mutable
    tables; beside ``deduplicated`` dlt warns at every load that it ignores it: the hints clear it."""
    spec = SPECS_BY_NAME["payments"]
    pipeline = dlt.pipeline(
        pipeline_name="merge_upgrade_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=duckdb_destination(credentials=str(tmp_path / "w.duckdb")),
        dataset_name="raw_test",
    )
    row = {**dict.fromkeys(spec.primary_key, "p1"), spec.cursor: DELETED, DELETED_AT_COLUMN: None}
    old: Any = {"disposition": "merge", "strategy": "delete-insert"}
    pipeline.run(
        dlt.resource(
            [row],
            name="payments",
            write_disposition=old,
            primary_key=list(spec.primary_key),
            columns={spec.cursor: {"name": spec.cursor, "dedup_sort": "desc"}},
        )
    )
    assert pipeline.default_schema.tables["payments"]["columns"][spec.cursor].get("dedup_sort") == "desc"

    hints = _hints(TablePlan(spec=spec, table=cast(Any, None), full=False, reason="incremental"))
    assert hints["write_disposition"] == MERGE_DISPOSITION
    pipeline.run(dlt.resource([row], name="payments", **hints))

    stored = pipeline.default_schema.tables["payments"]
    assert stored.get("x-stage-data-deduplicated") is True
    assert not stored["columns"][spec.cursor].get("dedup_sort")


def test_a_commit_that_could_not_get_memory_is_an_out_of_memory_and_dlt_s_tracebacks_of_it_are_dropped() -> (
    None
):
    # DuckDB reports a commit that ran out of memory as a TransactionException, not an OutOfMemoryException
    commit = duckdb.TransactionException(
        "TransactionContext Error: Failed to commit: failed to pin block of size 1.0 MiB (243.6 MiB/244.0 MiB used)"
    )
    wrapped = RuntimeError("Job with `job_id=outings.d158f8e62b.parquet` had 5 retries")
    wrapped.__cause__ = commit
    assert out_of_memory(wrapped) is commit
    message = str(user_error(wrapped, "load", "raw_postgres", "/w.duckdb"))
    assert message.startswith(
        "raw_postgres.outings: DuckDB ran out of its memory limit during load (243.6 MiB/"
    )

    def record(msg: str, error: BaseException | None) -> logging.LogRecord:
        exc_info = (type(error), error, None) if error else None
        return logging.LogRecord("dlt", logging.ERROR, "load.py", 1, msg, None, exc_info)

    quiet = OutOfMemoryLogFilter()
    assert not quiet.filter(record("Transient exception in job outings.d158f8e62b.parquet", wrapped))
    assert not quiet.filter(record("Package 1.2 was not fully loaded. Load job pool is drained", None))
    assert quiet.filter(
        record("Transient exception in job outings.d158f8e62b.parquet", ValueError("bad cast"))
    )


def test_an_out_of_memory_while_a_resource_is_extracted_names_its_table() -> None:
    from dlt.extract.exceptions import ResourceExtractionError

    duckdb_said = duckdb.OutOfMemoryException(
        "Out of Memory Error: could not allocate block of size 256.0 KiB (121.9 MiB/122.0 MiB used)"
    )
    extract = ResourceExtractionError("user_events", iter(()), str(duckdb_said), "generator")
    extract.__cause__ = duckdb_said
    step = RuntimeError("Pipeline execution failed at `step=extract`")  # as dlt wraps the resource's error
    step.__cause__ = extract
    message = str(user_error(step, "extract", "raw_cassandra", "/w.duckdb"))
    assert message.startswith(
        "raw_cassandra.user_events: DuckDB ran out of its memory limit during extract (121.9 MiB/122.0 MiB used)"
    )
