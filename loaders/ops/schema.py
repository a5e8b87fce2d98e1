"""The ``ops`` schema of the build warehouse: its tables, created if missing, never rebuilt.

Every ``loaders run`` appends to these tables (the run's own rows only) and the retention
setting LOADERS_OPS_RETENTION_DAYS (default 90) deletes runs older than that, with their
rows in every other ``ops`` table. The publish step copies the schema to the readers'
warehouse with gold.
"""

from __future__ import annotations

import duckdb

from loaders.settings import setting

SCHEMA = "ops"
RETENTION_ENV = "LOADERS_OPS_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90

# table -> column definitions; new columns are only ever added at the end
TABLES: dict[str, str] = {
    "runs": """
        run_id VARCHAR, started TIMESTAMPTZ, ended TIMESTAMPTZ,
        status VARCHAR,                      -- running | ok | failed | killed
        phase_seconds MAP(VARCHAR, DOUBLE),  -- load, build, freshness, docs, publish, report ...
        full_refresh BOOLEAN,
        product_version VARCHAR, dbt_version VARCHAR, dlt_version VARCHAR, duckdb_version VARCHAR,
        error VARCHAR,                       -- the one-line error of a failed run
        pid INTEGER, host VARCHAR,
        phase_peak_rss_mb MAP(VARCHAR, DOUBLE)  -- load: its process; others: the job's (loaders/job/peak_memory.py)
    """,
    "table_loads": """
        run_id VARCHAR, loaded_at TIMESTAMPTZ, source VARCHAR, table_name VARCHAR, mode VARCHAR,
        rows_extracted BIGINT, rows_in_raw BIGINT, source_rows BIGINT, in_flight_rows BIGINT,
        deleted_rows BIGINT, rejected_rows BIGINT, late_rows BIGINT, future_rows BIGINT,
        bytes_extracted BIGINT, seconds DOUBLE, cursor_before VARCHAR, cursor_after VARCHAR
    """,
    "dbt_results": """
        run_id VARCHAR, command VARCHAR, unique_id VARCHAR, node VARCHAR,
        kind VARCHAR,                        -- model | test | seed | unit_test | snapshot
        status VARCHAR,                      -- success | pass | warn | fail | error | skipped
        seconds DOUBLE, rows_affected BIGINT, failures BIGINT, message VARCHAR
    """,
    "freshness": """
        run_id VARCHAR, checked_at TIMESTAMPTZ, source VARCHAR, table_name VARCHAR,
        measure VARCHAR,                     -- event_time (dbt source freshness) | load_time
        newest TIMESTAMPTZ,                  -- newest event time / last successful load
        lag_seconds DOUBLE, warn_after_seconds DOUBLE, error_after_seconds DOUBLE,
        status VARCHAR,                      -- pass | warn | error
        message VARCHAR
    """,
    "anomalies": """
        run_id VARCHAR, detected_at TIMESTAMPTZ, source VARCHAR, table_name VARCHAR,
        kind VARCHAR,                        -- volume_zero | volume_drop | volume_spike | freshness_lag
        severity VARCHAR,                    -- warn | error (LOADERS_ANOMALY_FAIL=true)
        mode VARCHAR, observed DOUBLE, baseline_median DOUBLE, baseline_mad DOUBLE,
        baseline_size INTEGER, lower_bound DOUBLE, upper_bound DOUBLE, message VARCHAR
    """,
    # written by the loads: source rows that could not be loaded (a bad cell), with their key
    "rejected_rows": """
        run_id VARCHAR, rejected_at TIMESTAMPTZ, source VARCHAR, table_name VARCHAR,
        row_key VARCHAR,                     -- the row's primary key as JSON
        column_name VARCHAR, reason VARCHAR
    """,
    # written by the reconciliation (issue 13); created here with its layout so readers work
    "reconciliation": """
        run_id VARCHAR, checked_at TIMESTAMPTZ, source VARCHAR, table_name VARCHAR,
        source_rows BIGINT, raw_rows BIGINT, staging_rows BIGINT, in_flight_rows BIGINT,
        difference BIGINT, status VARCHAR    -- ok | mismatch | not_counted
    """,
}


def retention_days() -> int:
    text = setting(RETENTION_ENV, str(DEFAULT_RETENTION_DAYS)) or str(DEFAULT_RETENTION_DAYS)
    try:
        days = int(text)
    except ValueError:
        from loaders.errors import UserError

        raise UserError(
            f"{RETENTION_ENV}={text!r} is not a whole number of days: use e.g. {RETENTION_ENV}=90"
        ) from None
    return max(1, days)


# columns added to a table after its first release: a warehouse made before gets them, at the end
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("phase_peak_rss_mb MAP(VARCHAR, DOUBLE)",),
}


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the ``ops`` schema and any missing table; add the columns an older warehouse lacks."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    for name, columns in TABLES.items():
        conn.execute(f"create table if not exists {SCHEMA}.{name} ({columns})")
        for column in ADDED_COLUMNS.get(name, ()):
            conn.execute(f"alter table {SCHEMA}.{name} add column if not exists {column}")


def apply_retention(conn: duckdb.DuckDBPyConnection, days: int) -> int:
    """Delete the runs started more than ``days`` ago and their rows in the other tables."""
    old = [
        row[0]
        for row in conn.execute(
            f"select run_id from {SCHEMA}.runs where started < now() - to_days(cast(? as integer))", [days]
        ).fetchall()
    ]
    if not old:
        return 0
    present = {
        row[0]
        for row in conn.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        ).fetchall()
    }
    for table in present:
        columns = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [SCHEMA, table],
            ).fetchall()
        }
        if "run_id" in columns:
            conn.execute(f"delete from {SCHEMA}.{table} where list_contains(?, run_id)", [old])
    return len(old)
