"""Memory bounded in bytes, not rows: a table whose rows carry 1 MB texts.

A scratch schema (the app's DDL) gets 300 outings whose titles are 1 MiB each
(300 MiB of text, stored compressed by PostgreSQL's TOAST: pg_stats' widths would
say ~12 KB a row). ``loaders load`` runs as a child process; its peak RSS
(``wait4``) is the bound checked, never a time.

- The read (scanner, Arrow batches, dlt's buffer and parquet writer): the batches
  are sized from the rows' decoded bytes (``PostgresSession.row_bytes``), the
  streams share one byte budget and the read is split by key ranges, so the whole
  extract stays under 512 MB (about 300 MB here, the same every run: glibc's mmap
  threshold is held, ``loaders.malloc_tuning``). The run is stopped right after
  its extract (``LOADERS_TEST_PAUSE_AT=normalize``).
- The whole load, DuckDB's commit included: DuckDB 1.5.5 keeps a row group's
  strings (up to 122,880 rows, here all 300 MiB) in memory until it commits and
  checkpoints them, and fails under the loaders' 128 MB limit (measured: 670 MB RSS
  and "failed to pin block" at 128 MB; 1.4 GB RSS with a 512 MB limit). Marked
  xfail(strict): it reports as soon as DuckDB, or the loader, does better.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_load_helpers import LoaderEnv, drop_schema, make_schema, owner_execute, wait_for_line

from loaders.postgres.arrow import uuid_to_text
from loaders.postgres.catalog import read_catalog
from loaders.postgres.session import PostgresSession, SessionOptions
from loaders.settings import PostgresSettings

ROWS = 300
MIB = 1 << 20
PEAK_RSS_MB = 512


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = make_schema(payments=15_000, special=False)  # 300 outings
    try:
        owner_execute(
            f"UPDATE outings SET title = repeat(md5(id::text), {MIB // 32}); ANALYZE outings",
            schema=name,
        )
        yield name
    finally:
        drop_schema(name)


@pytest.fixture
def env(schema: str, tmp_path: Path) -> LoaderEnv:
    return LoaderEnv(schema, tmp_path)


def _peak_rss_mb(proc: subprocess.Popen[str], kill: bool) -> tuple[int, float]:
    """(exit status, peak RSS in MB) of the child, killed first when asked."""
    if kill:
        os.killpg(proc.pid, signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


def test_source_has_wide_rows(schema: str) -> None:
    with PostgresSession(PostgresSettings.from_env().dsn) as session:
        table = read_catalog(session.cursor(), schema, ["outings"])["outings"]
        cur = session.cursor()
        cur.execute(f"SELECT count(*), min(octet_length(title)) FROM {table.qualified}")
        assert cur.fetchone() == (ROWS, MIB)
        assert session.row_bytes(table) >= MIB  # the decoded size, not TOAST's compressed one


def test_wide_rows_are_read_in_batches_bounded_in_bytes(schema: str) -> None:
    options = SessionOptions(batch_bytes=16 * MIB)
    with PostgresSession(PostgresSettings.from_env().dsn, options) as session:
        table = read_catalog(session.cursor(), schema, ["outings"])["outings"]
        plan = session.table_read(table, f"SELECT {table.select_list()} FROM {table.qualified}", ["id"])
        assert 1 <= plan.batch_rows <= options.batch_bytes // MIB
        assert len(plan.queries) == -(-ROWS // plan.batch_rows)  # key ranges of a batch each
        ids: list[str] = []
        for batch in session.read(plan, lambda b: b):
            assert batch.nbytes <= 2 * options.batch_bytes
            ids += uuid_to_text(batch.column("id")).to_pylist()
    assert len(ids) == len(set(ids)) == ROWS  # every row once


def test_extract_of_1mb_rows_stays_under_512mb(env: LoaderEnv) -> None:
    proc = env.start("--tables", "outings", "--full-refresh", verbose=True, LOADERS_TEST_PAUSE_AT="normalize")
    try:
        lines = wait_for_line(proc, "LOADERS_TEST_PAUSED normalize")
    except BaseException:
        _peak_rss_mb(proc, kill=True)
        raise
    _, peak = _peak_rss_mb(proc, kill=True)
    assert any("outings: full" in line for line in lines)  # paused after the extract of the table
    plan = [line.split(": ", 2)[-1].strip() for line in lines if "bytes a row" in line]
    assert plan, "the read's plan was not logged"
    print(f"extract of 300 MiB of 1 MiB texts: peak RSS {peak:.0f} MB ({plan[0]})")  # shown with pytest -s
    assert peak < PEAK_RSS_MB, (
        f"peak RSS {peak:.0f} MB while extracting 300 MiB of 1 MiB texts (plan: {plan[0]}; "
        f"{os.cpu_count()} CPUs, MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')} "
        "in the test, the loader holds it: loaders/malloc_tuning.py)"
    )


@pytest.mark.xfail(
    strict=True,
    reason="DuckDB 1.5.5 holds a row group's strings in memory to commit them: 300 MiB of 1 MiB texts "
    "fail under the 128 MB limit (see the module docstring)",
)
def test_whole_load_of_1mb_rows_stays_under_512mb(env: LoaderEnv) -> None:
    proc = env.start("--tables", "outings", "--full-refresh")
    code, peak = _peak_rss_mb(proc, kill=False)
    assert code == 0, "the load failed"
    assert peak < PEAK_RSS_MB, f"peak RSS {peak:.0f} MB"
