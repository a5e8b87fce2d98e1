"""Benchmark of the fixed cost of an incremental PostgreSQL load: all seven tables, little or no change.

    .venv/bin/python bench/bench_incremental.py                          # 20,000 payments, 5 rounds
    .venv/bin/python bench/bench_incremental.py --reference /tmp/old     # beside another checkout

A private schema (default loaders_bench_incremental) of the app's seven tables is filled
by SQL (bench/pg_synthetic.py) with the app owner's role and loaded in full once per
checkout. Then each round runs, per checkout and alternated (so that both see the same
machine load):

1. no change  `loaders load --source postgres` with nothing changed in the source;
2. 1 % change 1 % of each mutable table's rows updated, 1 % notifications appended, then
              the same incremental run.

Printed per checkout: the median process wall time (`time`), the loader's own phase
seconds (extract, normalize, load, from its summary) and the sum of the per-table
seconds, and per table the median of its seconds in the no-change run: what an
incremental run costs before any row moves. The reference (``--reference DIR``, a
checkout of another version, e.g. ``git archive <commit> | tar -x -C DIR``) is measured
in the same run; without it, only this checkout is measured.
"""

from __future__ import annotations

import argparse
import os
import re
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

from bench_load import parse_summary  # noqa: E402
from pg_synthetic import append_notifications, fill, touch  # noqa: E402

from loaders.postgres.tables import TABLES  # noqa: E402
from loaders.settings import app_postgres_dsn  # noqa: E402

MUTABLE = [t for t in TABLES if t != "notifications"]
PHASE = re.compile(r"(extract|normalize|load) ([0-9.]+) s")


@dataclass
class Timing:
    wall: float
    phases: dict[str, float]
    tables: dict[str, float]  # table -> seconds in the loader's summary


@dataclass
class Checkout:
    name: str
    tree: Path
    work: Path
    runs: dict[str, list[Timing]] = field(default_factory=dict)


def run_load(checkout: Checkout, schema: str, *args: str) -> Timing:
    """``loaders load --source postgres`` of ``checkout`` as a child process: wall time and its summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADERS_TEST_")}
    env.update(
        POSTGRES_SCHEMA=schema,
        WAREHOUSE_PATH=str(checkout.work / "warehouse.duckdb"),
        DLT_DATA_DIR=str(checkout.work / "dlt"),
        PYTHONPATH=str(checkout.tree),
    )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "loaders.cli", "load", "--source", "postgres", *args],
        env=env,
        cwd=checkout.tree,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"{checkout.name}: loaders load {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    phases = {}
    for line in proc.stdout.splitlines():
        if line.startswith("raw_postgres:"):
            phases = {name: float(seconds) for name, seconds in PHASE.findall(line)}
    tables = {table: seconds for table, (_mode, _rows, seconds) in parse_summary(proc.stdout).items()}
    return Timing(wall, phases, tables)


def change_one_percent(schema: str, rows: dict[str, int]) -> None:
    dsn = app_postgres_dsn()
    for table in MUTABLE:
        touch(dsn, schema, table, 0.01)
    append_notifications(dsn, schema, max(1, rows["notifications"] // 100))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(checkouts: list[Checkout]) -> None:
    print()
    header = f"{'run':<11} {'checkout':<10} {'wall s':>7} {'extract s':>9} {'normalize s':>11} {'load s':>7} {'tables s':>8}"
    print(header)
    print("-" * len(header))
    for kind in ("no change", "1 % change"):
        for c in checkouts:
            runs = c.runs.get(kind, [])
            print(
                f"{kind:<11} {c.name:<10} {median([r.wall for r in runs]):>7.2f} "
                f"{median([r.phases.get('extract', 0.0) for r in runs]):>9.2f} "
                f"{median([r.phases.get('normalize', 0.0) for r in runs]):>11.2f} "
                f"{median([r.phases.get('load', 0.0) for r in runs]):>7.2f} "
                f"{median([sum(r.tables.values()) for r in runs]):>8.2f}"
            )
    print(
        f"\nper table, no-change run (median seconds in the loader's summary; {len(checkouts)} checkout(s))"
    )
    header = f"{'table':<20}" + "".join(f" {c.name:>10}" for c in checkouts)
    print(header)
    print("-" * len(header))
    for table in TABLES:
        cells = "".join(
            f" {median([r.tables.get(table, 0.0) for r in c.runs.get('no change', [])]):>10.3f}"
            for c in checkouts
        )
        print(f"{table:<20}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=20_000, help="rows of payments (other tables scale)")
    parser.add_argument("--schema", default="loaders_bench_incremental", help="PostgreSQL schema to fill")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of (no change, 1 %% change) per checkout"
    )
    parser.add_argument(
        "--reference", type=Path, help="another checkout, measured alternately (e.g. the old one)"
    )
    parser.add_argument("--drop-schema", action="store_true", help="drop the schema at the end")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_incremental_"))
    checkouts = [Checkout("this", PROJECT, scratch / "this")]
    if args.reference:
        checkouts.insert(0, Checkout("reference", args.reference.resolve(), scratch / "reference"))
    try:
        print(f"filling schema {args.schema} ({args.payments:,} payments) ...", flush=True)
        rows = fill(app_postgres_dsn(), args.schema, args.payments)
        for c in checkouts:
            run_load(c, args.schema, "--full-refresh")
            run_load(c, args.schema)  # the first incremental run after a full load settles the state
        for round_ in range(args.rounds):
            for c in checkouts:
                c.runs.setdefault("no change", []).append(run_load(c, args.schema))
            change_one_percent(args.schema, rows)
            for c in checkouts:
                c.runs.setdefault("1 % change", []).append(run_load(c, args.schema))
            print(f"  round {round_ + 1} of {args.rounds} done", flush=True)
        report(checkouts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if args.drop_schema:
            import psycopg2

            conn = psycopg2.connect(app_postgres_dsn())
            with conn, conn.cursor() as cur:
                cur.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')
            conn.close()


if __name__ == "__main__":
    main()
