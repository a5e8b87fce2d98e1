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

import re
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
from dbt_runner import REPO, BuiltWarehouse, DbtResult, build_incremental_and_full

LOAD_DAY = "1759104000.500000"  # 2025-09-29 00:00 UTC
DAY_COMMIT = datetime(2025, 9, 29, 1, 0, tzinfo=UTC)
ACTIVITY_MODELS = ("int_user_activity_daily", "gold_user_activity_per_day")
KEYED_MODELS = (
    *ACTIVITY_MODELS,
    "gold_notif_impact_per_day",
    "gold_outing_summary",
    "gold_group_engagement_per_week",
    "gold_user_retention_monthly",
    "int_user_notifications_daily",
)
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
    # an outing moved three weeks later: its old week (gone with its old version) must lose it
    moved = dict(_live_rows(base, "raw_postgres.outings", "id")[3])
    moved = {k: v for k, v in moved.items() if not k.startswith("_dlt_") and k != DELETED_AT}
    moved.update(
        starts_at=moved["starts_at"] + timedelta(days=21), updated_at=datetime(2025, 9, 28, 13, tzinfo=UTC)
    )
    rows.add("raw_postgres.outings", LOAD_DAY, **moved)
    # a new user: a new member of the September cohort
    rows.add(
        "raw_postgres.users",
        LOAD_DAY,
        id=stable_uuid("user-new-in-september"),
        username="newcomer",
        email="newcomer@example.org",
        city=None,
        created_at=datetime(2025, 9, 28, 8, tzinfo=UTC),
        updated_at=datetime(2025, 9, 28, 8, tzinfo=UTC),
        deleted_at=None,
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


def _live_rows(base: RawData, table: str, key: str) -> list[dict]:
    """Rows of `table` (one per key, in key order) that no tombstone deletes."""
    deleted = {r[key] for r in base[table] if r.get(DELETED_AT) is not None}
    latest = {r[key]: r for r in base[table] if r[key] not in deleted}
    return [latest[k] for k in sorted(latest, key=str)]


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


ML_REFERENCE = Path(__file__).with_name("ml_features_reference.sql")


def ml_features_against_reference(warehouse: Path) -> tuple[int, int, int]:
    """(rows only in the model, rows only in the reference, rows) for gold_ml_user_features
    against the features computed from the payments and notifications themselves."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        reference = ML_REFERENCE.read_text(encoding="utf-8")
        model = "select * from gold.gold_ml_user_features"
        counts = tuple(
            con.execute(f"select count(*) from ({sql})").fetchone()[0]
            for sql in (
                f"{model} except all ({reference})",
                f"({reference}) except all {model}",
                model,
            )
        )
        return counts[0], counts[1], counts[2]
    finally:
        con.close()


def compiled(run: DbtResult, name: str) -> str:
    return next(
        r.get("compiled_code") or ""
        for r in run.run_results["results"]
        if r["unique_id"] == f"model.outings.{name}"
    )


def temporary_tables(dbt_log: Path) -> tuple[set[str], set[str]]:
    """The temporary tables an incremental build created, and those it dropped (dbt's debug log).

    dbt-duckdb creates `<model>__dbt_tmp<timestamp>` for each incremental model and never drops
    it; left alone they stay in DuckDB's memory until the build ends (macros/drop_incremental_temp_table.sql).
    """
    text = dbt_log.read_text(encoding="utf-8", errors="replace")
    created = set(re.findall(r'create temporary table\s+"([A-Za-z0-9_]+__dbt_tmp\d+)"', text))
    dropped = set(re.findall(r'drop table if exists temp\.main\."([A-Za-z0-9_]+__dbt_tmp\d+)"', text))
    return created, dropped


def new_month_and_hard_deletes(base: RawData) -> RawData:
    """The day of changes, plus an event in a new month (last_month of retention moves) and the
    hard delete of an outing, a user, a notification and a payment, whose tombstones lack the
    keys of the models that read them."""
    changes, refunded = day_of_changes(base)
    rows = _Rows()
    rows._n = sum(len(v) for v in base.values()) + 9000
    rows.data.update({table: list(table_rows) for table, table_rows in changes.items()})
    event_time = datetime(2025, 10, 1, 0, 30, tzinfo=UTC)
    rows.add(
        "raw_cassandra.user_events",
        LOAD_DAY,
        user_id=stable_uuid("user-2"),
        day=event_time.date(),
        event_time=event_time,
        event_id=stable_uuid("event-new-month"),
        event_type="search",
        properties="{}",
    )
    deleted_at = DAY_COMMIT - timedelta(hours=1)
    payment = next(
        r
        for r in _live_rows(base, "raw_postgres.payments", "id")
        if r["status"] == "succeeded" and r["outing_id"] is not None and r["id"] != refunded["id"]
    )
    for table, row in (
        ("raw_postgres.outings", _live_rows(base, "raw_postgres.outings", "id")[5]),
        ("raw_postgres.users", _live_rows(base, "raw_postgres.users", "id")[5]),
        ("raw_postgres.notifications", _live_rows(base, "raw_postgres.notifications", "id")[7]),
        ("raw_postgres.payments", payment),
    ):
        rows.tombstone(table, LOAD_DAY, row, deleted_at)
    return rows.data


def incremental_and_full(
    built: BuiltWarehouse,
    work: Path,
    prepare=None,
    project_dir: Path = REPO,
    changes_of=lambda raw: day_of_changes(raw)[0],
) -> tuple[Path, DbtResult, Path]:
    changes = changes_of(built.raw)
    work.mkdir(parents=True, exist_ok=True)
    incremental = built.copy_to(work / "incremental.duckdb")
    if prepare:
        prepare(incremental)
    write_raw(incremental, changes, committed_at=DAY_COMMIT)
    built_both = build_incremental_and_full(incremental, work, project_dir)
    assert built_both.incremental_run.returncode == 0, built_both.incremental_run.output[-5000:]
    assert built_both.full_run.returncode == 0, built_both.full_run.output[-5000:]
    return incremental, built_both.incremental_run, built_both.full


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
    # every incremental model's temporary table was dropped right after its insert (post-hook)
    # (dbt's unit tests leave theirs too: a few fixture rows, not asserted on here)
    models = {
        r["unique_id"].split(".")[-1]
        for r in inc_run.run_results["results"]
        if r["unique_id"].startswith("model.")
    }
    created, dropped = temporary_tables(tmp_path / "inc" / "logs" / "dbt.log")
    of_models = {t for t in created if t.partition("__dbt_tmp")[0] in models}
    assert {t.partition("__dbt_tmp")[0] for t in of_models} >= set(KEYED_MODELS)
    assert of_models - dropped == set()
    # the features from the compact inputs are the ones from the history, row for row
    for warehouse in (built_warehouse.path, incremental):
        only_model, only_reference, rows = ml_features_against_reference(warehouse)
        assert (only_model, only_reference) == (0, 0) and rows > 0
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


def test_new_month_and_hard_deletes_recompute_every_key(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """A tombstone without the model's key, or a move of retention's last month: all keys, once."""
    incremental, inc_run, full = incremental_and_full(
        built_warehouse, tmp_path, changes_of=new_month_and_hard_deletes
    )
    for name in (
        "gold_group_engagement_per_week",
        "gold_user_retention_monthly",
        "int_user_notifications_daily",
        *ACTIVITY_MODELS,
    ):
        assert "new_loads.inserted_at >" not in compiled(inc_run, name), f"{name} should recompute all keys"
    assert differences(incremental, full) == {}
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        assert con.execute(
            "select max(cohort_month + to_months(month_offset)) from gold.gold_user_retention_monthly"
        ).fetchone()[0] == datetime(2025, 10, 1)
    finally:
        con.close()
    only_model, only_reference, rows = ml_features_against_reference(incremental)
    assert (only_model, only_reference) == (0, 0) and rows > 0
