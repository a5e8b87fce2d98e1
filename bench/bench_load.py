"""Benchmark of `loaders load`: the binary COPY floor and the loader, side by side, in one run.

    .venv/bin/python bench/bench_load.py                       # 2,000,000 payments (minutes)
    .venv/bin/python bench/bench_load.py --payments 20000      # the CI scale (seconds)
    .venv/bin/python bench/bench_load.py --reuse               # keep the filled schema of a previous run
    .venv/bin/python bench/bench_load.py --cassandra           # also bare Cassandra scan vs loader
    .venv/bin/python bench/bench_load.py --reuse --only-scanner --compare-tree /tmp/old  # before/after

PostgreSQL: a private schema (default loaders_bench) of the app's seven tables is
filled by SQL (bench/pg_synthetic.py, sizes after --payments) with the app
owner's role. Then, against the local stack, in this order:

1. floor   per table, `COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)` into a null
           sink with psycopg2 and the loader's role (best of two): what reading the
           table costs PostgreSQL and the wire, with no decoding at all;
2. full    per table, `loaders load --source postgres --tables t --full-refresh` as a
           subprocess into a scratch warehouse: the table's seconds from the loader's
           summary (extract + load jobs), the process wall time (Python start, dlt,
           state sync included) and the process's peak RSS (wait4);
3. all     one full load of every table, then 1 % of each mutable table's rows
           updated, 1 % notifications appended and 0.1 % payments deleted, then the
           incremental run (change capture, delete detection, reconciliation): per-table
           seconds and wall time, beside the full load;
4. capture payments: runs with no change, delete detection on and off alternated (its
           cost beside the COPY floors of the table and of its key), and
           `loaders reconcile --deep` (seconds per million rows).
5. scanner payments, --scanner-repeat times (default 5), alternated: DuckDB's own
           postgres_scanner `CREATE TABLE t AS SELECT * FROM` the table into a DuckDB
           file (a whole process: Python, DuckDB, extension, ATTACH, the copy), the
           bare binary COPY to a null sink, and `loaders load --tables payments
           --full-refresh` (whole process); medians, the ratio to the scanner's copy and
           where the loader's difference goes: the Python + dlt import (a process that
           only imports), extract, normalize, load (the loader's phases), and the rest
           (pipeline, state sync, counts, commit, close); each process's CPU seconds
           (user + system, wait4) beside its wall time: on a shared machine the CPU
           figures move less. The load average is printed before and after.
           --compare-tree DIR also runs the loader of another checkout (e.g. `git
           archive` of an older commit into DIR) in the same alternation: before/after.

Cassandra (--cassandra): for each table of loaders.cassandra.source.TABLES, the
bare token-range scan (bench/cassandra_baseline.py bare_scan(settings, table,
parallelism)) beside `loaders load --source cassandra --tables t --full-refresh`;
skipped when the Cassandra loader or its bare scan is not there.

Real code paths only: the loader runs as the `loaders` command, reading the
schema through POSTGRES_SCHEMA with its read-only role.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

import psycopg2  # noqa: E402
from pg_synthetic import append_notifications, fill, sizes, touch  # noqa: E402

from loaders.postgres.tables import TABLES  # noqa: E402
from loaders.settings import PostgresSettings, app_postgres_dsn  # noqa: E402

MUTABLE = [t for t in TABLES if t != "notifications"]


class NullSink(io.RawIOBase):
    def write(self, b: bytes) -> int:  # type: ignore[override]
        return len(b)

    def writable(self) -> bool:
        return True


@dataclass
class Run:
    wall: float
    peak_rss_mb: float
    cpu: float  # the process's user + system CPU seconds (wait4): steadier than wall on a shared machine
    tables: dict[str, tuple[str, int, float]]  # table -> (mode, rows extracted, seconds)
    stdout: str
    stderr: str


def copy_floor(schema: str, table: str, repeat: int = 2, columns: str = "*") -> float:
    """Best of ``repeat`` binary COPYs of ``columns`` of the table to a null sink (no decoding at all)."""
    best = float("inf")
    conn = psycopg2.connect(PostgresSettings.from_env().dsn)
    try:
        with conn.cursor() as cur:
            for _ in range(repeat):
                started = time.perf_counter()
                cur.copy_expert(
                    f'COPY (SELECT {columns} FROM "{schema}".{table}) TO STDOUT (FORMAT binary)', NullSink()
                )
                best = min(best, time.perf_counter() - started)
        conn.rollback()
    finally:
        conn.close()
    return best


def parse_summary(stdout: str) -> dict[str, tuple[str, int, float]]:
    tables = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0] in ("postgres", "cassandra") and parts[3][0].isdigit():
            tables[parts[1]] = (parts[2], int(parts[3].replace(",", "")), float(parts[5]))
    return tables


def run_loader(args: list[str], env: dict[str, str], command: str = "load", project: Path = PROJECT) -> Run:
    """``loaders load`` (or another subcommand) as a child process: wall time, peak RSS (wait4), its summary.

    ``project``: the checkout whose ``loaders`` runs (``python -m`` imports from its working directory)."""
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loaders.cli", command, *args], env=env, stdout=out, stderr=err, cwd=project
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(
            f"loaders {command} {' '.join(args)} failed ({proc.returncode}):\n{stdout}\n{stderr}"
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, usage.ru_maxrss / 1024, cpu, parse_summary(stdout), stdout, stderr)


def loader_env(schema: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADERS_TEST_")}
    env.update(
        POSTGRES_SCHEMA=schema,
        WAREHOUSE_PATH=str(work / "warehouse" / "bench.duckdb"),
        DLT_DATA_DIR=str(work / "dlt"),
    )
    return env


def schema_rows(schema: str) -> dict[str, int]:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in TABLES:
                cur.execute(f'SELECT count(*) FROM "{schema}".{table}')
                row = cur.fetchone()
                counts[table] = int(row[0]) if row else 0
            return counts
    except psycopg2.Error:
        return {}
    finally:
        conn.close()


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 and rows else "-"


def bench_postgres(args: argparse.Namespace, work: Path) -> None:
    schema = args.schema
    rows = schema_rows(schema) if args.reuse else {}
    if not rows or rows.get("payments") != args.payments:
        print(f"filling schema {schema} ({args.payments:,} payments) ...", flush=True)
        started = time.perf_counter()
        fill(app_postgres_dsn(), schema, args.payments)
        print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)
        rows = schema_rows(schema)
    env = loader_env(schema, work)
    tables = [t for t in TABLES if not args.tables or t in args.tables.split(",")]
    if args.only_scanner:
        bench_scanner(schema, env, work, max(1, args.scanner_repeat), args.compare_tree)
        return

    print(
        f"\nPostgreSQL, schema {schema}: full load of each table alone (one `loaders load` process per table)"
    )
    header = f"{'table':<20} {'rows':>11} {'COPY floor s':>12} {'loader s':>9} {'ratio':>6} {'rows/s':>11} {'wall s':>7} {'peak RSS MB':>11}"
    print(header)
    print("-" * len(header))
    full_alone: dict[str, float] = {}
    for table in tables:
        floor = copy_floor(schema, table)
        run = run_loader(["--source", "postgres", "--tables", table, "--full-refresh"], env)
        _mode, extracted, seconds = run.tables[table]
        full_alone[table] = seconds
        print(
            f"{table:<20} {extracted:>11,} {floor:>12.2f} {seconds:>9.2f} {seconds / floor:>6.1f} "
            f"{fmt_rate(extracted, seconds):>11} {run.wall:>7.2f} {run.peak_rss_mb:>11.0f}",
            flush=True,
        )

    print("\nAll tables in one run: full load, then 1 % of rows changed and the incremental run")
    full = run_loader(
        ["--source", "postgres", "--full-refresh", *(["--tables", ",".join(tables)] if args.tables else [])],
        env,
    )
    changed: dict[str, int] = {}
    for table in tables:
        if table in MUTABLE:
            changed[table] = touch(app_postgres_dsn(), schema, table, 0.01)
        else:
            n = max(1, rows.get(table, 0) // 100)
            append_notifications(app_postgres_dsn(), schema, n)
            changed[table] = n
    deleted = delete_share(schema, "payments", 0.001) if "payments" in tables else 0
    incr = run_loader(["--source", "postgres", *(["--tables", ",".join(tables)] if args.tables else [])], env)
    header = f"{'table':<20} {'full rows':>11} {'full s':>8} {'changed':>9} {'incr rows':>10} {'incr s':>8} {'incr/full':>9}"
    print(header)
    print("-" * len(header))
    for table in tables:
        _, full_rows, full_s = full.tables[table]
        _, incr_rows, incr_s = incr.tables[table]
        print(
            f"{table:<20} {full_rows:>11,} {full_s:>8.2f} {changed[table]:>9,} {incr_rows:>10,} {incr_s:>8.2f} "
            f"{(incr_s / full_s if full_s else 0):>8.0%}",
            flush=True,
        )
    print(
        f"{'process wall':<20} {'':>11} {full.wall:>8.2f} {'':>9} {'':>10} {incr.wall:>8.2f} {incr.wall / full.wall:>8.0%}"
    )
    print(f"peak RSS: full {full.peak_rss_mb:.0f} MB, incremental {incr.peak_rss_mb:.0f} MB")
    totals = [line for line in full.stdout.splitlines() if line.startswith("raw_postgres:")]
    print(f"full-load phases: {totals[-1] if totals else '?'}")
    print(
        f"(the incremental run also found {deleted:,} payments hard-deleted: tombstoned, counted, reconciled)"
    )
    if "payments" in tables:
        bench_change_capture(schema, env, rows.get("payments", 0), full_alone.get("payments", 0.0))
        if args.scanner_repeat > 0:
            bench_scanner(schema, env, work, args.scanner_repeat, args.compare_tree)


SCANNER_COPY = """
import sys, time
import duckdb
from loaders.postgres.scanner import load_extension, split_password, sql_literal
from loaders.settings import PostgresSettings

