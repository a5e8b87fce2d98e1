"""The build plan: which raw tables changed since the published warehouse, on a real DuckDB file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from loaders.job.build_plan import BuildPlan, ProjectTables, RawSource, plan_build
from loaders.job.project_fingerprint import project_fingerprint

PUBLISHED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FINGERPRINT = "same-project"
SOURCES = tuple(RawSource("raw_postgres", name, "raw_postgres", name) for name in ("payments", "users"))
PROJECT = ProjectTables(
    SOURCES, (("main_staging", "stg_postgres__payments"), ("main_staging", "stg_postgres__users"))
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Two raw tables and their staging tables, all rows from the one load the published copy holds."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema raw_postgres; create schema main_staging")
        conn.execute(
            "create table raw_postgres._dlt_loads (load_id varchar, status bigint, inserted_at timestamptz)"
        )
        conn.execute(
            "create table raw_postgres.payments (id varchar, _dlt_load_id varchar, _loader_deleted_at timestamptz)"
        )
        conn.execute("create table raw_postgres.users (id varchar, _dlt_load_id varchar)")
        conn.execute("create table main_staging.stg_postgres__payments (payment_id varchar)")
        conn.execute("create table main_staging.stg_postgres__users (user_id varchar)")
        _commit(conn, "1764590000.1", PUBLISHED_AT)  # tested_through: the newest commit at the publish
        conn.execute(
            "insert into raw_postgres.payments select 'p' || i, '1764590000.1', null from range(5000) t(i)"
        )
        conn.execute("insert into raw_postgres.users values ('u1', '1764590000.1')")
    return path


def _commit(conn: duckdb.DuckDBPyConnection, load_id: str, at: datetime, status: int = 0) -> None:
    conn.execute("insert into raw_postgres._dlt_loads values (?, ?, ?)", [load_id, status, at])


def _plan(path: Path, **overrides: object) -> BuildPlan:
    arguments: dict[str, object] = {
        "tested_through": PUBLISHED_AT,
        "published_fingerprint": FINGERPRINT,
        "fingerprint": FINGERPRINT,
        **overrides,
    }
    return plan_build(path, PROJECT, **arguments)  # type: ignore[arg-type]


def test_no_load_since_the_publish_builds_nothing(warehouse: Path) -> None:
    plan = _plan(warehouse)
    assert plan.nothing_to_build and plan.select_arguments() == []
    assert "nothing to build" in plan.line() and "2 raw tables" in plan.line()


def test_a_new_row_selects_what_its_table_feeds_only(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        _commit(conn, "1764600000.5", PUBLISHED_AT + timedelta(hours=1))
        conn.execute("insert into raw_postgres.payments values ('p-new', '1764600000.5', null)")
    plan = _plan(warehouse)
    assert [s.name for s in plan.changed] == ["payments"] and plan.unchanged == 1
    assert plan.select_arguments() == ["--select", "source:raw_postgres.payments+"]


def test_a_tombstone_alone_is_a_change(warehouse: Path) -> None:
    """A hard delete leaves no live row, only the tombstone the load writes in its own load."""
    with duckdb.connect(str(warehouse)) as conn:
        _commit(conn, "1764600000.5", PUBLISHED_AT + timedelta(hours=1))
        conn.execute(
            "update raw_postgres.payments set _dlt_load_id = '1764600000.5', _loader_deleted_at = now() "
            "where id = 'p17'"
        )
    assert [s.name for s in _plan(warehouse).changed] == ["payments"]


def test_a_package_committed_late_with_an_older_load_id_is_a_change(warehouse: Path) -> None:
    """A package created before the publish but committed after it (finished by a later run)."""
    with duckdb.connect(str(warehouse)) as conn:
        _commit(conn, "1764589000.9", PUBLISHED_AT + timedelta(minutes=30))
        conn.execute("insert into raw_postgres.users values ('u-late', '1764589000.9')")
    assert [s.name for s in _plan(warehouse).changed] == ["users"]


def test_a_load_not_committed_is_no_change(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        _commit(conn, "1764600000.5", PUBLISHED_AT + timedelta(hours=1), status=1)
        conn.execute("insert into raw_postgres.users values ('u-pending', '1764600000.5')")
    assert _plan(warehouse).nothing_to_build


def test_an_empty_raw_table_counts_as_changed(warehouse: Path) -> None:
    """A source table emptied and reloaded in full leaves no row of a new load to see."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("delete from raw_postgres.users")
    assert [s.name for s in _plan(warehouse).changed] == ["users"]


