"""The job's reconciliation gate: after the build, before the publish.

Per table of every source: the source's row count taken by the load (in its snapshot),
raw's live rows of committed loads, and the rows of the table's staging model. The
checks go to ``ops.reconciliation`` (one row per run and table) and into the job's
output; a difference nothing explains fails the publish (readers keep the last good
warehouse) with one line per table naming the counts and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from loaders.load.reconciliation import TableCheck, load_checks, tally, with_staging
from loaders.load.results import SourceResult
from loaders.load.sources import SOURCES
from loaders.ops.current_run import current_run_id
from loaders.ops.schema import SCHEMA, ensure_schema
from loaders.raw_sql import count_of, live_rows_condition, quote

STAGING_SCHEMA = "staging"


def staging_model(source: str, table: str) -> str:
    return f"stg_{source}__{table}"


def _relations(conn: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (r[0], r[1])
        for r in conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    }


def _raw_live_rows(conn: duckdb.DuckDBPyConnection, dataset: str, table: str) -> int:
    """Live rows of committed loads: what staging reads."""
    live = live_rows_condition(conn, dataset, table)
    sql = (
        f"SELECT count(*) FROM {quote(dataset)}.{quote(table)} WHERE {live} AND _dlt_load_id IN "
        f"(SELECT load_id FROM {quote(dataset)}._dlt_loads WHERE status = 0)"
    )
    return count_of(conn, sql)


def _checks_without_load() -> list[TableCheck]:
    return [TableCheck(kind.key, table, None, None) for kind in SOURCES.values() for table in kind.tables]


def reconcile_warehouse(warehouse: Path, loads: Sequence[SourceResult] | None) -> list[TableCheck]:
    """The checks of every table, written to ``ops.reconciliation``."""
    checks = load_checks(t for r in loads for t in r.tables) if loads else _checks_without_load()
    datasets = {kind.key: kind.dataset_name for kind in SOURCES.values()}
    with duckdb.connect(str(warehouse)) as conn:
        relations = _relations(conn)
        raw: dict[tuple[str, str], int | None] = {}
        staging: dict[tuple[str, str], int | None] = {}
        for check in checks:
            dataset = datasets[check.source]
            key = (check.source, check.table)
            has_loads = (dataset, "_dlt_loads") in relations
            raw[key] = (
                _raw_live_rows(conn, dataset, check.table)
                if has_loads and (dataset, check.table) in relations
                else None
            )
            model = staging_model(check.source, check.table)
            staging[key] = (
                count_of(conn, f"SELECT count(*) FROM {STAGING_SCHEMA}.{quote(model)}")
                if (STAGING_SCHEMA, model) in relations
                else None
            )
        checks = [
            TableCheck(
                c.source,
                c.table,
                c.source_rows,
                raw[(c.source, c.table)],
                None,
                c.in_flight_rows,
                c.lost_rows,
            )
            for c in checks
        ]
        checks = with_staging(checks, staging)
        ensure_schema(conn)
        now = datetime.now(UTC)
        conn.executemany(
            f"INSERT INTO {SCHEMA}.reconciliation (run_id, checked_at, source, table_name, source_rows, raw_rows, "
            "staging_rows, in_flight_rows, difference, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    current_run_id(),
                    now,
                    c.source,
                    c.table,
                    c.source_rows,
                    c.raw_rows,
                    c.staging_rows,
                    c.in_flight_rows,
                    c.difference,
                    c.status,
                ]
                for c in checks
            ],
        )
    return checks


def summary_line(checks: Sequence[TableCheck]) -> str:
    counts = tally(checks)
    line = f"reconciliation: {counts.matching} of {counts.total} tables match source = raw = staging"
    if counts.uncounted:
        line += f" (source not counted this run: {', '.join(counts.uncounted)})"
    return line
