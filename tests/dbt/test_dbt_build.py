"""(a) `dbt build` on the raw fixture: seeds, models, data tests and unit tests all pass;
the only warnings are the relationship tests that report the fixture's deliberate orphans."""

from __future__ import annotations

import json

import duckdb
from dbt_runner import BuiltWarehouse, run_dbt

# Orphans are data: these relationship tests warn, by design, on the fixture's orphans
# (state rows of unknown notifications, a payment of a user PostgreSQL does not have).
EXPECTED_WARNINGS = {
    "relationships_stg_cassandra__notification_states_notification_id",
    "relationships_int_notification_states_latest_notification_id",
    "relationships_stg_postgres__payments_user_id",
}
MODELS = {
    "staging": [
        "stg_postgres__users",
        "stg_postgres__groups",
        "stg_postgres__group_members",
        "stg_postgres__outings",
        "stg_postgres__outing_participants",
        "stg_postgres__payments",
        "stg_postgres__notifications",
        "stg_cassandra__notification_states",
        "stg_cassandra__messages",
        "stg_cassandra__user_events",
        "fx_rates",
    ],
    "intermediate": [
        "int_notification_states_latest",
        "int_payments_converted",
        "int_user_activity_daily",
        "int_user_notifications_daily",
    ],
    "gold": [
        "gold_notif_impact_per_day",
        "gold_user_activity_per_day",
        "gold_outing_summary",
        "gold_group_engagement_per_week",
        "gold_user_retention_monthly",
        "gold_ml_user_features",
    ],
}


def test_build_succeeds(built_warehouse: BuiltWarehouse) -> None:
    build = built_warehouse.build
    assert build.returncode == 0, build.output[-5000:]
    assert not build.by_status("error", "fail", "skipped"), build.output[-5000:]
    resource_types = {uid.split(".")[0] for uid in build.statuses()}
    assert {"model", "seed", "test", "unit_test"} <= resource_types


def test_only_deliberate_orphans_warn(built_warehouse: BuiltWarehouse) -> None:
    warned = built_warehouse.build.by_status("warn")
    names = {uid.split(".")[2] for uid in warned}
    unexpected = {n for n in names if not any(n.startswith(w) for w in EXPECTED_WARNINGS)}
    assert not unexpected, f"unexpected warnings: {sorted(unexpected)}"
    assert len(warned) == len(EXPECTED_WARNINGS), warned


def test_unit_tests_ran(built_warehouse: BuiltWarehouse) -> None:
    unit = [uid for uid in built_warehouse.build.statuses() if uid.startswith("unit_test.")]
    assert len(unit) >= 9
    assert all(built_warehouse.build.statuses()[uid] == "pass" for uid in unit)


def test_layers_are_schemas_named_exactly(built_warehouse: BuiltWarehouse) -> None:
    con = duckdb.connect(str(built_warehouse.path), read_only=True)
    try:
        for schema, tables in MODELS.items():
            found = {
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = ?",
                    [schema],
                ).fetchall()
            }
            assert set(tables) <= found, (schema, sorted(set(tables) - found))
    finally:
        con.close()


def test_gold_carries_no_personal_data(built_warehouse: BuiltWarehouse) -> None:
    """Neither the columns nor the values of gold hold an email, username or message body."""
    raw = built_warehouse.raw
    secrets = {u["email"] for u in raw["raw_postgres.users"]}
    secrets |= {u["username"] for u in raw["raw_postgres.users"]}
    secrets |= {m["body"] for m in raw["raw_cassandra.messages"] if m["body"]}
    con = duckdb.connect(str(built_warehouse.path), read_only=True)
    try:
        for table in MODELS["gold"]:
            for row in con.execute(f"select * from gold.{table}").fetchall():
                leaked = {str(value) for value in row} & secrets
                assert not leaked, (table, leaked)
    finally:
        con.close()


def test_docs_generate(built_warehouse: BuiltWarehouse, tmp_path) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    result = run_dbt(["docs", "generate"], warehouse, tmp_path)
    assert result.returncode == 0, result.output[-3000:]
    assert (tmp_path / "target" / "catalog.json").exists()


def test_source_freshness_reads_event_time(built_warehouse: BuiltWarehouse, tmp_path) -> None:
    """Freshness is measured on event time (each table's loaded_at_field): the fixture's
    rows (2025-09) are stale by the default thresholds and fresh with a generous one."""
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    stale = run_dbt(["source", "freshness"], warehouse, tmp_path / "stale")
    assert stale.returncode != 0
    assert len(stale.statuses()) == 10, stale.output[-3000:]  # _dlt_loads has no freshness
    assert set(stale.by_status("error")) == set(stale.statuses()), stale.output[-3000:]
    fresh = run_dbt(
        [
            "source",
            "freshness",
            "--vars",
            "{freshness_warn_after_hours: 10000000, freshness_error_after_hours: 20000000}",
        ],
        warehouse,
        tmp_path / "fresh",
    )
    assert fresh.returncode == 0, fresh.output[-3000:]
    assert len(fresh.statuses()) == 10
    assert set(fresh.by_status("pass")) == set(fresh.statuses())


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {name for (name,) in rows}


def test_every_model_source_and_column_is_documented(built_warehouse: BuiltWarehouse) -> None:
    """The YAML documents every model, seed and source table, and exactly their columns."""
    manifest_file = built_warehouse.work_dir / "target" / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")] + list(
        manifest["sources"].values()
    )
    assert len(nodes) == 21 + 1 + 12  # models, the seed, source tables (both schemas' _dlt_loads too)
    con = duckdb.connect(str(built_warehouse.path), read_only=True)
    problems = []
    try:
        for node in nodes:
            name = f"{node['schema']}.{node.get('alias') or node['name']}"
            if not node["description"].strip():
                problems.append(f"{name}: no description")
            documented = set(node["columns"])
            actual = _columns(con, node["schema"], node.get("alias") or node["name"])
            if documented != actual:
                problems.append(f"{name}: documented {sorted(documented)} != {sorted(actual)}")
            problems.extend(
                f"{name}.{column}: no description"
                for column, spec in node["columns"].items()
                if not spec["description"].strip()
            )
            if node["resource_type"] == "model":
                if not node["config"]["contract"]["enforced"]:
                    problems.append(f"{name}: contract not enforced")
                problems.extend(
                    f"{name}.{column}: no data_type"
                    for column, spec in node["columns"].items()
                    if not spec.get("data_type")
                )
            if node["resource_type"] == "source" and node["name"] != "_dlt_loads":
                loaded_at = node.get("loaded_at_field") or ""
                if loaded_at not in actual or loaded_at.startswith("_"):
                    problems.append(f"{name}: freshness not on a business time column ({loaded_at!r})")
    finally:
        con.close()
    assert not problems, problems


def test_not_null_constraint_fails_the_model(built_warehouse: BuiltWarehouse, tmp_path) -> None:
    """not_null is an enforced constraint: a raw user without an e-mail fails stg_postgres__users."""
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "update raw_postgres.users set email = null where id = (select min(id) from raw_postgres.users)"
        )
    finally:
        con.close()
    # the row changed in place, in a load already processed: only a full refresh reads it again
    result = run_dbt(
        ["run", "--select", "stg_postgres__users", "--full-refresh"], warehouse, tmp_path / "run"
    )
    assert result.returncode != 0
    assert "NOT NULL constraint failed" in result.output and "email" in result.output, result.output[-3000:]