def test_every_table_changed_builds_everything_seeds_included(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        _commit(conn, "1764600000.5", PUBLISHED_AT + timedelta(hours=1))
        conn.execute("insert into raw_postgres.payments values ('p-new', '1764600000.5', null)")
        conn.execute("insert into raw_postgres.users values ('u-new', '1764600000.5')")
    plan = _plan(warehouse)
    assert plan.everything_because == "all 2 raw tables changed since the published build"
    assert plan.select_arguments() == [] and not plan.nothing_to_build


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"tested_through": None}, "no published warehouse"),
        ({"published_fingerprint": None}, "does not record which project"),
        ({"published_fingerprint": "an-older-project"}, "changed since the published build"),
    ],
)
def test_every_model_when_the_published_build_is_no_reference(
    warehouse: Path, overrides: dict[str, object], reason: str
) -> None:
    plan = _plan(warehouse, **overrides)
    assert plan.everything_because is not None and reason in plan.everything_because
    assert plan.select_arguments() == [] and not plan.nothing_to_build


def test_every_model_when_a_model_has_no_table_yet(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("drop table main_staging.stg_postgres__users")
    plan = _plan(warehouse)
    assert (
        plan.everything_because
        == "1 models or seeds not in the build warehouse, e.g. main_staging.stg_postgres__users"
    )


def test_every_model_when_the_project_did_not_parse(warehouse: Path) -> None:
    plan = plan_build(
        warehouse,
        None,
        tested_through=PUBLISHED_AT,
        published_fingerprint=FINGERPRINT,
        fingerprint=FINGERPRINT,
    )
    assert plan.everything_because == "the project did not parse"


def test_project_tables_from_a_manifest_file(tmp_path: Path) -> None:
    """dlt's own tables are no selector; tests and ephemeral models write no table."""
    manifest = {
        "sources": {
            "source.outings.raw_postgres.payments": {
                "source_name": "raw_postgres",
                "name": "payments",
                "schema": "raw_postgres",
                "identifier": "payments",
            },
            "source.outings.raw_postgres._dlt_loads": {
                "source_name": "raw_postgres",
                "name": "_dlt_loads",
                "schema": "raw_postgres",
                "identifier": "_dlt_loads",
            },
        },
        "nodes": {
            "model.outings.stg": {
                "resource_type": "model",
                "config": {"materialized": "incremental"},
                "schema": "main_staging",
                "alias": "STG",
                "name": "stg",
            },
            "model.outings.eph": {
                "resource_type": "model",
                "config": {"materialized": "ephemeral"},
                "schema": "main",
                "alias": "eph",
                "name": "eph",
            },
            "seed.outings.fx_rates": {
                "resource_type": "seed",
                "config": {"materialized": "seed"},
                "schema": "main_staging",
                "alias": "fx_rates",
                "name": "fx_rates",
            },
            "test.outings.unique_stg": {
                "resource_type": "test",
                "config": {"materialized": "test"},
                "schema": "main_dbt_test__audit",
                "alias": "unique_stg",
                "name": "unique_stg",
            },
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    project = ProjectTables.from_manifest_file(path)
    assert project.sources == (RawSource("raw_postgres", "payments", "raw_postgres", "payments"),)
    assert project.built == (("main_staging", "fx_rates"), ("main_staging", "stg"))


def test_the_fingerprint_moves_with_the_sql_the_vars_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "stg.sql"
    model.write_text("select 1 as id\n", encoding="utf-8")
    (tmp_path / "dbt_project.yml").write_text("name: outings\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not part of the build\n", encoding="utf-8")
    first = project_fingerprint(None, tmp_path)
    assert project_fingerprint(None, tmp_path) == first
    (tmp_path / "README.md").write_text("edited\n", encoding="utf-8")
    assert project_fingerprint(None, tmp_path) == first
    assert project_fingerprint("{as_of_date: '2026-10-01'}", tmp_path) != first
    model.write_text("select 2 as id\n", encoding="utf-8")
    assert project_fingerprint(None, tmp_path) != first


def test_every_model_when_the_build_warehouse_is_older_than_the_published_one(warehouse: Path) -> None:
    """A build warehouse restored from a copy older than what was published."""
    plan = _plan(warehouse, tested_through=PUBLISHED_AT + timedelta(days=1))
    assert plan.everything_because == "the build warehouse holds no load as new as the published warehouse's"
