"""No silent loss from PostgreSQL: what the app's clocks and transactions do must not hide a change.

Real server, the loader's read-only role, a private schema; the tests run in order on it.
Each case reproduces a way rows used to be lost with an ``updated_at`` cursor: a
transaction open across a run, a future-dated row, an id committed out of order, a hard
delete, an edit that did not move ``updated_at``, a row removed from raw behind the
loader's back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import duckdb
import psycopg2
import pytest
from pg_load_helpers import (
    LoaderEnv,
    assert_raw_matches_source,
    drop_schema,
    make_schema,
    owner_execute,
    raw_rows,
    summary,
)

from loaders.settings import app_postgres_dsn


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoaderEnv]:
    schema = make_schema(payments=2000)
    env = LoaderEnv(schema, tmp_path_factory.mktemp("pg_change_capture"))
    try:
        env.load()
        yield env
    finally:
        drop_schema(schema)


def _ids(env: LoaderEnv, sql: str) -> list[str]:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(f'SET search_path = "{env.schema}"')
            cur.execute(sql)
            return [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def test_a_transaction_open_across_a_run_is_loaded_once_it_commits(env: LoaderEnv) -> None:
    """Its rows carry its start time (now()) and its notification id is below ids committed meanwhile."""
    held_payment, other_payment = _ids(env, "SELECT id FROM payments ORDER BY id LIMIT 2")
    held = psycopg2.connect(app_postgres_dsn())
    try:
        cur = held.cursor()
        cur.execute(f'SET search_path = "{env.schema}"')
        cur.execute(
            "UPDATE payments SET status = 'refunded', updated_at = now() WHERE id = %s", (held_payment,)
        )
        cur.execute(
            "INSERT INTO notifications (user_id, kind, created_at) SELECT id, 'outing_invite', now() FROM users LIMIT 1 RETURNING id"
        )
        held_id = cur.fetchone()[0]
        owner_execute(
            f"UPDATE payments SET status = 'failed', updated_at = now() WHERE id = '{other_payment}';"
            "INSERT INTO notifications (user_id, kind, created_at) SELECT id, 'new_message', now() FROM users LIMIT 1",
            schema=env.schema,
        )
        proc = env.load("--tables", "payments,notifications")
        assert summary(proc.stdout)["payments"][1] == 1 and summary(proc.stdout)["notifications"][1] == 1
        assert held_id not in {r[0] for r in raw_rows(env.warehouse, "notifications", ["id"])}
        held.commit()  # after the run: its rows are stamped before that run's snapshot
    finally:
        held.close()
    proc = env.load("--tables", "payments,notifications")
    assert summary(proc.stdout)["payments"][1] == 1 and summary(proc.stdout)["notifications"][1] == 1
    assert held_id in {r[0] for r in raw_rows(env.warehouse, "notifications", ["id"])}
    statuses = dict(raw_rows(env.warehouse, "payments", ["id", "status"]))
    assert statuses[held_payment] == "refunded" and statuses[other_payment] == "failed"
    assert_raw_matches_source(env, ["payments", "notifications"])


def test_a_future_dated_row_is_loaded_flagged_and_hides_no_later_change(env: LoaderEnv) -> None:
    ahead, later = _ids(env, "SELECT id FROM payments ORDER BY id DESC LIMIT 2")
    owner_execute(
        f"UPDATE payments SET status = 'succeeded', updated_at = now() + interval '1 year' WHERE id = '{ahead}'",
        schema=env.schema,
    )
    proc = env.load("--tables", "payments")
    assert summary(proc.stdout)["payments"][1] == 1
    assert "1 stamped in the future" in proc.stdout
    owner_execute(
        f"UPDATE payments SET status = 'refunded', updated_at = now() WHERE id = '{later}'", schema=env.schema
    )
    proc = env.load("--tables", "payments")
    assert summary(proc.stdout)["payments"][1] == 1
    assert dict(raw_rows(env.warehouse, "payments", ["id", "status"]))[later] == "refunded"
    assert_raw_matches_source(env, ["payments"])


def test_an_edit_that_does_not_move_updated_at_is_loaded(env: LoaderEnv) -> None:
    (user,) = _ids(env, "SELECT id FROM users ORDER BY id LIMIT 1")
    owner_execute(f"UPDATE users SET city = 'Silent edit' WHERE id = '{user}'", schema=env.schema)
    proc = env.load("--tables", "users")
    assert summary(proc.stdout)["users"][1] == 1
    assert dict(raw_rows(env.warehouse, "users", ["id", "city"]))[user] == "Silent edit"


def test_hard_deletes_become_tombstones_and_leave_the_live_rows(env: LoaderEnv) -> None:
    payments = _ids(env, "SELECT id FROM payments ORDER BY id LIMIT 3 OFFSET 5")
    owner_execute(
        "DELETE FROM payments WHERE id IN (" + ", ".join(f"'{p}'" for p in payments) + ");"
        "DELETE FROM group_members WHERE (group_id, user_id) IN (SELECT group_id, user_id FROM group_members LIMIT 2);"
        "DELETE FROM notifications WHERE id = (SELECT min(id) FROM notifications);",
        schema=env.schema,
    )
    proc = env.load()
    assert "postgres.payments: 3 deleted in the source" in proc.stdout
    assert (
        "postgres.group_members: 2 deleted" in proc.stdout
        and "postgres.notifications: 1 deleted" in proc.stdout
    )
    assert "7 of 7 tables match" in proc.stdout
    assert_raw_matches_source(env)  # live rows
    stones = raw_rows(
        env.warehouse, "payments", ["id", "status", "amount", "_loader_deleted_at"], tombstones=True
    )
    stones = [r for r in stones if r[3] is not None]
    assert sorted(r[0] for r in stones) == sorted(payments)
    assert all(r[1] is None and r[2] is None for r in stones)  # a tombstone carries its key only
    again = env.load()
    assert "deleted in the source" not in again.stdout  # found once, not again
    assert all(extracted == 0 for _, extracted, _ in summary(again.stdout).values())


def test_a_row_lost_from_raw_fails_the_load_and_the_next_run_reloads_the_table(env: LoaderEnv) -> None:
    with duckdb.connect(str(env.warehouse)) as conn:
        conn.execute("DELETE FROM raw_postgres.users WHERE id = (SELECT min(id) FROM raw_postgres.users)")
    proc = env.load(check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert "postgres.users does not match its source" in error and "reloads it in full" in error
    source_count, raw_count = (
        int(n.replace(",", "")) for n in re.findall(r"(?:source|raw) ([\d,]+)", error)[:2]
    )
    assert raw_count == source_count - 1
    proc = env.load()
    assert summary(proc.stdout)["users"][0] == "full"
    assert summary(proc.stdout)["payments"][0] == "incremental"
    assert_raw_matches_source(env)


def test_deep_reconcile_finds_and_repairs_a_silent_difference(env: LoaderEnv) -> None:
    """A raw value changed behind the loader's back (what no count can see) is found by --deep and repaired."""
    (payment,) = _ids(env, "SELECT id FROM payments ORDER BY id LIMIT 1 OFFSET 20")
    with duckdb.connect(str(env.warehouse)) as conn:
        conn.execute(f"UPDATE raw_postgres.payments SET amount = amount + 1 WHERE id = '{payment}'")
    assert (
        summary(env.load("--tables", "payments").stdout)["payments"][1] == 0
    )  # a regular load cannot see it
    proc = env.run_command("reconcile", "--deep", "--source", "postgres", "--tables", "payments")
    assert "postgres.payments: 1 row(s) differed and were reloaded" in proc.stdout, proc.stdout
    assert_raw_matches_source(env, ["payments"])
    proc = env.run_command("reconcile", "--deep", "--source", "postgres")
    assert all(
        ": 0 row(s) differed" in line for line in proc.stdout.splitlines() if line.startswith("  postgres.")
    ), proc.stdout