schema, table, path = sys.argv[1:4]
conninfo, password = split_password(PostgresSettings.from_env().dsn)
con = duckdb.connect(path)
con.execute("SET enable_progress_bar = false")
load_extension(con)
secret = ""
if password:
    con.execute(f"CREATE TEMPORARY SECRET bench_pg (TYPE postgres, PASSWORD {sql_literal(password)})")
    secret = ", SECRET bench_pg"
con.execute(f"ATTACH {sql_literal(conninfo)} AS pg (TYPE postgres, READ_ONLY{secret})")
started = time.perf_counter()
con.execute(f'CREATE TABLE t AS SELECT * FROM pg."{schema}".{table}')
print(f"{time.perf_counter() - started:.3f}")
con.close()
"""
# what a PostgreSQL load imports before it reads a row (dlt's destination, normalize and load included)
IMPORTS_ONLY = (
    "import dlt, duckdb, pyarrow, psycopg2, loaders.cli, loaders.load.command, loaders.load.runner, "
    "loaders.postgres.extracts, dlt.destinations.impl.duckdb.duck, dlt.normalize, dlt.load"
)


def child(code: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """A Python child process: (wall s, peak RSS MB, stdout, user + system CPU s)."""
    out = tempfile.TemporaryFile(mode="w+")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *code], env=env, stdout=out, stderr=subprocess.PIPE, cwd=PROJECT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{code[:2]} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    out.seek(0)
    return wall, usage.ru_maxrss / 1024, out.read(), usage.ru_utime + usage.ru_stime


def parse_phases(stdout: str) -> dict[str, float]:
    """The loader's phase seconds from its last line (`raw_postgres: ok: extract 1.3 s, ...`)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("raw_postgres:") and ": ok:" in line:
            phases = {}
            for part in line.split(": ok:", 1)[1].split(","):
                name, value, _unit = part.split()
                phases[name] = float(value)
            return phases
    return {}


