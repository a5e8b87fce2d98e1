"""`loaders status`: its exit code, and the published copy while a job holds the warehouse."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from loaders.load.runner import SourceResult, TableResult
from loaders.ops.dbt_artifacts import SourceFreshness
from loaders.ops.freshness import Thresholds
from loaders.ops.recorder import RunRecorder
from loaders.ops.status_command import problems, read_status


def _history(warehouse: Path, *, fail_last: bool, lag_hours: float) -> None:
    ok = RunRecorder(warehouse)
    ok.start()
    result = SourceResult("postgres", "raw_postgres")
    result.tables = [TableResult("postgres", "payments", "incremental", 18, 2000, 0.1)]
    ok.record_loads([result])
    newest = datetime.now(UTC) - timedelta(hours=lag_hours)
    event = SourceFreshness(
        "raw_postgres",
        "payments",
        newest,
        datetime.now(UTC),
        lag_hours * 3600,
        26 * 3600.0,
        50 * 3600.0,
        "pass",
        None,
    )
    ok.record_freshness([event], {}, Thresholds(26 * 3600.0, 50 * 3600.0))
    ok.finish(None)
    if fail_last:
        failed = RunRecorder(warehouse)
        failed.start()
        failed.finish("dbt build failed (1 errors): nothing published")


def test_exit_reasons_a_failed_run_and_a_table_stale_now(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    _history(warehouse, fail_last=False, lag_hours=1)
    facts, _, _ = read_status(warehouse, 10)
    now = datetime.now(UTC)
    assert problems(facts, now) == []
    # nothing ran for three days: the table is stale now, though it passed when checked
    later = problems(facts, now + timedelta(days=3))
    assert len(later) == 2 and all("postgres.payments is stale" in line for line in later)

    failing = tmp_path / "failing.duckdb"
    _history(failing, fail_last=True, lag_hours=1)
    facts, _, _ = read_status(failing, 10)
    assert [line for line in problems(facts, now) if "failed" in line] == [
        f"the last run {facts.runs[0].run_id} failed: dbt build failed (1 errors): nothing published"
    ]


def test_a_warehouse_held_by_a_job_falls_back_to_the_published_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, published = tmp_path / "wh.duckdb", tmp_path / "published"
    _history(build, fail_last=False, lag_hours=1)
    published.mkdir()
    with duckdb.connect(str(published / "warehouse.duckdb")) as conn:
        conn.execute(f"attach '{build}' as src (read_only)")
        conn.execute("create schema ops")
        conn.execute("create table ops.runs as from src.ops.runs")
    monkeypatch.setenv("WAREHOUSE_PATH", str(build))
    monkeypatch.setenv("PUBLISHED_DIR", str(published))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(build)!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        facts, source, note = read_status(None, 10)
    finally:
        holder.communicate("", timeout=30)
    assert source == published / "warehouse.duckdb"
    assert note is not None and "being written by a running job" in note and "published copy" in note
    assert len(facts.runs) == 1 and facts.runs[0].status == "ok"