def test_no_copy_of_a_finished_runs_rows_stays_in_dlts_folders(env: LoaderEnv) -> None:
    """Load packages hold copies of the rows (personal data included): deleted once loaded."""
    owner_execute(
        "UPDATE users SET email = 'copy-check@example.org', updated_at = now() WHERE id = "
        "(SELECT id FROM users ORDER BY id LIMIT 1)",
        schema=env.schema,
    )
    env.load("--tables", "users")
    dlt_dir = env.root / "dlt"
    leftovers = [p for p in dlt_dir.rglob("*") if p.is_file() and b"copy-check@example.org" in p.read_bytes()]
    assert not leftovers, leftovers
    packages = list((dlt_dir / "pipelines" / "raw_postgres" / "load").glob("*/*"))
    assert not packages, packages  # no package left: loaded ones deleted, none pending


def test_delete_detection_can_be_switched_off_and_then_nothing_is_counted(env: LoaderEnv) -> None:
    (payment,) = _ids(env, "SELECT id FROM payments ORDER BY id LIMIT 1 OFFSET 40")
    owner_execute(f"DELETE FROM payments WHERE id = '{payment}'", schema=env.schema)
    proc = env.load("--tables", "payments", LOADERS_DETECT_DELETES="false")
    assert "deleted in the source" not in proc.stdout
    assert "not counted this run: postgres.payments" in proc.stdout
    assert payment in {r[0] for r in raw_rows(env.warehouse, "payments", ["id"])}  # still live: not detected
    proc = env.load("--tables", "payments")  # detection back on: found in the next load
    assert "postgres.payments: 1 deleted in the source" in proc.stdout
    assert_raw_matches_source(env, ["payments"])