@dataclass
class Sample:
    """One whole process of the scanner comparison."""

    wall: float
    cpu: float
    peak_rss_mb: float = 0.0
    inner: float = 0.0  # the scanner's CREATE TABLE AS SELECT, the loader's summary seconds
    phases: dict[str, float] = field(default_factory=dict)  # the loader's extract / normalize / load


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def bench_scanner(
    schema: str, env: dict[str, str], work: Path, repeat: int, compare_tree: Path | None = None
) -> None:
    """payments: DuckDB's scanner copy, the bare COPY and the loader, alternated, medians.

    With ``compare_tree`` (another checkout, e.g. ``git archive`` of an older commit), its loader
    runs in the same alternation, into a warehouse of its own: before/after in one run."""
    print(
        f"\npayments, whole processes alternated {repeat} times: the scanner's copy, the bare COPY, the loader"
    )
    load_before = os.getloadavg()
    scanner: list[Sample] = []
    bare: list[float] = []
    imports: list[Sample] = []
    loader: list[Sample] = []
    empty: list[Sample] = []
    compared: list[Sample] = []
    compare_env = loader_env(schema, work / "compare")
    empty_schema = f"{schema}_empty"  # the app's tables without rows: the loader's cost that is not rows
    fill(app_postgres_dsn(), empty_schema, 0)
    empty_env = loader_env(empty_schema, work / "empty")
    for _ in range(repeat):
        path = work / "scanner.duckdb"
        path.unlink(missing_ok=True)
        wall, rss, out, cpu = child(["-c", SCANNER_COPY, schema, "payments", str(path)], env)
        scanner.append(Sample(wall, cpu, rss, float(out.split()[-1]) if out.split() else 0.0))
        bare.append(copy_floor(schema, "payments", repeat=1))
        wall, rss, _out, cpu = child(["-c", IMPORTS_ONLY], env)
        imports.append(Sample(wall, cpu, rss))
        run = run_loader(["--source", "postgres", "--tables", "payments", "--full-refresh"], env)
        loader.append(
            Sample(run.wall, run.cpu, run.peak_rss_mb, run.tables["payments"][2], parse_phases(run.stdout))
        )
        run = run_loader(["--source", "postgres", "--tables", "payments", "--full-refresh"], empty_env)
        empty.append(Sample(run.wall, run.cpu, run.peak_rss_mb))
        if compare_tree is not None:
            args = ["--source", "postgres", "--tables", "payments", "--full-refresh"]
            run = run_loader(args, compare_env, project=compare_tree)
            compared.append(
                Sample(
                    run.wall, run.cpu, run.peak_rss_mb, run.tables["payments"][2], parse_phases(run.stdout)
                )
            )
    load_after = os.getloadavg()
    conn = psycopg2.connect(app_postgres_dsn())
    with conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{empty_schema}" CASCADE')
    conn.close()

    scan_wall = med([s.wall for s in scanner])
    load_wall = med([r.wall for r in loader])
    phases = {
        name: med([r.phases.get(name, 0.0) for r in loader]) for name in ("extract", "normalize", "load")
    }
    imported = med([i.wall for i in imports])
    rest = med([r.wall - sum(r.phases.values()) for r in loader]) - imported
    rows: list[tuple[str, float, float | None, float | None]] = [
        (
            "scanner copy, whole process",
            scan_wall,
            med([s.cpu for s in scanner]),
            med([s.peak_rss_mb for s in scanner]),
        ),
        ("  of which CREATE TABLE AS SELECT", med([s.inner for s in scanner]), None, None),
        ("bare binary COPY to a null sink", med(bare), None, None),
        (
            "loader, whole process",
            load_wall,
            med([r.cpu for r in loader]),
            med([r.peak_rss_mb for r in loader]),
        ),
        ("  loader summary seconds (payments)", med([r.inner for r in loader]), None, None),
        (
            "  Python + dlt import (a process that only imports)",
            imported,
            med([i.cpu for i in imports]),
            None,
        ),
        ("  extract (read, Arrow, parquet files)", phases["extract"], None, None),
        ("  normalize (dlt imports the files)", phases["normalize"], None, None),
        ("  load (DuckDB insert from parquet, dlt's commit)", phases["load"], None, None),
        ("  the rest (pipeline, state sync, counts, close)", rest, None, None),
        (
            "loader, empty table, whole process (fixed cost)",
            med([e.wall for e in empty]),
            med([e.cpu for e in empty]),
            None,
        ),
    ]
    print(f"{'median of ' + str(repeat):<52} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>12}")
    for label, seconds, cpu_s, peak in rows:
        cpu_text = "" if cpu_s is None else f"{cpu_s:.2f}"
        peak_text = "" if peak is None else f"{peak:.0f}"
        print(f"{label:<52} {seconds:>7.2f} {cpu_text:>6} {peak_text:>12}")
    ratio = load_wall / scan_wall if scan_wall else 0.0
    print(
        f"loader / scanner copy (whole processes): {ratio:.2f} x wall (target 1.15 x; 1.4 x when dlt's structure "
        f"is the cause), {med([r.cpu for r in loader]) / max(med([s.cpu for s in scanner]), 1e-9):.2f} x CPU"
    )
    print(
        f"loader's phases (extract + normalize + load) / the scanner's CREATE TABLE AS SELECT: "
        f"{(phases['extract'] + phases['normalize'] + phases['load']) / max(med([s.inner for s in scanner]), 1e-9):.2f} x"
    )
    fixed = med([e.wall for e in empty])
    print(
        f"1.4 x the scanner's copy leaves {1.4 * scan_wall - fixed:.2f} s for the rows after the loader's fixed "
        f"cost ({fixed:.2f} s); the loader's rows take {load_wall - fixed:.2f} s, the scanner's whole copy "
        f"{scan_wall:.2f} s"
    )
    if compared:
        print(f"\nthe loader of {compare_tree}, in the same alternation:")
        before_phases = {
            name: med([r.phases.get(name, 0.0) for r in compared])
            for name in ("extract", "normalize", "load")
        }
        before_wall = med([r.wall for r in compared])
        print(
            f"{'  whole process':<52} {before_wall:>7.2f} {med([r.cpu for r in compared]):>6.2f} "
            f"{med([r.peak_rss_mb for r in compared]):>12.0f}"
        )
        for name, seconds in before_phases.items():
            print(f"{'  ' + name:<52} {seconds:>7.2f}")
        print(
            f"  its loader / scanner copy: {before_wall / max(scan_wall, 1e-9):.2f} x wall, "
            f"{med([r.cpu for r in compared]) / max(med([s.cpu for s in scanner]), 1e-9):.2f} x CPU; "
            f"this tree's loader / its loader: {load_wall / max(before_wall, 1e-9):.2f} x wall"
        )
    print(
        "each run, wall s (scanner/loader): "
        + ", ".join(f"{s.wall:.2f}/{r.wall:.2f}" for s, r in zip(scanner, loader, strict=True))
    )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min), CPUs {os.cpu_count()}"
    )


