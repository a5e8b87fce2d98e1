"""Incremental gold (macros/incremental_gold.sql) equals a full refresh.

On the built warehouse, a later day of loads: a refund that empties its user's day, a
message sent in an old week, a message and an event hard-deleted (tombstones), a new event.
Three ways to build it incrementally, each compared table by table with `dbt build
--full-refresh` on a copy of the same raw data:
  * keys     the models recompute only the days the load touches (checked in the SQL run);
  * upgrade  a warehouse whose gold was built as plain tables (no watermarks yet): the first
             incremental run recomputes every key, rows the new data removed included;
  * fx       the fx_rates seed changed since the last run: every money key is recomputed.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dbt_raw_fixture import (
    DELETED_AT,
    N_USERS,
    RawData,
    _Rows,
    deleted_by_late_load,
    stable_uuid,
    write_raw,
)
from dbt_runner import REPO, BuiltWarehouse, DbtResult, run_dbt

LOAD_DAY = "1759104000.500000"  # 2025-09-29 00:00 UTC
DAY_COMMIT = datetime(2025, 9, 29, 1, 0, tzinfo=UTC)
ACTIVITY_MODELS = ("int_user_activity_daily", "gold_user_activity_per_day")
KEYED_MODELS = (*ACTIVITY_MODELS, "gold_notif_impact_per_day", "gold_outing_summary")
PROJECT_PATHS = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "analyses",
    "tests/dbt/singular",
)


def day_of_changes(base: RawData) -> tuple[RawData, dict]:
    """The later load, and the payment it refunds (its user's only activity that day)."""
    rows = _Rows()
    rows._n = sum(len(v) for v in base.values()) + 5000
    refunded = deleted_by_late_load(base)["raw_postgres.payments"]
    version = {k: v for k, v in refunded.items() if not k.startswith("_dlt_") and k != DELETED_AT}
    version.update(status="refunded", updated_at=datetime(2025, 9, 28, 12, tzinfo=UTC))
    rows.add("raw_postgres.payments", LOAD_DAY, **version)
    sent_at = datetime(2025, 6, 4, 9, 30, tzinfo=UTC)  # an old week
    rows.add(
        "raw_cassandra.messages",
        LOAD_DAY,
        group_id=stable_uuid("group-0"),
        day=sent_at.date(),
        sent_at=sent_at,
        message_id=stable_uuid("msg-old-week"),
        user_id=stable_uuid(f"user-{N_USERS - 1}"),
        body="late",
    )
    for table, name, column in (
        ("raw_cassandra.messages", "msg-11", "message_id"),
        ("raw_cassandra.user_events", "event-11", "event_id"),
    ):
        row = next(r for r in base[table] if r[column] == stable_uuid(name))
        rows.tombstone(table, LOAD_DAY, row, DAY_COMMIT - timedelta(hours=2))
    notification = next(r for r in base["raw_postgres.notifications"] if r["id"] == 3)
    rows.add(
        "raw_cassandra.notification_states",
        LOAD_DAY,
        user_id=notification["user_id"],
        notification_id=3,
        status="CLICKED",
        updated_at=datetime(2025, 9, 28, 21, tzinfo=UTC),
    )
    event_time = datetime(2025, 9, 28, 20, tzinfo=UTC)
    rows.add(
        "raw_cassandra.user_events",
        LOAD_DAY,
        user_id=stable_uuid("user-1"),
        day=event_time.date(),
        event_time=event_time,
        event_id=stable_uuid("event-new-day"),
        event_type="app_open",
        properties="{}",
    )
    return rows.data, refunded


def differences(left: Path, right: Path) -> dict[str, tuple[int, int, int, int]]:
    """Tables of staging, intermediate and gold whose rows differ between two warehouses."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{left}' as a (read_only)")
        con.execute(f"attach '{right}' as b (read_only)")
        names = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = 'a' "
                "and table_schema in ('staging', 'intermediate', 'gold') order by 1, 2"
            ).fetchall()
        ]
        found = {}
        for name in names:
            counts = tuple(
                con.execute(sql).fetchone()[0]
                for sql in (
                    f"select count(*) from a.{name}",
                    f"select count(*) from b.{name}",
                    f"select count(*) from (from a.{name} except all from b.{name})",
                    f"select count(*) from (from b.{name} except all from a.{name})",
                )
            )
            if counts[0] != counts[1] or counts[2] or counts[3]:
                found[name] = counts
        assert "gold.gold_user_activity_per_day" in names
        return found
    finally:
        con.close()


def compiled(run: DbtResult, name: str) -> str:
    return next(
        r.get("compiled_code") or ""
        for r in run.run_results["results"]
        if r["unique_id"] == f"model.outings.{name}"
    )


def incremental_and_full(
    built: BuiltWarehouse, work: Path, prepare=None, project_dir: Path = REPO
) -> tuple[Path, DbtResult, Path]:
    changes, _ = day_of_changes(built.raw)
    work.mkdir(parents=True, exist_ok=True)
    incremental = built.copy_to(work / "incremental.duckdb")
    if prepare:
        prepare(incremental)
    write_raw(incremental, changes, committed_at=DAY_COMMIT)
    full = work / "full.duckdb"
    shutil.copyfile(incremental, full)
    inc_run = run_dbt(["build"], incremental, work / "inc", project_dir=project_dir)
    assert inc_run.returncode == 0, inc_run.output[-5000:]
    full_run = run_dbt(["build", "--full-refresh"], full, work / "full", project_dir=project_dir)
    assert full_run.returncode == 0, full_run.output[-5000:]
    return incremental, inc_run, full


def activity_row(warehouse: Path, payment: dict) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select count(*) from gold.gold_user_activity_per_day where user_id = ? and date = ?",
            [payment["user_id"], payment["paid_at"].astimezone(UTC).date()],
        ).fetchone()[0]
    finally:
        con.close()


def test_a_day_of_changes_recomputes_only_its_days(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    assert built_warehouse.build.returncode == 0, built_warehouse.build.output[-3000:]
    _, refunded = day_of_changes(built_warehouse.raw)
    assert activity_row(built_warehouse.path, refunded) == 1
    incremental, inc_run, full = incremental_and_full(built_warehouse, tmp_path)
    for name in KEYED_MODELS:
        assert "new_loads.inserted_at >" in compiled(inc_run, name), f"{name} did not run by keys"
    assert differences(incremental, full) == {}
    # the refund emptied the day: its row is gone, as in the full refresh
    assert activity_row(incremental, refunded) == 0
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        assert (
            con.execute(
                "select count(*) from gold.gold_user_activity_per_day where date = date '2025-06-04'"
            ).fetchone()[0]
            >= 1
        )
    finally:
        con.close()


def test_upgrade_from_gold_built_as_tables(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """No watermark yet (gold built by the project before incremental gold): every key once."""

    def as_before_incremental_gold(path: Path) -> None:
        con = duckdb.connect(str(path))
        try:
            con.execute("drop table intermediate.int_incremental_watermarks")
        finally:
            con.close()

    incremental, inc_run, full = incremental_and_full(built_warehouse, tmp_path, as_before_incremental_gold)
    for name in KEYED_MODELS:
        assert "new_loads.inserted_at >" not in compiled(inc_run, name), f"{name} should recompute all keys"
    assert differences(incremental, full) == {}
    _, refunded = day_of_changes(built_warehouse.raw)
    assert activity_row(incremental, refunded) == 0


@pytest.fixture
def project_with_new_rates(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for relative in PROJECT_PATHS:
        source = REPO / relative
        if source.is_dir():
            shutil.copytree(source, project / relative)
        else:
            (project / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, project / relative)
    rates = project / "seeds" / "fx_rates.csv"
    text = rates.read_text(encoding="utf-8")
    assert "USD,0.92" in text
    rates.write_text(text.replace("USD,0.92", "USD,0.97"), encoding="utf-8")
    return project


def test_fx_rates_changed_recomputes_every_money_key(
    built_warehouse: BuiltWarehouse, tmp_path: Path, project_with_new_rates: Path
) -> None:
    incremental, inc_run, full = incremental_and_full(
        built_warehouse, tmp_path / "w", project_dir=project_with_new_rates
    )
    assert "new_loads.inserted_at >" not in compiled(inc_run, "int_user_activity_daily")
    assert differences(incremental, full) == {}
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as new (read_only)")
        con.execute(f"attach '{built_warehouse.path}' as old (read_only)")
        moved = con.execute(
            "select count(*) from new.gold.gold_user_activity_per_day as n "
            "join old.gold.gold_user_activity_per_day as o using (user_id, date) "
            "where n.total_money_spend <> o.total_money_spend"
        ).fetchone()[0]
    finally:
        con.close()
    assert moved > 0, "no day's EUR spend moved with the USD rate"
