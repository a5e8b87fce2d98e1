"""The ops schema on a real DuckDB file: killed runs, retention, loads, dbt results, metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from loaders.load.runner import SourceResult, TableResult
from loaders.ops.current_run import RUN_ID_ENV, current_run_id
from loaders.ops.dbt_artifacts import read_run_results, read_sources_freshness
from loaders.ops.facts import read_facts
from loaders.ops.freshness import Thresholds
from loaders.ops.metrics import render_metrics
from loaders.ops.recorder import RunRecorder
from loaders.ops.status_page import render


def _sql(path: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(query).fetchall()


def _loads(rows: dict[str, int]) -> list[SourceResult]:
    result = SourceResult("cassandra", "raw_cassandra")
    result.tables = [TableResult("cassandra", t, "incremental", n, n * 10, 0.5) for t, n in rows.items()]
    return [result]


def test_a_run_left_running_is_recorded_killed_by_the_next(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    first = RunRecorder(warehouse)
    first.start()
    assert current_run_id() == first.run_id
    second = RunRecorder(warehouse)
    assert second.start() == [first.run_id]
    second.phase_seconds.update({"load": 1.5, "build": 2.5})
    second.finish(None)
    assert current_run_id() is None
    rows = {
        r[0]: r[1:]
        for r in _sql(warehouse, "select run_id, status, error, phase_seconds['build'] from ops.runs")
    }
    assert rows[first.run_id][0] == "killed" and second.run_id in rows[first.run_id][1]
    assert rows[second.run_id] == ("ok", None, 2.5)


def _create_runs_before_the_peak_column(conn: duckdb.DuckDBPyConnection) -> None:
    """ops.runs as releases before phase_peak_rss_mb made it."""
    conn.execute("create schema ops")
    conn.execute(
        "create table ops.runs (run_id VARCHAR, started TIMESTAMPTZ, ended TIMESTAMPTZ, status VARCHAR, "
        "phase_seconds MAP(VARCHAR, DOUBLE), full_refresh BOOLEAN, product_version VARCHAR, "
        "dbt_version VARCHAR, dlt_version VARCHAR, duckdb_version VARCHAR, error VARCHAR, pid INTEGER, "
        "host VARCHAR)"
    )


def test_peak_memory_per_phase_is_recorded_also_in_a_warehouse_made_before_the_column(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        _create_runs_before_the_peak_column(conn)
        conn.execute("insert into ops.runs (run_id, status) values ('older', 'ok')")
    recorder = RunRecorder(warehouse)
    recorder.start()
    recorder.phase_peak_rss_mb.update({"load": 301.5, "build": 612.0})
    recorder.finish(None)
    rows = _sql(
        warehouse, "select run_id, phase_peak_rss_mb['load'], phase_peak_rss_mb['build'] from ops.runs"
    )
    assert sorted(rows, key=str) == sorted([("older", None, None), (recorder.run_id, 301.5, 612.0)], key=str)
    with duckdb.connect(str(warehouse)) as conn:
        facts = read_facts(conn)
    assert facts.last_finished_run is not None and facts.last_finished_run.run_id == recorder.run_id
    peaks = {
        s.labels["phase"]: s.value
        for f in text_string_to_metric_families(render_metrics(facts).decode())
        for s in f.samples
        if s.name == "outings_job_phase_peak_rss_bytes"
    }
    assert peaks == {"load": 301.5 * 2**20, "build": 612.0 * 2**20}


def test_facts_of_a_copy_made_before_the_peak_column_have_no_peaks(tmp_path: Path) -> None:
    """A published copy of an older release: its ops.runs lacks phase_peak_rss_mb; read without it."""
    warehouse = tmp_path / "old-copy.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        _create_runs_before_the_peak_column(conn)
        conn.execute(
            "insert into ops.runs (run_id, started, ended, status, phase_seconds) "
            "values ('older', now(), now(), 'ok', map(['build'], [2.5]))"
        )
        facts = read_facts(conn)
    (run,) = facts.runs
    assert run.phases == {"build": 2.5} and run.peak_rss_mb == {}
    names = {
        s.name for f in text_string_to_metric_families(render_metrics(facts).decode()) for s in f.samples
    }
    assert "outings_job_phase_seconds" in names and "outings_job_phase_peak_rss_bytes" not in names


def test_the_current_run_id_is_exported_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    recorder = RunRecorder(tmp_path / "wh.duckdb")
    recorder.start()
    assert os.environ[RUN_ID_ENV] == recorder.run_id
    recorder.finish("boom")
    assert RUN_ID_ENV not in os.environ
    assert _sql(tmp_path / "wh.duckdb", "select status, error from ops.runs") == [("failed", "boom")]


def test_retention_deletes_old_runs_and_their_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "wh.duckdb"
    old = RunRecorder(warehouse, started=datetime.now(UTC) - timedelta(days=10))
    old.start()
    old.record_loads(_loads({"messages": 5}))
    old.finish(None)
    monkeypatch.setenv("LOADERS_OPS_RETENTION_DAYS", "7")
    new = RunRecorder(warehouse)
    new.start()
    assert _sql(warehouse, "select run_id from ops.runs") == [(new.run_id,)]
    assert _sql(warehouse, "select count(*) from ops.table_loads") == [(0,)]


def test_volume_baseline_excludes_the_current_load_and_other_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADERS_ANOMALY_MIN_BASELINE", "3")
    warehouse = tmp_path / "wh.duckdb"
    full = RunRecorder(warehouse)
    full.start()
    result = SourceResult("cassandra", "raw_cassandra")
    result.tables = [TableResult("cassandra", "messages", "full", 50_000, 50_000, 3.0)]
    full.record_loads([result])
    full.finish(None)
    for rows in (200, 210, 190):
        run = RunRecorder(warehouse)
        run.start()
        assert run.record_loads(_loads({"messages": rows})) == []  # the full load is not their baseline
        run.finish(None)
    zero = RunRecorder(warehouse)
    zero.start()
    found = zero.record_loads(_loads({"messages": 0}))
    assert [(a.kind, a.baseline.size, a.baseline.median) for a in found] == [("volume_zero", 3, 200.0)]
    zero.finish(None)
    with duckdb.connect(str(warehouse)) as conn:
        facts = read_facts(conn)
    assert [(a.table_name, a.kind) for a in facts.anomalies] == [("messages", "volume_zero")]
    metrics = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(render_metrics(facts).decode())
        for s in f.samples
    }
    assert metrics[("outings_anomalies_open", (("kind", "volume_zero"), ("table", "messages")))] == 1
    assert metrics[("outings_table_rows_loaded", (("source", "cassandra"), ("table", "messages")))] == 0
    assert metrics[("outings_job_last_run_success", ())] == 1
    page = render(facts)
    assert (
        'data-kind="volume_zero"' in page
        and "<script" not in page
        and "http" not in page.lower().replace('xmlns="http://www.w3.org/2000/svg"', "")
    )


def test_dbt_artifacts_and_freshness_rows(tmp_path: Path) -> None:
    started = datetime.now(UTC)
    run_results = {
        "metadata": {"invocation_started_at": (started + timedelta(seconds=1)).isoformat()},
        "results": [
            {
                "unique_id": "model.outings.stg_x",
                "status": "success",
                "execution_time": 0.5,
                "adapter_response": {"rows_affected": 12},
                "failures": None,
                "message": "OK",
            },
            {
                "unique_id": "test.outings.not_null_x.abc",
                "status": "fail",
                "execution_time": 0.1,
                "adapter_response": {},
                "failures": 3,
                "message": "Got 3 results\nmore",
            },
        ],
    }
    (tmp_path / "run_results.json").write_text(json.dumps(run_results))
    nodes = read_run_results(tmp_path / "run_results.json", not_before=started)
    assert [(n.kind, n.node, n.status, n.rows_affected, n.failures, n.message) for n in nodes] == [
        ("model", "stg_x", "success", 12, None, "OK"),
        ("test", "not_null_x", "fail", None, 3, "Got 3 results"),
    ]
    assert read_run_results(tmp_path / "run_results.json", not_before=started + timedelta(minutes=1)) == []
    sources = {
        "metadata": {"invocation_started_at": (started + timedelta(seconds=1)).isoformat()},
        "results": [
            {
                "unique_id": "source.outings.raw_cassandra.messages",
                "status": "warn",
                "max_loaded_at": "2026-01-01T00:00:00+00:00",
                "snapshotted_at": "2026-01-02T06:00:00+00:00",
                "max_loaded_at_time_ago_in_s": 108000.0,
                "criteria": {
                    "warn_after": {"count": 26, "period": "hour"},
                    "error_after": {"count": 50, "period": "hour"},
                },
            },
            {
                "unique_id": "source.outings.raw_postgres.users",
                "status": "runtime error",
                "error": "no column x",
            },
        ],
    }
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    fresh = read_sources_freshness(tmp_path / "sources.json", not_before=started)
    assert [(f.source, f.table_name, f.status, f.warn_after_seconds, f.message) for f in fresh] == [
        ("raw_cassandra", "messages", "warn", 26 * 3600.0, None),
        ("raw_postgres", "users", "error", None, "no column x"),
    ]
    warehouse = tmp_path / "wh.duckdb"
    recorder = RunRecorder(warehouse)
    recorder.start()
    recorder.record_loads(_loads({"messages": 7}))
    recorder.record_build("build", nodes[1:])
    recorder.record_build("retry --threads 1 under 384MB", nodes[:1])
    rows = recorder.record_freshness(fresh, {}, Thresholds(3600.0, 7200.0))
    recorder.finish(None)
    assert {(r.source, r.table_name, r.measure, r.status) for r in rows} == {
        ("cassandra", "messages", "event_time", "warn"),
        ("postgres", "users", "event_time", "error"),
        ("cassandra", "messages", "load_time", "pass"),
    }
    with duckdb.connect(str(warehouse)) as conn:
        facts = read_facts(conn)
    assert facts.tests[recorder.run_id] == {"fail": 1}
    assert facts.test_failures == [("not_null_x", "fail", "Got 3 results")]
    assert facts.retried_nodes == [("stg_x", "retry --threads 1 under 384MB")]
    metrics = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(render_metrics(facts).decode())
        for s in f.samples
    }
    assert metrics[("outings_dbt_test_failures", ())] == 1
    assert metrics[("outings_dbt_nodes_retried", ())] == 1
    assert metrics[("outings_table_freshness_status", (("source", "postgres"), ("table", "users")))] == 2
    assert metrics[("outings_table_freshness_status", (("source", "cassandra"), ("table", "messages")))] == 1
    assert (
        metrics[("outings_table_freshness_lag_seconds", (("source", "cassandra"), ("table", "messages")))]
        == 108000
    )