def delete_share(schema: str, table: str, share: float) -> int:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f'DELETE FROM "{schema}".{table} WHERE abs(hashtext(id::text)) % {round(1 / share)} = 1'
            )
            return cur.rowcount
    finally:
        conn.close()


def bench_change_capture(schema: str, env: dict[str, str], rows: int, full_seconds: float) -> None:
    """payments: what change capture, delete detection and --deep cost, beside the COPY floor."""
    print("\npayments: change capture and delete detection on a run with no change (best of 2, alternated)")
    floor = copy_floor(schema, "payments")
    key_floor = copy_floor(schema, "payments", columns="id")
    seconds: dict[str, float] = {"on": float("inf"), "off": float("inf")}
    for _ in range(2):
        for detect in ("on", "off"):
            run_env = {**env, "LOADERS_DETECT_DELETES": "true" if detect == "on" else "false"}
            run = run_loader(["--source", "postgres", "--tables", "payments"], run_env)
            seconds[detect] = min(seconds[detect], run.tables["payments"][2])
    detection = seconds["on"] - seconds["off"]
    print(f"{'COPY floor (all columns)':<44} {floor:>7.2f} s")
    print(f"{'COPY floor (key only)':<44} {key_floor:>7.2f} s")
    print(f"{'incremental, no change, change capture only':<44} {seconds['off']:>7.2f} s")
    print(f"{'incremental, no change, + delete detection':<44} {seconds['on']:>7.2f} s")
    print(
        f"{'delete detection alone':<44} {detection:>7.2f} s  ({detection / floor:.2f} x the COPY floor; target <= 0.3)"
    )
    if full_seconds:
        print(f"{'incremental / full load of payments':<44} {seconds['on'] / full_seconds:>7.0%}")
    deep = run_loader(["--deep", "--source", "postgres", "--tables", "payments"], env, command="reconcile")
    per_million = deep.wall / max(rows, 1) * 1e6
    print(
        f"{'reconcile --deep, payments (process wall)':<44} {deep.wall:>7.2f} s  ({per_million:.2f} s per million rows)"
    )


