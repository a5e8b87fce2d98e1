"""Append one job run to the ``ops`` schema of the build warehouse, step by step.

Called by ``loaders run`` while it holds the warehouse lock (one writer):

- ``start``: the runs left 'running' by an earlier process (killed: SIGKILL, OOM, node
  lost; the lock proves none is alive) become 'killed'; runs older than the retention go;
  this run's row is written as 'running'.
- ``record_loads`` right after the load (so a build that fails or is killed later keeps
  them), then the volume anomaly check; ``record_build`` from dbt's run_results.json;
  ``record_freshness`` from sources.json and the loads, then the freshness anomaly check;
- ``mark_ok`` before publishing (the readers' copy then holds this run as ok), and
  ``finish`` at the very end (final phase seconds, or 'failed' with the one-line error).

Each step opens the warehouse briefly and commits; nothing is ever rebuilt.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from loaders.load.results import SourceResult
from loaders.ops import anomalies as checks
from loaders.ops.current_run import new_run_id, set_current_run_id
from loaders.ops.dbt_artifacts import NodeResult, SourceFreshness
from loaders.ops.freshness import FreshnessRow, Thresholds, source_key, status_of
from loaders.ops.schema import SCHEMA, apply_retention, ensure_schema, retention_days
from loaders.ops.versions import tool_versions


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunRecorder:
    warehouse: Path
    full_refresh: bool = False
    run_id: str = ""
    started: datetime = field(default_factory=utc_now)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    phase_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    anomalies: list[checks.Anomaly] = field(default_factory=list)
    settings: checks.AnomalySettings = field(default_factory=checks.AnomalySettings.from_env)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse))

    # -- start / end ----------------------------------------------------------------------
    def start(self) -> list[str]:
        """Write this run's 'running' row; returns the ids of the earlier runs now marked killed."""
        self.run_id = self.run_id or new_run_id(self.started)
        with self._connect() as conn:
            ensure_schema(conn)
            killed = [
                row[0]
                for row in conn.execute(
                    f"select run_id from {SCHEMA}.runs where status = 'running'"
                ).fetchall()
            ]
            if killed:
                conn.execute(
                    f"update {SCHEMA}.runs set status = 'killed', error = ? where status = 'running'",
                    [
                        f"killed: the run never finished (killed or its machine stopped); found by run {self.run_id}"
                    ],
                )
            apply_retention(conn, retention_days())
            versions = tool_versions()
            conn.execute(
                f"""insert into {SCHEMA}.runs (run_id, started, status, phase_seconds, full_refresh,
                    product_version, dbt_version, dlt_version, duckdb_version, pid, host)
                    values (?, ?, 'running', map(), ?, ?, ?, ?, ?, ?, ?)""",
                [
                    self.run_id,
                    self.started,
                    self.full_refresh,
                    versions["product_version"],
                    versions["dbt_version"],
                    versions["dlt_version"],
                    versions["duckdb_version"],
                    os.getpid(),
                    socket.gethostname(),
                ],
            )
        set_current_run_id(self.run_id)
        return killed

    def _update_run(self, status: str, error: str | None) -> None:
        phases, peaks = dict(self.phase_seconds), dict(self.phase_peak_rss_mb)
        with self._connect() as conn:
            conn.execute(
                f"""update {SCHEMA}.runs set status = ?, ended = ?, error = ?,
                    phase_seconds = map(?::varchar[], ?::double[]),
                    phase_peak_rss_mb = map(?::varchar[], ?::double[]) where run_id = ?""",
                [
                    status,
                    utc_now(),
                    error,
                    list(phases),
                    list(phases.values()),
                    list(peaks),
                    list(peaks.values()),
                    self.run_id,
                ],
            )

    def mark_ok(self) -> None:
        """The run passed everything that decides publishing: record it as ok before the publish."""
        self._update_run("ok", None)

    def finish(self, error: str | None) -> None:
        self._update_run("failed" if error else "ok", error)
        set_current_run_id(None)

    # -- loads and the volume check -------------------------------------------------------
    def record_loads(self, results: Sequence[SourceResult]) -> list[checks.Anomaly]:
        """Insert the run's ``TableResult`` rows and run the volume check on them."""
        loaded_at = utc_now()
        loads = [t for source_result in results for t in source_result.tables]
        rows = []
        for t in loads:
            rows.append(
                [
                    self.run_id,
                    loaded_at,
                    t.source,
                    t.table,
                    t.mode,
                    t.rows_extracted,
                    t.rows_in_raw,
                    t.source_rows,
                    t.in_flight_rows,
                    t.deleted_rows,
                    t.rejected_rows,
                    t.late_rows,
                    t.future_rows,
                    t.bytes_extracted,
                    t.seconds,
                    t.cursor_before,
                    t.cursor_after,
                ]
            )
        found: list[checks.Anomaly] = []
        with self._connect() as conn:
            if rows:
                conn.executemany(f"insert into {SCHEMA}.table_loads values ({', '.join('?' * 17)})", rows)
            for load in loads:
                if load.mode == "failed":
                    continue
                previous = [
                    r[0]
                    for r in conn.execute(
                        f"""select rows_extracted from {SCHEMA}.table_loads
                            where source = ? and table_name = ? and mode = ? and run_id <> ?
                              and rows_extracted is not null
                            order by loaded_at desc limit ?""",
                        [load.source, load.table, load.mode, self.run_id, self.settings.baseline_loads],
                    ).fetchall()
                ]
                anomaly = checks.check_volume(
                    checks.LoadVolume(load.source, load.table, load.mode, load.rows_extracted or 0),
                    previous,
                    self.settings,
                )
                if anomaly is not None:
                    found.append(anomaly)
            self._insert_anomalies(conn, found)
        self.anomalies.extend(found)
        return found

    def _insert_anomalies(self, conn: duckdb.DuckDBPyConnection, found: Sequence[checks.Anomaly]) -> None:
        if not found:
            return
        now = utc_now()
        conn.executemany(
            f"insert into {SCHEMA}.anomalies values ({', '.join('?' * 14)})",
            [
                [
                    self.run_id,
                    now,
                    a.source,
                    a.table_name,
                    a.kind,
                    a.severity,
                    a.mode,
                    a.observed,
                    a.baseline.median,
                    a.baseline.mad,
                    a.baseline.size,
                    a.baseline.lower,
                    a.baseline.upper,
                    a.message,
                ]
                for a in found
            ],
        )

    # -- dbt ------------------------------------------------------------------------------
    def record_build(self, command: str, nodes: Sequence[NodeResult]) -> None:
        if not nodes:
            return
        with self._connect() as conn:
            conn.executemany(
                f"insert into {SCHEMA}.dbt_results values ({', '.join('?' * 10)})",
                [
                    [
                        self.run_id,
                        command,
                        n.unique_id,
                        n.node,
                        n.kind,
                        n.status,
                        n.seconds,
                        n.rows_affected,
                        n.failures,
                        n.message,
                    ]
                    for n in nodes
                ],
            )

    # -- freshness ------------------------------------------------------------------------
    def record_freshness(
        self,
        event_time: Sequence[SourceFreshness],
        load_thresholds: dict[str, Thresholds],
        default: Thresholds,
    ) -> list[FreshnessRow]:
        """Event-time rows from dbt, load-time rows from ``ops.table_loads``; then the
        freshness anomaly check on the event-time lags."""
        now = utc_now()
        rows = [
            FreshnessRow(
                source_key(f.source),
                f.table_name,
                "event_time",
                f.checked_at or now,
                f.newest,
                f.lag_seconds,
                f.warn_after_seconds,
                f.error_after_seconds,
                f.status,
                f.message,
            )
            for f in event_time
        ]
        found: list[checks.Anomaly] = []
        with self._connect() as conn:
            last_loads = conn.execute(
                f"""select source, table_name, max(loaded_at) from {SCHEMA}.table_loads
                    where mode <> 'failed' group by all order by all"""
            ).fetchall()
            for source, table, newest in last_loads:
                thresholds = load_thresholds.get(source, default)
                lag = (now - newest).total_seconds()
                rows.append(
                    FreshnessRow(
                        source,
                        table,
                        "load_time",
                        now,
                        newest,
                        lag,
                        thresholds.warn_after_seconds,
                        thresholds.error_after_seconds,
                        status_of(lag, thresholds),
                    )
                )
            for row in rows:
                if row.measure != "event_time" or row.lag_seconds is None:
                    continue
                previous = [
                    r[0]
                    for r in conn.execute(
                        f"""select lag_seconds from {SCHEMA}.freshness
                            where source = ? and table_name = ? and measure = 'event_time'
                              and run_id <> ? and lag_seconds is not null
                            order by checked_at desc limit ?""",
                        [row.source, row.table_name, self.run_id, self.settings.baseline_loads],
                    ).fetchall()
                ]
                anomaly = checks.check_freshness(
                    row.source, row.table_name, row.lag_seconds, previous, self.settings
                )
                if anomaly is not None:
                    found.append(anomaly)
            if rows:
                conn.executemany(
                    f"insert into {SCHEMA}.freshness values ({', '.join('?' * 11)})",
                    [
                        [
                            self.run_id,
                            r.checked_at,
                            r.source,
                            r.table_name,
                            r.measure,
                            r.newest,
                            r.lag_seconds,
                            r.warn_after_seconds,
                            r.error_after_seconds,
                            r.status,
                            r.message,
                        ]
                        for r in rows
                    ],
                )
            self._insert_anomalies(conn, found)
        self.anomalies.extend(found)
        return rows
