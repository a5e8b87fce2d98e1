"""The reconciliation's verdicts and lines, and the quarantine of rejected rows (pure, DuckDB in memory)."""

from __future__ import annotations

import duckdb

from loaders.load.reconciliation import MISMATCH, NOT_COUNTED, OK, TableCheck, failure, load_checks
from loaders.load.results import TableResult
from loaders.load.runner import quarantine
from loaders.ops.current_run import set_current_run_id
from loaders.table_stats import RejectedRow


def test_equal_counts_match_and_uncounted_tables_are_said_so() -> None:
    assert TableCheck("postgres", "users", 10, 10).status == OK
    assert TableCheck("postgres", "users", None, 10).status == NOT_COUNTED
    assert TableCheck("postgres", "users", 10, 10, staging_rows=10).status == OK


def test_in_flight_rows_explain_a_difference_and_nothing_else_does() -> None:
    assert TableCheck("cassandra", "messages", 100, 103, in_flight_rows=3).status == OK
    assert TableCheck("cassandra", "messages", 100, 104, in_flight_rows=3).status == MISMATCH
    assert TableCheck("postgres", "payments", 100, 99).status == MISMATCH
    assert TableCheck("postgres", "payments", 100, 100, lost_rows=1).status == MISMATCH


def test_staging_must_equal_raw_whatever_the_source_count() -> None:
    check = TableCheck("postgres", "payments", None, 100, staging_rows=99)
    assert check.status == MISMATCH
    assert "staging 99" in check.line() and "--full-refresh" in check.line()


def test_failure_names_each_bad_table_with_its_counts_and_fix_in_one_line() -> None:
    checks = load_checks(
        [
            TableResult("postgres", "users", "incremental", 0, 9, 0.1, source_rows=10),
            TableResult("postgres", "groups", "incremental", 0, 5, 0.1, source_rows=5),
            TableResult("postgres", "payments", "failed"),
        ]
    )
    assert [c.table for c in checks] == ["users", "groups"]  # a failed table has its own error
    error = failure(checks)
    assert error is not None
    text = str(error)
    assert "\n" not in text
    assert "postgres.users does not match its source (source 10, raw 9)" in text
    assert "--tables users" in text and "groups" not in text
    assert failure(checks[1:]) is None


def test_rejected_rows_are_quarantined_with_key_column_and_reason() -> None:
    conn = duckdb.connect()
    set_current_run_id("run-1")
    try:
        quarantine(conn, "cassandra", [RejectedRow("messages", '{"group_id": "g"}', "body", "invalid UTF-8")])
        quarantine(conn, "cassandra", [RejectedRow("messages", '{"group_id": "h"}', "body", "invalid UTF-8")])
    finally:
        set_current_run_id(None)
    rows = conn.execute(
        "SELECT run_id, source, table_name, row_key, column_name, reason FROM ops.rejected_rows ORDER BY row_key"
    ).fetchall()
    assert rows == [
        ("run-1", "cassandra", "messages", '{"group_id": "g"}', "body", "invalid UTF-8"),
        ("run-1", "cassandra", "messages", '{"group_id": "h"}', "body", "invalid UTF-8"),
    ]


def test_the_jobs_verdict_line_counts_matches_and_names_uncounted_tables() -> None:
    from loaders.job.reconcile_step import summary_line

    checks = [
        TableCheck("postgres", "users", 10, 10, staging_rows=10),
        TableCheck("cassandra", "messages", None, 5, staging_rows=5),
        TableCheck("postgres", "payments", 10, 10, staging_rows=9),
    ]
    assert summary_line(checks) == (
        "reconciliation: 1 of 3 tables match source = raw = staging (source not counted this run: cassandra.messages)"
    )
