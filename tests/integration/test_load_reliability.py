"""Crash safety and the single writer of `loaders load`, with real processes killed by SIGKILL.

A run is paused deterministically (LOADERS_TEST_PAUSE_AT, see loaders/load/testhooks.py)
inside extract, normalize, load (right after DuckDB committed a job, before dlt
recorded it: the worst moment) or before the load is marked complete, then killed
with SIGKILL. The next run must leave raw with exactly the source rows by key: no
duplicate, no lost row.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_load_helpers import (
    LoaderEnv,
    assert_raw_matches_source,
    drop_schema,
    kill,
    make_schema,
    owner_execute,
    summary,
    wait_for_line,
)

POINTS = ["extract", "normalize", "load", "complete"]


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = make_schema(payments=4000)
    try:
        yield name
    finally:
        drop_schema(name)


@pytest.fixture
def env(schema: str, tmp_path: Path) -> LoaderEnv:
    return LoaderEnv(schema, tmp_path)


def change_source(schema: str) -> None:
    owner_execute(
        """
        UPDATE payments SET status = 'refunded', updated_at = clock_timestamp()
            WHERE id IN (SELECT id FROM payments ORDER BY random() LIMIT 40);
        UPDATE outings SET status = 'done', updated_at = clock_timestamp()
            WHERE id IN (SELECT id FROM outings ORDER BY random() LIMIT 10);
        INSERT INTO users SELECT gen_random_uuid(), 'new ' || gen_random_uuid(), 'n@x.y', NULL, now(), now(), NULL
            FROM generate_series(1, 7);
        INSERT INTO notifications (user_id, kind, created_at)
            SELECT id, 'group_invite', now() FROM users LIMIT 25;
        """,
        schema=schema,
    )


def kill_at(env: LoaderEnv, point: str, *args: str) -> list[str]:
    proc = env.start(*args, LOADERS_TEST_PAUSE_AT=point)
    try:
        lines = wait_for_line(proc, f"LOADERS_TEST_PAUSED {point}")
    finally:
        kill(proc)
    return lines


@pytest.mark.parametrize("point", POINTS)
def test_first_load_killed_then_completed(env: LoaderEnv, point: str) -> None:
    kill_at(env, point)
    proc = env.load()
    if point in ("normalize", "load", "complete"):
        assert "interrupted run" in proc.stderr  # the package was finished, not redone
    assert_raw_matches_source(env)
    # and the run after is a no-op
    proc = env.load()
    assert all(extracted == 0 for _, extracted, _ in summary(proc.stdout).values())


@pytest.mark.parametrize("point", POINTS)
def test_incremental_load_killed_then_completed(env: LoaderEnv, schema: str, point: str) -> None:
    env.load()
    change_source(schema)
    kill_at(env, point)
    env.load()
    assert_raw_matches_source(env)


def test_killed_again_while_finishing_the_interrupted_run(env: LoaderEnv, schema: str) -> None:
    env.load()
    change_source(schema)
    kill_at(env, "load")
    kill_at(env, "complete")  # the resume itself is killed
    change_source(schema)
    env.load()
    env.load()  # the resumed package is loaded first, then a new extract picks the new changes
    assert_raw_matches_source(env)


def test_full_refresh_killed_during_load(env: LoaderEnv) -> None:
    env.load()
    kill_at(env, "load", "--full-refresh")
    env.load()
    assert_raw_matches_source(env)


def test_second_writer_fails_fast_then_waits(env: LoaderEnv) -> None:
    first = env.start(LOADERS_TEST_PAUSE_AT="extract")
    try:
        wait_for_line(first, "LOADERS_TEST_PAUSED extract")
        second = env.load(check=False)  # a writer that waited would never end: the first is paused
        assert second.returncode == 2
        assert "waiting for the warehouse lock" not in second.stderr
        error = second.stderr.strip().splitlines()[-1]
        assert "being written by pid" in error and "--wait" in error
        waiting = env.start("--wait")
        queued = wait_for_line(waiting, "waiting for the warehouse lock")  # a line, not a sleep: CI is slow
        assert waiting.poll() is None  # queued behind the first
    finally:
        kill(first)
    _out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, "".join(queued) + err
    assert "held by" in queued[-1]
    assert_raw_matches_source(env)


def test_lost_warehouse_is_rebuilt_in_full(env: LoaderEnv, schema: str) -> None:
    env.load()
    env.warehouse.unlink()
    change_source(schema)
    proc = env.load()
    assert "full" in proc.stdout
    assert_raw_matches_source(env)


def test_warehouse_restored_from_an_older_copy_catches_up(env: LoaderEnv, schema: str) -> None:
    env.load()
    backup = env.warehouse.with_name("backup.duckdb")
    shutil.copyfile(env.warehouse, backup)
    change_source(schema)
    env.load()
    shutil.copyfile(backup, env.warehouse)  # the warehouse goes back in time; dlt's local state does not
    change_source(schema)
    proc = env.load()
    assert "ahead of the warehouse" in proc.stderr
    assert_raw_matches_source(env)


def test_warehouse_held_open_by_another_program(env: LoaderEnv) -> None:
    env.load()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(120)",
            str(env.warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        proc = env.load(check=False)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert "is open by process" in error and "close that program" in error
    env.load()
    assert_raw_matches_source(env)


def test_parallel_streams_read_one_consistent_snapshot(env: LoaderEnv) -> None:
    """Full reads split over several connections (ctid ranges) see exactly the rows of one instant."""
    env.load("--full-refresh", LOADERS_PG_STREAMS="3", LOADERS_PG_MIN_BLOCKS_PER_STREAM="1")
    assert_raw_matches_source(env)


@pytest.mark.parametrize("first", [True, False], ids=["first-load", "incremental"])
def test_discard_pending_redoes_the_interrupted_tables(env: LoaderEnv, schema: str, first: bool) -> None:
    """The escape hatch for a package that cannot be finished: it is dropped and its tables reloaded."""
    if not first:
        env.load()
        change_source(schema)
    kill_at(env, "load")
    proc = env.load("--discard-pending")
    assert "discarding 1 pending load package(s)" in proc.stderr
    assert_raw_matches_source(env)
    proc = env.load()
    assert all(extracted == 0 for _, extracted, _ in summary(proc.stdout).values())
