"""`loaders run` end to end on the real stores: generator → load → dbt build → publish → analyses.

The analyses' answers are checked against figures computed in plain Python from
the source stores themselves (tests/dbt/dbt_expected.py), not from the warehouse.
A bad value in a source (an unknown notification status) fails the build: the
job exits non-zero with one line, readers keep the last good warehouse, and the
next run after the fix publishes with no duplicate and no lost row. Readers get no raw
schema and no personal data: every value of the published warehouse and every string of the
published docs is searched for the sources' e-mails, usernames and message bodies as the job
loaded them (published_privacy.py), and the same search finds them in its private warehouse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dbt.task.docs
import duckdb
import psycopg2
import psycopg2.extras
import pytest
from dbt_expected import (  # tests/dbt, on the import path from tests/conftest.py
    check_top_n,
    notif_success_by_day,
    same_notif_day,
    same_spender,
    top_spenders,
)
from published_privacy import (
    docs_texts,
    leaks,
    loaded_personal_data,
    other_published_texts,
    warehouse_leaks,
    warehouse_values,
)

from loaders.cassandra.connection import connected
from loaders.settings import CassandraSettings, app_postgres_dsn

REPO = Path(__file__).resolve().parents[2]
LOADERS = Path(sys.executable).parent / "loaders"
DATAGEN = Path(sys.executable).parent / "datagen"
SCALE, SEED = "0.01", "7"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOADERS), *args], cwd=REPO, env=env, text=True, capture_output=True, timeout=900
    )


@pytest.fixture(scope="module")
def job_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("job")
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "PUBLISHED_DIR": str(work / "published"),
        "DLT_DATA_DIR": str(work / "dlt"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    generated = subprocess.run(
        [str(DATAGEN), "--scale", SCALE, "--seed", SEED, "--reset", "--quiet"],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=900,
    )
    assert generated.returncode == 0, generated.stderr[-2000:]
    yield env


def source_rows() -> dict[str, list[dict[str, Any]]]:
    """The source stores' rows in the raw layout dbt_expected reads (one load, unique ids)."""
    raw: dict[str, list[dict[str, Any]]] = {}
    with (
        psycopg2.connect(app_postgres_dsn()) as conn,
        conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
    ):
        for table in ("payments", "notifications"):
            cur.execute(f"select * from {table}")
            raw[f"raw_postgres.{table}"] = [dict(r) for r in cur.fetchall()]
    settings = CassandraSettings.from_env(owner=True)
    with connected(settings) as (_cluster, session):
        session.set_keyspace(settings.keyspace)
        for table in ("notification_states", "messages", "user_events"):
            rows = []
            # connected() gives tuples, as the loaders read them
            result = session.execute(f"select * from {table}")
            for row in result:
                record = dict(zip(result.column_names, row, strict=True))
                for column in ("updated_at", "sent_at", "event_time"):
                    if record.get(column) is not None:
                        record[column] = record[column].replace(tzinfo=UTC)
                rows.append(record)
            raw[f"raw_cassandra.{table}"] = rows
    for rows in raw.values():
        for i, row in enumerate(rows):
            row["_dlt_load_id"], row["_dlt_id"] = "1", str(i)
    return raw


