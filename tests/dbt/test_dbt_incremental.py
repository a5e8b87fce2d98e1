"""(c) Incremental runs equal a full refresh after late-arriving rows.

A built warehouse receives later loads: rows with old business dates (a July message, a
notification state overwritten, a first state for a notification, a payment refunded
weeks later), a load whose id is older than the latest processed one but which committed
after it (out of order), and the rows of a load killed before it committed. The
incremental `dbt build` on it must give exactly the tables that `dbt build --full-refresh`
gives on a copy of the same raw data; neither reads the uncommitted load until it commits.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from dbt_raw_fixture import (
    LATE_COMMIT,
    LOAD_UNCOMMITTED,
    commit_load,
    late_rows,
    stable_uuid,
    uncommitted_rows,
    write_raw,
)
from dbt_runner import BuiltWarehouse, run_dbt

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
    inc_run = run_dbt(["build"], incremental, work / "inc")
    full = work / "full.duckdb"
    full.write_bytes(incremental.read_bytes())
    full_run = run_dbt(["build", "--full-refresh"], full, work / "full")
    return incremental, inc_run, full, full_run


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
                differences[table] = dict(
                    incremental=n_inc, full_refresh=n_full, only_incremental=only_inc,
                    only_full_refresh=only_full,
                )
        assert not differences, differences
    finally:
        con.close()


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
    warehouse = tmp_path / "committed.duckdb"
    warehouse.write_bytes(incremental.read_bytes())
    commit_load(warehouse, "raw_cassandra", LOAD_UNCOMMITTED, LATE_COMMIT + timedelta(hours=1))
    run = run_dbt(["run", "--select", "stg_cassandra__user_events"], warehouse, tmp_path / "run")
    assert run.returncode == 0, run.output[-5000:]
    assert _event_count(warehouse, "event-uncommitted") == 1
    assert _event_count(warehouse, "event-late") == 1