def bench_cassandra(args: argparse.Namespace, work: Path) -> None:
    try:
        from cassandra_baseline import bare_scan

        from loaders.cassandra.source import TABLES as CASSANDRA_TABLES
    except ImportError as exc:
        print(f"\nCassandra: skipped ({exc})")
        return
    from loaders.settings import CassandraSettings

    try:
        from loaders.cassandra.scan import default_parallelism

        parallelism = args.cassandra_parallelism or default_parallelism()
    except ImportError:
        parallelism = args.cassandra_parallelism or 4
    settings = CassandraSettings.from_env()
    env = loader_env(args.schema, work)
    print(
        f"\nCassandra, keyspace {settings.keyspace}: bare token-range scan vs loader (parallelism {parallelism})"
    )
    header = f"{'table':<20} {'rows':>11} {'bare s':>8} {'loader s':>9} {'ratio':>6} {'wall s':>7} {'peak RSS MB':>11}"
    print(header)
    print("-" * len(header))
    for table in CASSANDRA_TABLES:
        started = time.perf_counter()
        bare_rows = bare_scan(settings, table, parallelism)
        bare = time.perf_counter() - started
        run = run_loader(["--source", "cassandra", "--tables", table, "--full-refresh"], env)
        _, _extracted, seconds = run.tables.get(table, ("", 0, 0.0))
        ratio = seconds / bare if bare else 0.0
        print(
            f"{table:<20} {bare_rows:>11,} {bare:>8.2f} {seconds:>9.2f} {ratio:>6.1f} {run.wall:>7.2f} {run.peak_rss_mb:>11.0f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--payments", type=int, default=2_000_000, help="rows of payments (other tables scale with it)"
    )
    parser.add_argument("--schema", default="loaders_bench", help="PostgreSQL schema to fill and read")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the schema if it already has that many payments"
    )
    parser.add_argument("--tables", help="only these PostgreSQL tables (comma-separated)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch warehouse and dlt directory")
    parser.add_argument(
        "--cassandra", action="store_true", help="also bench the Cassandra loader against a bare scan"
    )
    parser.add_argument("--cassandra-parallelism", type=int, default=0)
    parser.add_argument(
        "--scanner-repeat",
        type=int,
        default=5,
        help="alternated runs of the scanner's copy, the bare COPY and the loader on payments (0: skip)",
    )
    parser.add_argument(
        "--only-scanner", action="store_true", help="only the scanner comparison (step 5) on payments"
    )
    parser.add_argument(
        "--compare-tree",
        type=Path,
        metavar="DIR",
        help="step 5 also runs the loader of this checkout (e.g. `git archive` of an older commit) in the "
        "same alternation: before/after figures from one run",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--drop-schema", action="store_true", help="drop the PostgreSQL schema at the end (CI)"
    )
    args = parser.parse_args()
    print(f"sizes at --payments {args.payments:,}: {sizes(args.payments)}; CPUs: {os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="bench_load_"))
    try:
        if not args.no_postgres:
            bench_postgres(args, work)
        if args.cassandra:
            bench_cassandra(args, work)
    finally:
        if args.drop_schema:
            conn = psycopg2.connect(app_postgres_dsn())
            with conn, conn.cursor() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')
            conn.close()
        if args.keep:
            print(f"\nscratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