def published_analysis(env: dict[str, str], name: str) -> list[dict[str, Any]]:
    sql = (REPO / "analyses" / f"{name}.sql").read_text(encoding="utf-8")
    with duckdb.connect(str(Path(env["PUBLISHED_DIR"]) / "warehouse.duckdb"), read_only=True) as conn:
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=False)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def first_run(job_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The module's first job, on the freshly generated stores (the tests below read what it published)."""
    return _run(["run"], job_env)


def test_the_job_publishes_marts_whose_analyses_match_the_sources(
    job_env: dict[str, str], first_run: subprocess.CompletedProcess[str]
) -> None:
    result = first_run
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "== notif success rate top days (10 rows) ==" in result.stdout
    assert "== top spenders (20 rows) ==" in result.stdout
    assert "published warehouse:" in result.stdout
    docs = Path(job_env["PUBLISHED_DIR"]) / "docs"
    assert (docs / "index.html").is_file()
    # the docs reuse the build's compiled SQL (docs generate --no-compile): every model and
    # data test the build ran shows its compiled code, and the catalog has every table
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    built = [n for n in manifest["nodes"].values() if n["resource_type"] in {"model", "test"}]
    assert len(built) > 100 and all(n.get("compiled_code") for n in built)
    catalog = json.loads((docs / "catalog.json").read_text(encoding="utf-8"))
    assert {n["unique_id"] for n in built if n["resource_type"] == "model"} <= set(catalog["nodes"])

    # every table reconciled: the source's count in the load's read = raw's live rows = staging's rows
    assert "reconciliation: 10 of 10 tables match source = raw = staging" in result.stdout, result.stdout[
        -3000:
    ]
    with duckdb.connect(str(Path(job_env["PUBLISHED_DIR"]) / "warehouse.duckdb"), read_only=True) as conn:
        checks = conn.execute(
            "select table_name, source_rows, raw_rows, staging_rows, status from ops.reconciliation"
        ).fetchall()
    assert len(checks) == 10 and all(c[4] == "ok" and c[1] == c[2] == c[3] for c in checks), checks

    raw = source_rows()
    days = published_analysis(job_env, "notif_success_rate_top_days")
    assert not check_top_n(days, notif_success_by_day(raw), "notif_date", "success_rate", 10, same_notif_day)
    spenders = [
        {**r, "user_id": uuid.UUID(str(r["user_id"]))} for r in published_analysis(job_env, "top_spenders")
    ]
    assert not check_top_n(spenders, top_spenders(raw), "user_id", "total_spent", 20, same_spender)


def test_readers_get_no_raw_schema_and_no_personal_data(
    job_env: dict[str, str], first_run: subprocess.CompletedProcess[str]
) -> None:
    assert first_run.returncode == 0, first_run.stdout[-3000:]
    published = Path(job_env["PUBLISHED_DIR"]) / "warehouse.duckdb"
    build = Path(job_env["WAREHOUSE_PATH"])
    personal = loaded_personal_data(build)  # the generated stores' rows, as this job loaded them
    assert personal.emails and personal.usernames and personal.bodies
    assert len(personal.searched_bodies()) > 0.8 * len(personal.bodies), "most bodies are searched for"

    # the search finds them where they are: the job's private build warehouse
    private = {value for texts in warehouse_values(build).values() for value in leaks(texts, personal)}
    assert private & personal.emails and private & personal.usernames and private & personal.bodies

    with duckdb.connect(str(build), read_only=True) as conn:
        emails = conn.execute("select count(distinct email) from staging.stg_postgres__users").fetchone()
    with duckdb.connect(str(published), read_only=True) as conn:
        schemas = {
            r[0]
            for r in conn.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        users_columns = [r[0] for r in conn.execute("describe staging.stg_postgres__users").fetchall()]
        free_text = conn.execute(  # written by users: group names, outing titles, event properties (searches)
            "select table_name || '.' || column_name from information_schema.columns where table_schema = 'staging' "
            "and (table_name, column_name) in (('stg_postgres__groups', 'group_name'), "
            "('stg_postgres__outings', 'title'), ('stg_cassandra__user_events', 'properties'))"
        ).fetchall()
        pseudonyms = conn.execute(
            "select count(distinct email_hmac) from staging.stg_postgres__users"
        ).fetchone()
        gold_count = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'gold'"
        ).fetchone()
    assert not any(schema.startswith("raw_") for schema in schemas) and {"staging", "gold", "ops"} <= schemas
    assert "email" not in users_columns and "username" not in users_columns
    assert free_text == [], "free text typed by users is left out of the readers' copy (meta.pii: drop)"
    assert pseudonyms == emails, "one pseudonym per e-mail: readers can still count users"
    assert gold_count == (6,)
    assert warehouse_leaks(published, personal) == []

    docs = Path(job_env["PUBLISHED_DIR"]) / "docs"
    dbt_page = Path(dbt.task.docs.__file__).parent / "index.html"
    assert (docs / "index.html").read_bytes() == dbt_page.read_bytes(), "the page is dbt's own, with no data"
    assert leaks(docs_texts(docs), personal) == []
    others = other_published_texts(Path(job_env["PUBLISHED_DIR"]))  # the status page, metrics …
    assert {path: leaks(texts, personal) for path, texts in others.items()} == {key: [] for key in others}
    catalog = json.loads((docs / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["sources"] == {}
    assert all(not n["metadata"]["schema"].startswith("raw_") for n in catalog["nodes"].values())
    users = catalog["nodes"]["model.outings.stg_postgres__users"]["columns"]
    assert "email" not in users and "email_hmac" in users


def _published_mtime(env: dict[str, str]) -> float:
    return (Path(env["PUBLISHED_DIR"]) / "warehouse.duckdb").stat().st_mtime_ns


def test_an_unknown_status_fails_the_build_and_publishes_nothing(job_env: dict[str, str]) -> None:
    before = _published_mtime(job_env)
    settings = CassandraSettings.from_env(owner=True)
    with connected(settings) as (_cluster, session):
        session.set_keyspace(settings.keyspace)
        user_id, notification_id = uuid.uuid4(), 10**12
        insert = session.prepare(
            "insert into notification_states (user_id, notification_id, status, updated_at) values (?, ?, ?, ?)"
        )
        try:
            session.execute(insert, (user_id, notification_id, "ARCHIVED", datetime.now(UTC)))
            failed = _run(["run"], job_env)
            assert failed.returncode == 1, failed.stdout[-3000:]
            error_lines = [
                line for line in failed.stderr.splitlines() if line.startswith("loaders run: error:")
            ]
            assert len(error_lines) == 1 and "nothing published" in error_lines[0]
            assert "accepted_values" in failed.stdout and "notification_states" in failed.stdout
            # the run tested only the loads newer than the published warehouse, and that was enough
            assert "data tests on staging: the rows of loads committed after" in failed.stdout
            assert _published_mtime(job_env) == before, (
                "a failed build must not replace the readers' warehouse"
            )

            # the app fixes the value; the next run completes
            session.execute(insert, (user_id, notification_id, "SEEN", datetime.now(UTC)))
            fixed = _run(["run"], job_env)
            assert fixed.returncode == 0, (fixed.stdout[-3000:], fixed.stderr[-3000:])
        finally:
            session.execute(
                "delete from notification_states where user_id = %s and notification_id = %s",
                (user_id, notification_id),
            )
    assert _published_mtime(job_env) != before
    with duckdb.connect(
        job_env["WAREHOUSE_PATH"], read_only=True
    ) as conn:  # raw is in the build warehouse only
        raw_count, distinct_keys = conn.execute(
            "select count(*), count(distinct (user_id, notification_id)) from raw_cassandra.notification_states"
        ).fetchone()
    with duckdb.connect(str(Path(job_env["PUBLISHED_DIR"]) / "warehouse.duckdb"), read_only=True) as conn:
        staged = conn.execute(
            "select status from staging.stg_cassandra__notification_states where notification_id = ?",
            [notification_id],
        ).fetchall()
    assert raw_count == distinct_keys, "no duplicate in raw after the failed and the fixed run"
    assert staged == [("SEEN",)]


def test_test_every_row_runs_the_staging_tests_on_all_rows(job_env: dict[str, str]) -> None:
    node_totals = r" of (\d+) (?:PASS|WARN|FAIL|ERROR|OK) "
    scoped = _run(["run", "--skip", "load", "--skip", "docs"], job_env)
    assert scoped.returncode == 0, scoped.stdout[-3000:]
    assert "data tests on staging: the rows of loads committed after" in scoped.stdout
    # nothing loaded since the published warehouse: no model to rebuild, dbt's build not started
    assert "build plan: nothing to build, none of the 10 raw tables changed" in scoped.stdout
    assert not re.findall(node_totals, _build_lines(scoped.stdout))

    every_row = _run(["run", "--skip", "load", "--skip", "docs", "--test-every-row"], job_env)
    assert every_row.returncode == 0, every_row.stdout[-3000:]
    assert "data tests: every row" in every_row.stdout
    assert "build plan: every model (no published warehouse to compare with, or every row is tested)" in (
        every_row.stdout
    )
    every_row_totals = set(re.findall(node_totals, _build_lines(every_row.stdout)))
    assert len(every_row_totals) == 1 and int(every_row_totals.pop()) > 100


def test_a_node_out_of_dbt_memory_is_built_again_alone_then_under_twice_the_limit(
    job_env: dict[str, str],
) -> None:
    # 32MB is too little for DuckDB to read a seed (its CSV reader asks for a 30.5 MiB buffer at
    # once), alone too; 64MB is enough for every node at this scale: the seed fails, the nodes
    # after it are skipped, the retry on one thread fails the same way, and the retry under 64MB
    # builds them all
    starved = {**job_env, "DBT_DUCKDB_MEMORY_LIMIT": "32MB"}
    run = _run(["run", "--skip", "load", "--skip", "docs", "--test-every-row"], starved)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    first = re.findall(r"dbt: (\d+) node\(s\) ran out of DuckDB's 32MB beside .*one at a time", run.stdout)
    alone = re.findall(
        r"dbt: (\d+) node\(s\) ran out of DuckDB's 32MB even alone \((.+)\): .* under 64MB", run.stdout
    )
    assert len(first) == 1 and int(first[0]) >= 1, run.stdout[-3000:]
    assert len(alone) == 1 and 1 <= int(alone[0][0]) <= int(first[0]), run.stdout[-3000:]
    assert "DBT_DUCKDB_MEMORY_LIMIT=64MB" in run.stdout
    with duckdb.connect(job_env["WAREHOUSE_PATH"], read_only=True) as conn:
        statuses = conn.execute(
            "select status, count(*), count(distinct unique_id) from ops.dbt_results "
            "where run_id = (select run_id from ops.runs order by started desc limit 1) group by status"
        ).fetchall()
    by_status = {status: (rows, distinct) for status, rows, distinct in statuses}
    assert set(by_status) <= {"success", "pass", "warn"}, by_status  # every node once, the retried ones too
    assert all(rows == distinct for rows, distinct in by_status.values())
    assert sum(rows for rows, _ in by_status.values()) > 100
    with duckdb.connect(job_env["WAREHOUSE_PATH"], read_only=True) as conn:
        commands = dict(
            conn.execute(
                "select command, count(*) from ops.dbt_results "
                "where run_id = (select run_id from ops.runs order by started desc limit 1) group by command"
            ).fetchall()
        )
    assert commands.get("retry --threads 1 under 64MB", 0) >= int(alone[0][0]), commands
    assert set(commands) <= {"build", "retry --threads 1", "retry --threads 1 under 64MB"}, commands
    retried = sum(n for command, n in commands.items() if command != "build")
    monitoring = Path(job_env["PUBLISHED_DIR"]) / "monitoring"
    assert f"outings_dbt_nodes_retried {retried}.0" in (monitoring / "metrics").read_text()
    assert 'id="memory-retries"' in (monitoring / "status.html").read_text()


def test_a_change_to_one_table_rebuilds_what_it_feeds_and_the_marts_follow(job_env: dict[str, str]) -> None:
    """One payment changes in the source: the run rebuilds only what raw_postgres.payments feeds, and
    the published analyses still match the sources; the docs still show every node's compiled SQL."""
    with psycopg2.connect(app_postgres_dsn()) as conn, conn.cursor() as cur:
        cur.execute(
            "update payments set amount = amount + 250, updated_at = now() "
            "where id = (select id from payments where status = 'succeeded' order by id limit 1)"
        )
    changed = _run(["run"], job_env)
    assert changed.returncode == 0, (changed.stdout[-3000:], changed.stderr[-3000:])
    # payments, and whatever the tests before this one left behind (the delete that ends the
    # unknown-status test reaches raw_cassandra.notification_states in this run)
    plan = re.search(r"build plan: what \d+ changed raw tables feed \(([^)]*)\)", changed.stdout)
    assert plan is not None, changed.stdout[-3000:]
    assert "raw_postgres.payments" in plan[1].split(", ") and "raw_cassandra.user_events" not in plan[1]
    built = _build_lines(changed.stdout)
    assert "stg_postgres__payments" in built and "gold_user_activity_per_day" in built
    assert "stg_cassandra__user_events" not in built and "stg_postgres__users " not in built
    spenders = [
        {**r, "user_id": uuid.UUID(str(r["user_id"]))} for r in published_analysis(job_env, "top_spenders")
    ]
    assert not check_top_n(spenders, top_spenders(source_rows()), "user_id", "total_spent", 20, same_spender)
    manifest = json.loads(
        (Path(job_env["PUBLISHED_DIR"]) / "docs" / "manifest.json").read_text(encoding="utf-8")
    )
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in {"model", "test"}]
    assert len(nodes) > 100 and all(n.get("compiled_code") for n in nodes)


def _build_lines(stdout: str) -> str:
    """dbt's node lines of the build (the freshness step's `N of M … freshness of …` lines left out)."""
    return "\n".join(line for line in stdout.splitlines() if " freshness of " not in line)


def test_a_row_lost_from_raw_fails_the_run_and_the_next_run_recovers(job_env: dict[str, str]) -> None:
    """Removed from raw behind the loader's back: the load's reconciliation fails the run before any
    publish; the next run reloads that table in full and publishes again."""
    assert _run(["run"], job_env).returncode == 0
    with duckdb.connect(job_env["WAREHOUSE_PATH"]) as conn:
        conn.execute(
            "delete from raw_postgres.payments where id = (select min(id) from raw_postgres.payments)"
        )
    published = _published_mtime(job_env)
    failed = _run(["run"], job_env)
    assert failed.returncode == 2, (failed.stdout[-3000:], failed.stderr[-3000:])
    error = failed.stderr.strip().splitlines()[-1]
    assert "postgres.payments does not match its source" in error and "reloads it in full" in error, error
    assert _published_mtime(job_env) == published  # readers keep the last good copy
    recovered = _run(["run"], job_env)
    assert recovered.returncode == 0, (recovered.stdout[-3000:], recovered.stderr[-3000:])
    assert "payments: full (reloaded in full: raw lacked 1 row(s)" in recovered.stderr
    assert "reconciliation: 10 of 10 tables match" in recovered.stdout
    assert _published_mtime(job_env) > published


def test_a_row_lost_from_staging_fails_the_publish_with_the_fix(job_env: dict[str, str]) -> None:
    with duckdb.connect(job_env["WAREHOUSE_PATH"]) as conn:
        conn.execute(
            "delete from staging.stg_postgres__users where user_id = (select min(user_id) from staging.stg_postgres__users)"
        )
    published = _published_mtime(job_env)
    failed = _run(["run"], job_env)
    assert failed.returncode == 2, (failed.stdout[-3000:], failed.stderr[-3000:])
    error = failed.stderr.strip().splitlines()[-1]
    assert (
        "postgres.users does not match its source" in error
        and "staging" in error
        and "--full-refresh" in error
    )
    assert _published_mtime(job_env) == published
    with duckdb.connect(job_env["WAREHOUSE_PATH"], read_only=True) as conn:
        statuses = dict(
            conn.execute(
                "select table_name, status from ops.reconciliation where run_id = "
                "(select run_id from ops.runs order by started desc limit 1)"
            ).fetchall()
        )
    assert statuses["users"] == "mismatch" and statuses["payments"] == "ok"
    assert _run(["run", "--full-refresh"], job_env).returncode == 0


def test_a_published_copy_held_read_write_or_corrupt_is_replaced(job_env: dict[str, str]) -> None:
    """A reader that opened the published file read-write, then a corrupt file: the job warns in one
    line, tests every row, publishes a good copy and leaves no temporary file."""
    target = Path(job_env["PUBLISHED_DIR"]) / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "time.sleep(600)",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        held = _run(["run"], job_env)
    finally:
        holder.kill()
        holder.wait()
    assert held.returncode == 0, (held.stdout[-3000:], held.stderr[-3000:])
    assert "cannot be read" in held.stdout and "data tests: every row" in held.stdout
    target.chmod(0o644)
    target.write_bytes(b"not a duckdb file" * 1000)
    corrupt = _run(["run"], job_env)
    assert corrupt.returncode == 0, (corrupt.stdout[-3000:], corrupt.stderr[-3000:])
    assert "cannot be read" in corrupt.stdout
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("select count(*) from gold.gold_user_activity_per_day").fetchone()[0] > 0
    assert not list(target.parent.glob(".*.tmp*"))
