"""Memory bounded in bytes, not rows: a table whose rows carry 1 MB texts.

A scratch schema (the app's DDL) gets 300 outings whose titles are 1 MiB each
(300 MiB of text, stored compressed by PostgreSQL's TOAST: pg_stats' widths would
say ~12 KB a row). ``loaders load`` runs as a child process; its peak RSS
(``wait4``) is the bound checked, never a time.

- The read (scanner, Arrow batches, dlt's buffer and parquet writer): the batches
  are sized from the rows' decoded bytes (``PostgresSession.row_bytes``), the
  streams share one byte budget and the read is split by key ranges, so the whole
  extract stays under 512 MB (about 243 MB here, the same every run: glibc's mmap
  threshold is held and pyarrow allocates with malloc, ``loaders.malloc_tuning``;
  seen 241-245 MB here). The run is stopped right after its extract
  (``LOADERS_TEST_PAUSE_AT=normalize``) and its peak read there, while it waits: the
  loader's own high-water mark (``VmHWM``). Not ``wait4``'s ``ru_maxrss``: that one
  also counts the parent's image the child held between ``fork`` and ``exec``, so in
  CI, after hundreds of tests, it measured pytest (522 and 526 MB in two runs whose
  loader never passed 292 MB in /proc). A failure says how much of the peak was
  anonymous memory and how much the libraries' file-backed pages.
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
import threading
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
    """(exit status, peak RSS in MB) of the child, killed first when asked: an upper bound, since
    ``ru_maxrss`` also counts the parent's image the child held until its ``exec``."""
    if kill:
        os.killpg(proc.pid, signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


def _proc_status_kb(pid: int) -> dict[str, str]:
    """The sizes of /proc/PID/status (``VmHWM``, ``RssAnon``, …), as their numbers of KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: v.split()[0] for k, _, v in (line.partition(":") for line in status.splitlines()) if v.split()}


def _own_peak_rss_mb(pid: int) -> float:
    """The process's own peak RSS so far (``VmHWM``: the memory of its program since ``exec``), in MB."""
    return int(_proc_status_kb(pid)["VmHWM"]) / 1024


def test_source_has_wide_rows(schema: str) -> None:
    with PostgresSession(PostgresSettings.from_env().dsn) as session:
        table = read_catalog(session.cursor(), schema, ["outings"])["outings"]
        cur = session.cursor()
        cur.execute(f"SELECT count(*), min(octet_length(title)) FROM {table.qualified}")
        assert cur.fetchone() == (ROWS, MIB)
        assert session.row_bytes(table) >= MIB  # the decoded size, not TOAST's compressed one


def test_wide_rows_are_read_in_batches_bounded_in_bytes(schema: str) -> None:
    options = SessionOptions(batch_bytes=16 * MIB, wide_batch_bytes=8 * MIB)
    share = options.wide_batch_bytes // options.streams  # a stream's batch, rows this wide
    with PostgresSession(PostgresSettings.from_env().dsn, options) as session:
        table = read_catalog(session.cursor(), schema, ["outings"])["outings"]
        plan = session.table_read(table, f"SELECT {table.select_list()} FROM {table.qualified}", ["id"])
        assert 1 <= plan.batch_rows <= share // MIB
        assert len(plan.queries) == -(-ROWS // plan.batch_rows)  # key ranges of a batch each
        ids: list[str] = []
        for batch in session.read(plan, lambda b: b):
            assert batch.nbytes <= 2 * share
            ids += uuid_to_text(batch.column("id")).to_pylist()
    assert len(ids) == len(set(ids)) == ROWS  # every row once


def test_extract_of_1mb_rows_stays_under_512mb(env: LoaderEnv) -> None:
    proc = env.start("--tables", "outings", "--full-refresh", verbose=True, LOADERS_TEST_PAUSE_AT="normalize")
    memory = _MemorySampler(proc.pid)
    try:
        lines = wait_for_line(proc, "LOADERS_TEST_PAUSED normalize")
    except BaseException:
        memory.stop()
        _peak_rss_mb(proc, kill=True)
        raise
    memory.stop()
    peak = _own_peak_rss_mb(proc.pid)  # paused: nothing runs between this read and the kill
    _peak_rss_mb(proc, kill=True)
    assert any("outings: full" in line for line in lines)  # paused after the extract of the table
    plan = [line.split(": ", 2)[-1].strip() for line in lines if "bytes a row" in line]
    assert plan, "the read's plan was not logged"
    print(f"extract of 300 MiB of 1 MiB texts: peak RSS {peak:.0f} MB ({plan[0]}; {memory.summary()})")
    assert peak < PEAK_RSS_MB, (
        f"peak RSS {peak:.0f} MB while extracting 300 MiB of 1 MiB texts (plan: {plan[0]}; {memory.summary()}; "
        f"{os.cpu_count()} CPUs, MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}, "
        f"ARROW_DEFAULT_MEMORY_POOL={os.environ.get('ARROW_DEFAULT_MEMORY_POOL', 'unset')} in the test; "
        "the loader holds both: loaders/malloc_tuning.py)"
    )


class _MemorySampler:
    """The child's resident memory every 20 ms (/proc/PID/status): what a failure message needs.

    Anonymous memory is the process's own (buffers, heaps); file-backed memory is the
    libraries' pages, which another machine may fault in differently."""

    def __init__(self, pid: int) -> None:
        self.samples: list[tuple[int, int]] = []  # (RssAnon, RssFile) in MB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pid,), daemon=True)
        self._thread.start()

    def _run(self, pid: int) -> None:
        while not self._stop.wait(0.02):
            try:
                kb = _proc_status_kb(pid)
            except OSError:
                return
            if "RssAnon" in kb:
                self.samples.append((int(kb["RssAnon"]) // 1024, int(kb["RssFile"]) // 1024))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def summary(self) -> str:
        if not self.samples:
            return "no /proc samples"
        anon, file = max(self.samples, key=sum)
        first_anon = self.samples[0][0]
        return (
            f"at the sampled peak {anon} MB anonymous + {file} MB file-backed; anonymous from {first_anon} MB "
            f"at start to {max(a for a, _ in self.samples)} MB; {len(self.samples)} samples"
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
