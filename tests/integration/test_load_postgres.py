"""`loaders load --source postgres` against the real local PostgreSQL and a scratch warehouse.

The module's tests run in order on one source schema: first load, incremental
runs, a rerun with no change, then the source's surprises (late commits, a new
column, an unknown value, a changed type, a missing table, a server down, bad
credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from pg_load_helpers import (
    KEYS,
    LoaderEnv,
    assert_raw_matches_source,
    drop_schema,
    make_schema,
    owner_execute,
    raw_columns,
    raw_rows,
    source_columns,
    source_rows,
    summary,
)

from loaders.load.errors import user_error
from loaders.postgres.arrow import uuid_to_text
from loaders.postgres.catalog import read_catalog
from loaders.postgres.scanner import open_scanner
from loaders.postgres.session import PostgresSession, SessionOptions, ctid_ranges
from loaders.settings import PostgresSettings


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoaderEnv]:
    schema = make_schema(payments=3000)
    try:
        yield LoaderEnv(schema, tmp_path_factory.mktemp("load_postgres"))
    finally:
        drop_schema(schema)


def test_first_load_copies_every_table_exactly(env: LoaderEnv) -> None:
    proc = env.load()
    result = summary(proc.stdout)
    assert set(result) == set(KEYS)
    assert all(mode == "full" for mode, _, _ in result.values())
    assert all(extracted == in_raw for _, extracted, in_raw in result.values())
    assert "extract" in proc.stderr  # progress
    assert_raw_matches_source(env)


def test_raw_layout_and_types(env: LoaderEnv) -> None:
    for table in KEYS:
        columns = raw_columns(env.warehouse, table)
        names = [name for name, _ in columns]
        assert names == [*source_columns(env.schema, table), "_loader_deleted_at", "_dlt_load_id", "_dlt_id"]
    types = dict(raw_columns(env.warehouse, "payments"))
    assert types["id"] == types["user_id"] == types["outing_id"] == "UUID"  # 16 bytes, not text
    assert types["amount"] == "DECIMAL(12,2)"
    assert types["paid_at"] == types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["currency"] == types["status"] == "VARCHAR"
    assert types["_dlt_load_id"] == "VARCHAR" and types["_dlt_id"] == "UUID"
    assert types["_loader_deleted_at"] == "TIMESTAMP WITH TIME ZONE"  # tombstones of hard deletes
    assert dict(raw_columns(env.warehouse, "notifications"))["id"] == "BIGINT"
    amounts = {r[0]: r[1] for r in raw_rows(env.warehouse, "payments", ["id", "amount"])}
    assert amounts["00000000-0000-0000-0000-0000000000aa"] == Decimal("9999999999.99")
    assert amounts["00000000-0000-0000-0000-0000000000ab"] == Decimal("0.01")
    load_ids = {r[0] for r in raw_rows(env.warehouse, "users", ["_dlt_load_id"])}
    assert len(load_ids) == 1 and re.fullmatch(r"\d{10}\.\d+", load_ids.pop())
    dlt_ids = [r[0] for r in raw_rows(env.warehouse, "payments", ["_dlt_id"])]
    assert len(set(dlt_ids)) == len(dlt_ids)


def test_rerun_without_source_change_changes_nothing(env: LoaderEnv) -> None:
    before = {t: sorted(raw_rows(env.warehouse, t), key=str) for t in KEYS}
    proc = env.load()
    result = summary(proc.stdout)
    assert all(mode == "incremental" for mode, _, _ in result.values())
    assert all(extracted == 0 for _, extracted, _ in result.values()), proc.stdout
    after = {t: sorted(raw_rows(env.warehouse, t), key=str) for t in KEYS}
    assert after == before  # same rows, same _dlt_load_id and _dlt_id: nothing was rewritten


def test_incremental_run_merges_changes_and_appends(env: LoaderEnv) -> None:
    owner_execute(
        """
        UPDATE payments SET status = 'refunded', updated_at = now() WHERE id IN (SELECT id FROM payments ORDER BY id LIMIT 30);
        UPDATE users SET city = 'Lyon', updated_at = now() WHERE id IN (SELECT id FROM users ORDER BY id LIMIT 5);
        UPDATE outing_participants SET rsvp = 'declined', updated_at = now()
            WHERE (outing_id, user_id) IN (SELECT outing_id, user_id FROM outing_participants LIMIT 7);
        INSERT INTO payments SELECT gen_random_uuid(), id, NULL, 12.34, 'EUR', 'pending', NULL, now(), now()
            FROM users LIMIT 11;
        INSERT INTO notifications (user_id, kind, created_at) SELECT id, 'new_message', now() FROM users LIMIT 13;
        """,
        schema=env.schema,
    )
    proc = env.load()
    result = summary(proc.stdout)
    assert result["payments"][:2] == ("incremental", 41)
    assert result["users"][1] == 5
    assert result["outing_participants"][1] == 7
    assert result["notifications"][1] == 13
    assert result["groups"][1] == 0
    assert_raw_matches_source(env)


def test_rows_stamped_behind_the_cursor_are_loaded_whatever_the_lag(env: LoaderEnv) -> None:
    """Change capture goes by transaction id: an updated_at minutes or an hour behind the last
    load (a transaction that started long ago, an app server whose clock runs behind) is loaded."""
    owner_execute(
        """
        UPDATE groups SET name = 'late commit', updated_at = (SELECT max(updated_at) FROM groups) - interval '3 minutes'
            WHERE id = (SELECT id FROM groups ORDER BY id LIMIT 1);
        UPDATE groups SET name = 'an hour behind', updated_at = (SELECT max(updated_at) FROM groups) - interval '1 hour'
            WHERE id IN (SELECT id FROM groups ORDER BY id DESC LIMIT 10);
        """,
        schema=env.schema,
    )
    proc = env.load("--tables", "groups")
    assert summary(proc.stdout)["groups"][1] == 11
    names = [r[0] for r in raw_rows(env.warehouse, "groups", ["name"])]
    assert names.count("an hour behind") == 10 and "late commit" in names
    assert_raw_matches_source(env, ["groups"])


def test_unknown_status_value_loads_into_raw(env: LoaderEnv) -> None:
    owner_execute("ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_status_check", schema=env.schema)
    owner_execute(
        "UPDATE payments SET status = 'chargeback 💸', updated_at = now() "
        "WHERE id = '00000000-0000-0000-0000-0000000000ab'",
        schema=env.schema,
    )
    env.load("--tables", "payments")
    statuses = {r[0]: r[1] for r in raw_rows(env.warehouse, "payments", ["id", "status"])}
    assert statuses["00000000-0000-0000-0000-0000000000ab"] == "chargeback 💸"


def test_new_source_column_appears_in_raw_with_its_values(env: LoaderEnv) -> None:
    owner_execute("ALTER TABLE users ADD COLUMN nickname text DEFAULT 'nick'", schema=env.schema)
    owner_execute(
        "UPDATE users SET nickname = NULL WHERE id = '00000000-0000-0000-0000-000000000001'",
        schema=env.schema,
    )
    proc = env.load("--tables", "users")
    assert summary(proc.stdout)["users"][0] == "full"
    assert "nickname" in proc.stderr  # the reason is shown
    assert "nickname" in [c for c, _ in raw_columns(env.warehouse, "users")]  # added at the end of the table
    assert_raw_matches_source(env, ["users"])
    # and the next run is incremental again
    proc = env.load("--tables", "users")
    assert summary(proc.stdout)["users"][:2] == ("incremental", 0)


def test_columns_of_other_types_keep_their_values(env: LoaderEnv) -> None:
    """Types outside the contract, added in the source: exact values, the raw type a user expects."""
    owner_execute(
        "ALTER TABLE groups ADD COLUMN flag boolean, ADD COLUMN small int2, ADD COLUMN wide numeric(40,2), "
        "ADD COLUMN free numeric, ADD COLUMN doc jsonb, ADD COLUMN born date, ADD COLUMN code char(3), "
        "ADD COLUMN blob bytea, ADD COLUMN local_at timestamp, ADD COLUMN tags text[]",
        schema=env.schema,
    )
    owner_execute(
        "UPDATE groups SET flag = true, small = -7, wide = 123456789012345678901234567890123456.78, "
        """free = 1.000000000000000000001, doc = '{"k": [1, "é"]}', born = '2001-02-03', code = 'ab', """
        r"blob = '\x00ff', local_at = '2026-01-02 03:04:05.678901', tags = ARRAY['a', 'b''c']",
        schema=env.schema,
    )
    owner_execute(
        "UPDATE groups SET flag = false, small = NULL WHERE id = (SELECT id FROM groups ORDER BY id LIMIT 1)",
        schema=env.schema,
    )
    env.load("--tables", "groups")
    types = dict(raw_columns(env.warehouse, "groups"))
    assert types["flag"] == "BOOLEAN" and types["small"] == "SMALLINT"
    assert types["wide"] == types["free"] == types["doc"] == types["tags"] == "VARCHAR"  # no exact Arrow type
    assert types["born"] == "DATE" and types["blob"] == "BLOB"
    assert types["local_at"] == "TIMESTAMP WITH TIME ZONE"  # dlt's timestamp: a wall time is taken as UTC
    columns = ["flag", "small", "wide", "free", "doc", "born", "code", "blob", "local_at", "tags"]
    values = set(raw_rows(env.warehouse, "groups", columns))
    assert values == {
        (
            flag,
            small,
            "123456789012345678901234567890123456.78",
            "1.000000000000000000001",
            '{"k": [1, "é"]}',
            date(2001, 2, 3),
            "ab",
            b"\x00\xff",
            datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            "{a,b'c}",  # PostgreSQL's text of the array
        )
        for flag, small in ((True, -7), (False, None))
    }
    # the other tests compare raw with the source generically: the source drops them again
    owner_execute(f"ALTER TABLE groups {', '.join(f'DROP COLUMN {c}' for c in columns)}", schema=env.schema)


def test_changed_column_type_stops_that_table_with_the_fix_then_full_refresh_takes_it(env: LoaderEnv) -> None:
    owner_execute("ALTER TABLE payments ALTER COLUMN amount TYPE numeric(14,3)", schema=env.schema)
    owner_execute(
        "UPDATE users SET city = 'Nantes', updated_at = now() WHERE city IS NULL", schema=env.schema
    )
    proc = env.load("--tables", "payments,users", check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1
    assert "payments.amount changed type" in lines[0] and "--full-refresh" in lines[0]
    result = summary(proc.stdout)
    assert result["payments"][0] == "failed"
    assert result["users"][0] == "incremental" and result["users"][1] > 0  # the other table was loaded
    assert_raw_matches_source(env, ["users"])
    proc = env.load("--tables", "payments", "--full-refresh")
    assert summary(proc.stdout)["payments"][0] == "full"
    assert dict(raw_columns(env.warehouse, "payments"))["amount"] == "DECIMAL(14,3)"
    assert_raw_matches_source(env, ["payments"])


def test_empty_source_table_still_gets_its_raw_table(env: LoaderEnv) -> None:
    owner_execute("CREATE TABLE IF NOT EXISTS empty_probe (id int)", schema=env.schema)  # unrelated noise
    owner_execute("DELETE FROM notifications", schema=env.schema)
    proc = env.load("--tables", "notifications", "--full-refresh")
    assert summary(proc.stdout)["notifications"] == ("full", 0, 0)
    assert [c for c, _ in raw_columns(env.warehouse, "notifications")][:2] == ["id", "user_id"]


def test_missing_source_table_names_the_fix(env: LoaderEnv) -> None:
    owner_execute("ALTER TABLE outing_participants RENAME TO outing_participants_old", schema=env.schema)
    try:
        proc = env.load(check=False)
    finally:
        owner_execute("ALTER TABLE outing_participants_old RENAME TO outing_participants", schema=env.schema)
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert f"{env.schema}.outing_participants not found in PostgreSQL" in error and "--tables" in error
    result = summary(proc.stdout)
    assert result["outing_participants"][0] == "failed"
    assert all(mode != "failed" for table, (mode, _, _) in result.items() if table != "outing_participants")


def test_unknown_table_name_lists_the_valid_ones(env: LoaderEnv) -> None:
    proc = env.load("--tables", "paymentz", check=False)
    assert proc.returncode == 2 and "choose among" in proc.stderr and "payments" in proc.stderr


def _dsn_with(**parts: str) -> str:
    dsn = PostgresSettings.from_env().dsn
    match = re.fullmatch(r"(postgres(?:ql)?://)([^:]+):([^@]*)@([^:/]+):(\d+)/(.*)", dsn)
    assert match, "the tests expect a URL-style POSTGRES_DSN"
    scheme, user, password, host, port, db = match.groups()
    values = {"user": user, "password": password, "host": host, "port": port, "db": db, **parts}
    return f"{scheme}{values['user']}:{values['password']}@{values['host']}:{values['port']}/{values['db']}"


def test_source_down_fails_fast_with_the_fix(env: LoaderEnv) -> None:
    proc = env.load(check=False, timeout=120, POSTGRES_DSN=_dsn_with(port="9"))  # no retry loop
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert "refused the connection" in error and "make up" in error and "POSTGRES_DSN" in error


def test_bad_password_is_reported_and_never_printed(env: LoaderEnv) -> None:
    secret = "Wr0ng-Secret-" + "x" * 8
    proc = env.load(check=False, verbose=True, POSTGRES_DSN=_dsn_with(password=secret))
    assert proc.returncode == 2
    assert "rejected the credentials" in proc.stderr.strip().splitlines()[-1]
    assert secret not in proc.stdout and secret not in proc.stderr
    real = PostgresSettings.from_env().dsn.split(":")[2].split("@")[0]
    assert real not in proc.stdout and real not in proc.stderr


def test_scanner_connection_errors_never_carry_the_password(env: LoaderEnv) -> None:
    """DuckDB repeats its ATTACH string in connection errors: the password goes into a secret instead."""
    secret = "Wr0ng-Scanner-" + "y" * 8
    with pytest.raises(duckdb.Error) as caught:
        open_scanner(_dsn_with(password=secret))
    assert "password authentication failed" in str(caught.value)
    assert secret not in str(caught.value)
    error = user_error(caught.value, "extract", "raw_postgres", str(env.warehouse))
    assert "rejected the credentials" in str(error) and secret not in str(error)


def test_real_password_never_in_verbose_logs(env: LoaderEnv) -> None:
    proc = env.load("--tables", "groups", verbose=True)
    password = PostgresSettings.from_env().dsn.split(":")[2].split("@")[0]
    assert password not in proc.stdout and password not in proc.stderr
    assert "DEBUG" in proc.stderr or "INFO" in proc.stderr


def test_parallel_streams_read_the_coordinators_snapshot(env: LoaderEnv) -> None:
    """Rows committed after the session's snapshot are seen by no stream, however the heap is split."""
    with PostgresSession(
        PostgresSettings.from_env().dsn, SessionOptions(streams=3, min_blocks_per_stream=1)
    ) as session:
        table = read_catalog(session.cursor(), env.schema, ["payments"])["payments"]
        before = len(source_rows(env.schema, "payments"))
        owner_execute(
            "INSERT INTO payments SELECT gen_random_uuid(), user_id, outing_id, amount, currency, status, paid_at, "
            "created_at, updated_at FROM payments LIMIT 50; DELETE FROM payments WHERE ctid IN "
            "(SELECT ctid FROM payments ORDER BY id LIMIT 7)",
            schema=env.schema,
        )
        parts = ctid_ranges(table.blocks, session.stream_count(table.blocks, full_scan=True))
        assert len(parts) == 3
        queries = [f"SELECT {table.select_list()} FROM {table.qualified} WHERE {where}" for where in parts]
        ids: list[str] = []
        for batch in session.read(queries, lambda batch: batch):
            ids += uuid_to_text(batch.column("id")).to_pylist()
            assert batch.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert len(ids) == len(set(ids)) == before  # the snapshot's rows, each once
    assert len(source_rows(env.schema, "payments")) == before + 50 - 7  # the changes did commit


def test_full_refresh_reloads_everything(env: LoaderEnv) -> None:
    proc = env.load("--full-refresh")
    result = summary(proc.stdout)
    assert all(mode == "full" for mode, _, _ in result.values())
    assert_raw_matches_source(env)


def test_benchmark_runs_at_tiny_scale() -> None:
    """bench/bench_load.py (run by hand at 2 M payments) works end to end, here at a tiny scale."""
    import subprocess
    import sys
    import uuid

    from loaders.settings import PROJECT_DIR

    schema = f"lt_bench_{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "bench" / "bench_load.py"),
            "--payments",
            "2000",
            "--schema",
            schema,
            "--drop-schema",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_DIR,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    payments = [line for line in lines if line.startswith("payments ")]
    assert len(payments) == 2  # the full load alone, and the full/incremental pair
    assert payments[0].split()[1] == "2,000"
    assert any(line.startswith("peak RSS") for line in lines)
