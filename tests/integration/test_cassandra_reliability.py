"""Crash safety of `loaders load --source cassandra`: SIGKILL at each phase of a full, an incremental and a sweep run.

A run is paused deterministically (LOADERS_TEST_PAUSE_AT, loaders/load/testhooks.py) and
killed with SIGKILL; the next run must leave raw with exactly the source's keys live (no
duplicate key, no lost row, deleted keys tombstoned), and the run after it extracts nothing.
Rows are written into the private keyspace ``loader_test_rel`` with the app owner's role.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cassandra_helpers import (
    canonical,
    event,
    message,
    owner_fixture,
    write_events,
    write_messages,
    write_states,
)
from pg_load_helpers import kill, wait_for_line

from loaders.cassandra.source import TABLES
from loaders.cassandra.tables import TABLE_SPECS
from loaders.settings import PROJECT_DIR
from loaders.table_stats import DELETED_AT_COLUMN

KEYSPACE = "loader_test_rel"
POINTS = ["extract", "normalize", "load", "complete"]
UTC = dt.UTC


owner = owner_fixture(KEYSPACE)


@pytest.fixture
def fresh(owner: Any) -> Any:
    for table in TABLES:
        owner.execute(f"TRUNCATE {KEYSPACE}.{table}")
    history(owner, random.Random(5), 600)
    return owner


def history(session: Any, rng: random.Random, n: int) -> None:
    now = dt.datetime.now(UTC)
    at = [now - dt.timedelta(days=rng.uniform(0, 20)) for _ in range(n)]
    write_messages(session, [message(uuid.uuid4(), t, "hello é 🎉") for t in at], keyspace=KEYSPACE)
    write_events(session, [event(uuid.uuid4(), t, "app_open") for t in at], keyspace=KEYSPACE)
    write_states(session, [(uuid.uuid4(), rng.randrange(10**9), "SEEN", t) for t in at], keyspace=KEYSPACE)


class CassandraEnv:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.warehouse = root / "warehouse" / "wh.duckdb"

    def environ(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOADERS_TEST_")}
        env.update(
            CASSANDRA_KEYSPACE=KEYSPACE,
            WAREHOUSE_PATH=str(self.warehouse),
            DLT_DATA_DIR=str(self.root / "dlt"),
            PYTHONUNBUFFERED="1",
            LOADERS_CURSOR_LAG_SECONDS="0",
            LOADERS_CASSANDRA_SWEEP_HOURS="100000",
        )
        env.update(overrides)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "loaders.cli", "load", "--source", "cassandra", *args]

    def load(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.command(*args),
            env=self.environ(**env),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=PROJECT_DIR,
        )
        assert proc.returncode == 0, f"loaders load failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def kill_at(self, point: str, *args: str, **env: str) -> None:
        proc = subprocess.Popen(
            self.command(*args),
            env=self.environ(LOADERS_TEST_PAUSE_AT=point, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_DIR,
            start_new_session=True,
        )
        try:
            wait_for_line(proc, f"LOADERS_TEST_PAUSED {point}")
        finally:
            kill(proc)


@pytest.fixture
def env(tmp_path: Path) -> CassandraEnv:
    return CassandraEnv(tmp_path)


def assert_raw_is_source(session: Any, env: CassandraEnv) -> None:
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        for table in TABLES:
            spec = TABLE_SPECS[table]
            keys = ", ".join(spec.primary_key)
            source = {
                tuple(canonical(v) for v in r)
                for r in session.execute(f"SELECT {keys} FROM {KEYSPACE}.{table}")
            }
            has_tombstones = bool(
                con.execute(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw_cassandra' "
                    "AND table_name = ? AND column_name = ?",
                    [table, DELETED_AT_COLUMN],
                ).fetchone()[0]
            )
            live = f" WHERE {DELETED_AT_COLUMN} IS NULL" if has_tombstones else ""
            raw = [
                tuple(canonical(v) for v in r)
                for r in con.execute(f"SELECT {keys} FROM raw_cassandra.{table}{live}").fetchall()
            ]
            assert len(raw) == len(set(raw)), f"{table}: duplicate keys in raw"
            assert set(raw) == source, (
                f"{table}: {len(set(raw) - source)} extra, {len(source - set(raw))} missing"
            )
            total = con.execute(
                f"SELECT count(*), count(DISTINCT ({keys})) FROM raw_cassandra.{table}"
            ).fetchone()
            assert total[0] == total[1], f"{table}: a key has two rows (live and tombstone)"


def change_source(session: Any) -> None:
    """Rows arriving days late, and hard deletes."""
    now = dt.datetime.now(UTC)
    write_events(
        session,
        [event(uuid.uuid4(), now - dt.timedelta(days=3), "search") for _ in range(40)],
        keyspace=KEYSPACE,
    )
    write_messages(
        session,
        [message(uuid.uuid4(), now - dt.timedelta(days=5), "late") for _ in range(40)],
        keyspace=KEYSPACE,
    )
    for table in ("messages", "user_events"):
        spec = TABLE_SPECS[table]
        rows = list(
            session.execute(f"SELECT {', '.join(spec.partition_key)} FROM {KEYSPACE}.{table} LIMIT 7")
        )
        where = " AND ".join(f"{c} = ?" for c in spec.partition_key)
        delete = session.prepare(f"DELETE FROM {KEYSPACE}.{table} WHERE {where}")
        for row in rows:
            session.execute(delete, row)


def extracted(stdout: str) -> dict[str, int]:
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0] == "cassandra" and parts[1] in TABLES:
            out[parts[1]] = int(parts[3].replace(",", ""))
    return out


@pytest.mark.parametrize("point", POINTS)
def test_first_load_killed_then_completed(fresh: Any, env: CassandraEnv, point: str) -> None:
    env.kill_at(point)
    env.load()
    assert_raw_is_source(fresh, env)
    after = extracted(env.load().stdout)
    assert after and all(n == 0 for n in after.values()), after


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("mode", ["incremental", "sweep"])
def test_later_run_killed_then_completed(fresh: Any, env: CassandraEnv, point: str, mode: str) -> None:
    env.load()
    change_source(fresh)
    sweep = {"LOADERS_CASSANDRA_SWEEP_HOURS": "0"} if mode == "sweep" else {}
    env.kill_at(point, **sweep)
    env.load(**sweep)
    if mode == "incremental":
        env.load(LOADERS_CASSANDRA_SWEEP_HOURS="0")  # the deletes are a sweep's to find
    assert_raw_is_source(fresh, env)
    after = extracted(env.load().stdout)
    assert after and all(n == 0 for n in after.values()), after
