"""Read the ``ops`` schema into one typed snapshot: what the status page, ``loaders status``
and the metrics show (all three read it here, so they show the same figures)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import overload

import duckdb

from loaders.ops.freshness import Thresholds, status_of
from loaders.ops.schema import SCHEMA
from loaders.raw_sql import count_of, has_column

TEST_KINDS = ("test", "unit_test")


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    started: datetime
    ended: datetime | None
    status: str
    phases: dict[str, float]
    error: str | None
    versions: dict[str, str | None]
    # peak resident memory per phase, MB (ops.runs.phase_peak_rss_mb; empty in older copies)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return (self.ended - self.started).total_seconds() if self.ended else None


@dataclass(frozen=True)
class FreshnessFacts:
    run_id: str
    source: str
    table_name: str
    measure: str
    checked_at: datetime
    newest: datetime | None
    lag_seconds: float | None
    warn_after_seconds: float | None
    error_after_seconds: float | None
    status: str
    message: str | None

    def lag_at(self, now: datetime) -> float | None:
        """The lag now: the table has not moved since it was checked."""
        if self.newest is None:
            return None
        return (now - self.newest).total_seconds()

    def status_at(self, now: datetime) -> str:
        if self.newest is None:
            return self.status
        return status_of(self.lag_at(now), Thresholds(self.warn_after_seconds, self.error_after_seconds))


@dataclass(frozen=True)
class ReconciliationFacts:
    run_id: str
    source: str
    table_name: str
    source_rows: int | None
    raw_rows: int | None
    staging_rows: int | None
    in_flight_rows: int | None
    difference: int | None
    status: str


@dataclass(frozen=True)
class AnomalyFacts:
    run_id: str
    source: str
    table_name: str
    kind: str
    severity: str
    observed: float
    baseline_median: float
    baseline_size: int
    message: str


@dataclass
class OpsFacts:
    read_at: datetime
    runs: list[RunFacts] = field(default_factory=list)  # newest first
    rows_loaded: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # table -> run -> rows
    tests: dict[str, Counter[str]] = field(default_factory=dict)  # run -> status -> count
    test_failures: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # last run: (node, status, message)
    retried_nodes: list[tuple[str, str]] = field(
        default_factory=list
    )  # last run with tests: (node, retry) of the nodes rebuilt after DuckDB ran out of memory
    freshness: list[FreshnessFacts] = field(default_factory=list)  # the latest check of every table
    reconciliation: list[ReconciliationFacts] = field(default_factory=list)  # the latest run's
    anomalies: list[AnomalyFacts] = field(default_factory=list)  # open: found by the latest checking run
    rejected_rows: int | None = None

    @property
    def last_run(self) -> RunFacts | None:
        return self.runs[0] if self.runs else None

    @property
    def last_finished_run(self) -> RunFacts | None:
        return next((r for r in self.runs if r.status != "running"), None)

    def rows_of(self, run_id: str) -> dict[tuple[str, str], int]:
        return {table: by_run[run_id] for table, by_run in self.rows_loaded.items() if run_id in by_run}


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        ).fetchall()
    }


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (DuckDB returns naive ones for TIMESTAMP)."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def read_facts(conn: duckdb.DuckDBPyConnection, *, runs: int = 20, now: datetime | None = None) -> OpsFacts:
    """The last ``runs`` runs and what the newest checks found ([] everywhere if no ``ops``)."""
    facts = OpsFacts(read_at=now or datetime.now(UTC))
    present = _tables(conn)
    if "runs" not in present:
        return facts
    # a copy made before the column: no peaks
    peaks = "phase_peak_rss_mb" if has_column(conn, SCHEMA, "runs", "phase_peak_rss_mb") else "map()"
    for row in conn.execute(
        f"""select run_id, started, ended, status, map_keys(phase_seconds), map_values(phase_seconds), error,
                   product_version, dbt_version, dlt_version, duckdb_version,
                   map_keys({peaks}), map_values({peaks})
            from {SCHEMA}.runs order by started desc, run_id desc limit ?""",
        [runs],
    ).fetchall():
        facts.runs.append(
            RunFacts(
                run_id=row[0],
                started=_utc(row[1]),
                ended=_utc(row[2]),
                status=row[3],
                phases=dict(zip(row[4] or [], row[5] or [], strict=False)),
                error=row[6],
                versions={"product": row[7], "dbt": row[8], "dlt": row[9], "duckdb": row[10]},
                peak_rss_mb=dict(zip(row[11] or [], row[12] or [], strict=False)),
            )
        )
    run_ids = [r.run_id for r in facts.runs]
    if not run_ids:
        return facts
    # each table on its own: a copy made by an older version may lack some
    if "table_loads" in present:
        _read_loads(conn, facts, run_ids)
    if "dbt_results" in present:
        _read_tests(conn, facts, run_ids)
    if "freshness" in present:
        _read_freshness(conn, facts)
    if "reconciliation" in present:
        _read_reconciliation(conn, facts)
    if "anomalies" in present and "table_loads" in present:
        _read_anomalies(conn, facts)
    if "rejected_rows" in present:
        facts.rejected_rows = count_of(conn, f"select count(*) from {SCHEMA}.rejected_rows")
    return facts


def _read_loads(conn: duckdb.DuckDBPyConnection, facts: OpsFacts, run_ids: list[str]) -> None:
    for source, table, run_id, rows in conn.execute(
        f"""select source, table_name, run_id, sum(rows_extracted)::bigint from {SCHEMA}.table_loads
            where list_contains(?, run_id) and mode <> 'failed' group by all order by all""",
        [run_ids],
    ).fetchall():
        facts.rows_loaded.setdefault((source, table), {})[run_id] = int(rows or 0)


def _read_tests(conn: duckdb.DuckDBPyConnection, facts: OpsFacts, run_ids: list[str]) -> None:
    for run_id, status, count in conn.execute(
        f"""select run_id, status, count(*) from {SCHEMA}.dbt_results
            where list_contains(?, run_id) and list_contains(?, kind) group by all""",
        [run_ids, list(TEST_KINDS)],
    ).fetchall():
        facts.tests.setdefault(run_id, Counter())[status] = int(count)
    last_with_tests = next((r for r in run_ids if r in facts.tests), None)
    if last_with_tests is not None:
        facts.test_failures = [
            (node, status, message or "")
            for node, status, message in conn.execute(
                f"""select node, status, message from {SCHEMA}.dbt_results
                    where run_id = ? and list_contains(?, kind) and status not in ('pass', 'success', 'skipped')
                    order by status, node""",
                [last_with_tests, list(TEST_KINDS)],
            ).fetchall()
        ]
        facts.retried_nodes = [
            (str(node), str(command))
            for node, command in conn.execute(
                f"""select node, command from {SCHEMA}.dbt_results
                    where run_id = ? and starts_with(command, 'retry') order by command, node""",
                [last_with_tests],
            ).fetchall()
        ]


def _read_freshness(conn: duckdb.DuckDBPyConnection, facts: OpsFacts) -> None:
    """The latest check of every table on each clock."""
    facts.freshness = [
        FreshnessFacts(r[0], r[1], r[2], r[3], _utc(r[4]), _utc(r[5]), r[6], r[7], r[8], r[9], r[10])
        for r in conn.execute(
            f"""select run_id, source, table_name, measure, checked_at, newest, lag_seconds,
                       warn_after_seconds, error_after_seconds, status, message
                from {SCHEMA}.freshness
                qualify row_number() over (partition by source, table_name, measure order by checked_at desc) = 1
                order by source, table_name, measure"""
        ).fetchall()
    ]


def _read_reconciliation(conn: duckdb.DuckDBPyConnection, facts: OpsFacts) -> None:
    """The latest run's reconciliation."""
    facts.reconciliation = [
        ReconciliationFacts(*r)
        for r in conn.execute(
            f"""select run_id, source, table_name, source_rows, raw_rows, staging_rows, in_flight_rows,
                       difference, status
                from {SCHEMA}.reconciliation
                where run_id = (select run_id from {SCHEMA}.reconciliation order by checked_at desc limit 1)
                order by source, table_name"""
        ).fetchall()
    ]


def _read_anomalies(conn: duckdb.DuckDBPyConnection, facts: OpsFacts) -> None:
    """Open anomalies: those the latest run that ran the checks (it loaded tables) found."""
    checking = conn.execute(
        f"select run_id from {SCHEMA}.table_loads order by loaded_at desc limit 1"
    ).fetchone()
    if checking is None:
        return
    facts.anomalies = [
        AnomalyFacts(*r)
        for r in conn.execute(
            f"""select run_id, source, table_name, kind, severity, observed, baseline_median, baseline_size,
                       message
                from {SCHEMA}.anomalies where run_id = ? order by source, table_name, kind""",
            [checking[0]],
        ).fetchall()
    ]
