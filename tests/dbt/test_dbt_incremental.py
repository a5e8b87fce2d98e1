"""(c) Incremental runs equal a full refresh after late-arriving rows and hard deletes.

A built warehouse receives later loads: rows with old business dates (a July message, a
notification state overwritten, a first state for a notification, a payment refunded
weeks later), tombstones of keys deleted in the sources (a user, a payment, a membership,
a notification state, a message, an event), a load whose id is older than the latest
processed one but which committed after it (out of order), and the rows of a load killed
before it committed. The incremental `dbt build` on it must give exactly the tables that
`dbt build --full-refresh` gives on a copy of the same raw data, gold must equal the
answers computed in Python from the raw rows without the deleted keys, and neither reads
the uncommitted load until it commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest
from dbt_expected import notif_success_by_day, user_activity_days
from dbt_raw_fixture import (
    DELETED_AT,
    EVENT_DELETED_UNCOMMITTED,
    KEYS,
    LATE_COMMIT,
    LOAD_UNCOMMITTED,
    RELOADED_WITHOUT,
    build_raw_dataset,
    commit_load,
    deleted_by_late_load,
    late_rows,
    merge_raw,
    reload_in_full,
    reloaded,
    stable_uuid,
    uncommitted_rows,
    write_raw,
)
from dbt_runner import BuiltWarehouse, build_incremental_and_full, run_dbt

INCREMENTAL_MODELS = [
    "staging.stg_postgres__users",
    "staging.stg_postgres__groups",
    "staging.stg_postgres__group_members",
    "staging.stg_postgres__outings",
    "staging.stg_postgres__outing_participants",
    "staging.stg_postgres__notifications",
    "staging.stg_postgres__payments",
    "staging.stg_cassandra__notification_states",
    "staging.stg_cassandra__messages",
    "staging.stg_cassandra__user_events",
    "intermediate.int_notification_states_latest",
]


# raw table -> (staging model, its key columns in the order of the raw key)
STAGED_KEYS = {
    "raw_postgres.users": ("staging.stg_postgres__users", ["user_id"]),
    "raw_postgres.payments": ("staging.stg_postgres__payments", ["payment_id"]),
    "raw_postgres.group_members": ("staging.stg_postgres__group_members", ["group_id", "user_id"]),
    "raw_cassandra.notification_states": (
        "staging.stg_cassandra__notification_states",
        ["user_id", "notification_id"],
    ),
    "raw_cassandra.messages": (
        "staging.stg_cassandra__messages",
        ["group_id", "sent_date", "sent_at", "message_id"],
    ),
    "raw_cassandra.user_events": (
        "staging.stg_cassandra__user_events",
        ["user_id", "event_date", "event_time", "event_id"],
    ),
}


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = ? and table_schema in ('staging', 'intermediate', 'gold') "
        "order by 1",
        [catalog],
    ).fetchall()
    return [name for (name,) in rows]


@pytest.fixture(scope="module")
def incremental_and_full(built_warehouse: BuiltWarehouse, tmp_path_factory):
    assert built_warehouse.build.returncode == 0, built_warehouse.build.output[-3000:]
    work = tmp_path_factory.mktemp("dbt_incremental")
    incremental = built_warehouse.copy_to(work / "incremental.duckdb")
    write_raw(incremental, late_rows(built_warehouse.raw), committed_at=LATE_COMMIT)
    write_raw(incremental, uncommitted_rows(built_warehouse.raw), commit=False)
    reload_in_full(incremental, merge_raw(built_warehouse.raw, late_rows(built_warehouse.raw)))
    built_both = build_incremental_and_full(incremental, work)
    return incremental, built_both.incremental_run, built_both.full, built_both.full_run


def test_incremental_run_was_incremental(incremental_and_full) -> None:
    _, inc_run, _, full_run = incremental_and_full
    assert inc_run.returncode == 0, inc_run.output[-5000:]
    assert full_run.returncode == 0, full_run.output[-5000:]
    compiled = {
        r["unique_id"].split(".")[-1]: r.get("compiled_code") or ""
        for r in inc_run.run_results["results"]
        if r["unique_id"].startswith("model.")
    }
    for model in INCREMENTAL_MODELS:
        name = model.split(".")[1]
        assert "committed.inserted_at >" in compiled[name], f"{name} did not run with its incremental window"


def test_late_rows_arrived(incremental_and_full) -> None:
    incremental, *_ = incremental_and_full
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        late_message = con.execute(
            "select count(*) from staging.stg_cassandra__messages where message_id = ?",
            [stable_uuid("msg-late")],
        ).fetchone()
        out_of_order_event = con.execute(
            "select count(*) from staging.stg_cassandra__user_events where event_id = ?",
            [stable_uuid("event-late")],
        ).fetchone()
        states = dict(
            con.execute(
                "select notification_id, status from gold.gold_notif_impact_per_day "
                "where notification_id in (1, 10)"
            ).fetchall()
        )
        deleted_user = con.execute(
            "select city, deleted_at is not null from staging.stg_postgres__users where user_id = ?",
            [stable_uuid("user-2")],
        ).fetchall()
    finally:
        con.close()
    assert deleted_user == [("Nantes", True)], "the late version of a user replaces the old one"
    assert late_message == (1,)
    assert out_of_order_event == (1,)
    assert states == {1: "DELETED", 10: "CLICKED"}


def test_incremental_equals_full_refresh(incremental_and_full) -> None:
    incremental, _, full, _ = incremental_and_full
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as fr (read_only)")
        tables = _tables(con, "inc")
        assert tables == _tables(con, "fr")
        assert set(INCREMENTAL_MODELS) <= set(tables)
        differences = {}
        for table in tables:
            n_inc = con.execute(f"select count(*) from inc.{table}").fetchone()[0]
            n_full = con.execute(f"select count(*) from fr.{table}").fetchone()[0]
            only_inc = con.execute(
                f"select count(*) from (from inc.{table} except all from fr.{table})"
            ).fetchone()[0]
            only_full = con.execute(
                f"select count(*) from (from fr.{table} except all from inc.{table})"
            ).fetchone()[0]
            if (n_inc, only_inc, only_full) != (n_full, 0, 0):
                differences[table] = {
                    "incremental": n_inc,
                    "full_refresh": n_full,
                    "only_incremental": only_inc,
                    "only_full_refresh": only_full,
                }
        assert not differences, differences
    finally:
        con.close()


def _staged(con: duckdb.DuckDBPyConnection, raw_table: str, row: dict) -> int:
    """How many rows of the staging model hold the key of raw row `row`."""
    model, columns = STAGED_KEYS[raw_table]
    values = [row[k] for k in KEYS[raw_table]]
    # raw timestamps are aware datetimes; staging holds them as naive UTC
    values = [v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v for v in values]
    where = " and ".join(f"{c} = ?" for c in columns)
    return con.execute(f"select count(*) from {model} where {where}", values).fetchone()[0]


def _deleted_rows(built_warehouse: BuiltWarehouse) -> list[tuple[str, dict]]:
    """(raw table, live row) of every key deleted by a tombstone, in the base loads or the late one."""
    base = built_warehouse.raw
    late = deleted_by_late_load(base)
    deleted = list(late.items())
    for table, rows in base.items():
        for tombstone in (r for r in rows if r[DELETED_AT] is not None):
            key = [tombstone[k] for k in KEYS[table]]
            deleted.append((table, next(r for r in rows if [r[k] for k in KEYS[table]] == key)))
    return deleted


def test_deleted_keys_leave_staging_intermediate_and_gold(incremental_and_full, built_warehouse) -> None:
    incremental, _, full, _ = incremental_and_full
    deleted = _deleted_rows(built_warehouse)
    assert len(deleted) == 12
    for warehouse in (incremental, full):
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            still_there = [(table, row) for table, row in deleted if _staged(con, table, row)]
            assert not still_there, (warehouse.name, still_there)
            late = deleted_by_late_load(built_warehouse.raw)
            state = late["raw_cassandra.notification_states"]
            assert con.execute(
                "select count(*) from intermediate.int_notification_states_latest "
                "where user_id = ? and notification_id = ?",
                [state["user_id"], state["notification_id"]],
            ).fetchone() == (0,)
            assert con.execute(
                "select status, is_success from gold.gold_notif_impact_per_day where notification_id = ?",
                [state["notification_id"]],
            ).fetchall() == [(None, False)]
            user = late["raw_postgres.users"]["id"]
            assert con.execute(
                "select count(*) from gold.gold_ml_user_features where user_id = ?", [user]
            ).fetchone() == (0,)
            payment = late["raw_postgres.payments"]
            assert con.execute(
                "select count(*) from intermediate.int_payments_converted where payment_id = ?",
                [payment["id"]],
            ).fetchone() == (0,)
            # the payment was its user's only activity that day: the day leaves gold
            assert con.execute(
                "select count(*) from gold.gold_user_activity_per_day where user_id = ? and date = ?",
                [payment["user_id"], payment["paid_at"].astimezone(UTC).date()],
            ).fetchone() == (0,)
        finally:
            con.close()


def test_keys_absent_from_a_raw_table_reloaded_in_full_leave_staging(incremental_and_full) -> None:
    """A table the loaders reload in full has no tombstone for a key deleted meanwhile."""
    incremental, _, full, _ = incremental_and_full
    notification = RELOADED_WITHOUT["raw_postgres.notifications"]["id"]
    state = RELOADED_WITHOUT["raw_cassandra.notification_states"]["notification_id"]
    for warehouse in (incremental, full):
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            counts = [
                con.execute(sql, [key]).fetchone()[0]
                for sql, key in (
                    (
                        "select count(*) from staging.stg_postgres__notifications where notification_id = ?",
                        notification,
                    ),
                    (
                        "select count(*) from gold.gold_notif_impact_per_day where notification_id = ?",
                        notification,
                    ),
                    (
                        "select count(*) from staging.stg_cassandra__notification_states where notification_id = ?",
                        state,
                    ),
                    (
                        "select count(*) from intermediate.int_notification_states_latest where notification_id = ?",
                        state,
                    ),
                    (
                        "select count(*) from gold.gold_notif_impact_per_day where notification_id = ? and status is not null",
                        state,
                    ),
                )
            ]
        finally:
            con.close()
        assert counts == [0, 0, 0, 0, 0], (warehouse.name, counts)


def test_gold_equals_the_expected_answers_without_the_deleted_keys(
    incremental_and_full, built_warehouse
) -> None:
    incremental, *_ = incremental_and_full
    raw = reloaded(merge_raw(built_warehouse.raw, late_rows(built_warehouse.raw)))
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        activity = {
            (user_id, day): spend
            for user_id, day, spend in con.execute(
                "select user_id, date, total_money_spend from gold.gold_user_activity_per_day"
            ).fetchall()
        }
        notif_days = [
            {"notif_date": day, "seen": seen, "total": total}
            for day, seen, total in con.execute(
                "select notif_date, count(*) filter (where is_success), count(*) "
                "from gold.gold_notif_impact_per_day group by notif_date order by notif_date"
            ).fetchall()
        ]
    finally:
        con.close()
    assert activity == user_activity_days(raw)
    expected_days = [{k: d[k] for k in ("notif_date", "seen", "total")} for d in notif_success_by_day(raw)]
    assert notif_days == expected_days
    assert sum(activity.values(), Decimal(0)) > 0


def _event_count(warehouse, event_name: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select count(*) from staging.stg_cassandra__user_events where event_id = ?",
            [stable_uuid(event_name)],
        ).fetchone()[0]
    finally:
        con.close()


def test_uncommitted_load_is_read_once_committed(incremental_and_full, tmp_path) -> None:
    incremental, _, full, _ = incremental_and_full
    assert _event_count(incremental, "event-uncommitted") == 0
    assert _event_count(full, "event-uncommitted") == 0
    # the uncommitted load's tombstone deletes nothing yet
    assert _event_count(incremental, EVENT_DELETED_UNCOMMITTED) == 1
    assert _event_count(full, EVENT_DELETED_UNCOMMITTED) == 1
    warehouse = tmp_path / "committed.duckdb"
    warehouse.write_bytes(incremental.read_bytes())
    commit_load(warehouse, "raw_cassandra", LOAD_UNCOMMITTED, LATE_COMMIT + timedelta(hours=1))
    run = run_dbt(["run", "--select", "stg_cassandra__user_events"], warehouse, tmp_path / "run")
    assert run.returncode == 0, run.output[-5000:]
    assert _event_count(warehouse, "event-uncommitted") == 1
    assert _event_count(warehouse, "event-late") == 1
    assert _event_count(warehouse, EVENT_DELETED_UNCOMMITTED) == 0


def test_a_warehouse_without_tombstones_upgrades_on_the_first_load_that_has_them(tmp_path) -> None:
    """Raw tables written before the loaders wrote tombstones lack the column: staging builds
    and tests as before; the next load adds the column, and its tombstones delete their keys
    in the incremental run."""
    base = build_raw_dataset()
    old = {table: [r for r in rows if r[DELETED_AT] is None] for table, rows in base.items()}
    warehouse = tmp_path / "old.duckdb"
    write_raw(warehouse, old, tombstones=False)
    first = run_dbt(
        ["build", "--select", "staging", "fx_rates", "--indirect-selection", "cautious"],
        warehouse,
        tmp_path / "first",
    )
    assert first.returncode == 0, first.output[-5000:]
    write_raw(warehouse, late_rows(old), committed_at=LATE_COMMIT)
    second = run_dbt(
        ["build", "--select", "staging", "fx_rates", "--indirect-selection", "cautious"],
        warehouse,
        tmp_path / "second",
    )
    assert second.returncode == 0, second.output[-5000:]
    assert not second.by_status("error", "fail"), second.output[-5000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        deleted = deleted_by_late_load(old)
        assert [t for t, row in deleted.items() if _staged(con, t, row)] == []
        assert con.execute(
            "select count(*) from staging.stg_cassandra__messages where message_id = ?",
            [stable_uuid("msg-late")],
        ).fetchone() == (1,)
    finally:
        con.close()
