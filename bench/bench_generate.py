"""The demo data generator's speed, beside bare writes of the same rows measured in the same run.

    python bench/bench_generate.py --reset [--scales 0.2,1] [--rows 200000] [--seed 42]

It EMPTIES AND REFILLS THE APP'S TABLES of the stack it is pointed at (``--reset`` says you
mean it): run it on a stack of your own (LOCAL_STACK_DIR=… and the stack scripts, README
"Local stack"), never on a shared one.

1. Cassandra, ``--rows`` user_events rows generated once and held in memory, written into the
   emptied table (a) by the bare driver, one prepared INSERT per row with
   ``execute_concurrent_with_args`` (128 in flight), and (b) by datagen's writer (values
   serialised once, unlogged batches of whole partitions, ``execute_async`` in a bounded window).
2. PostgreSQL, as many payments rows: (a) a bare text ``COPY`` of the rows already encoded (the
   floor: no encoding), and (b) datagen's ``copy_rows`` (encoding and COPY), each in a
   transaction rolled back afterwards.
3. For each scale, the whole ``datagen --scale S --reset`` (wall seconds, rows, rows/s, CPU of
   the generator's processes and, on a local stack (its pid file), of the Cassandra server:
   where the time goes on a shared machine), and its own summary per store and table; beside it, with
   ``--old-tree``, another tree's datagen (an older commit's) and with ``--sequential`` one
   process.

Every figure shares the machine's cores with the servers (and anything else running): compare
the rows in one run, not across runs.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from cassandra.concurrent import execute_concurrent_with_args  # noqa: E402
from cassandra.query import UNSET_VALUE  # noqa: E402

from datagen import activity, cassandra_store, full, postgres_store, rows  # noqa: E402
from datagen.command import DEFAULT_END, DEFAULT_PROCESSES, parse_end  # noqa: E402
from datagen.progress import Progress  # noqa: E402
from datagen.randomness import stream  # noqa: E402
from datagen.tables import CASSANDRA_TABLES, PG_TABLES  # noqa: E402
from datagen.timeline import DAY, Window  # noqa: E402
from datagen.volumes import Volumes  # noqa: E402
from datagen.world import World  # noqa: E402
from loaders.settings import STACK_DIR, CassandraSettings, app_postgres_dsn  # noqa: E402

DATAGEN = Path(sys.executable).parent / "datagen"


@dataclass(frozen=True)
class Figure:
    label: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def line(self, reference: Figure | None = None) -> str:
        ratio = f"  {self.seconds / reference.seconds:5.2f}x the reference's time" if reference else ""
        return f"  {self.label:<44} {self.rows:>10,} rows {self.seconds:>8.2f} s {self.rate:>10,.0f} rows/s{ratio}"


def sample_world(count: int, seed: int) -> tuple[World, Volumes]:
    """A world big enough that its user_events and payments give ``count`` rows."""
    scale = max(0.01, count / 2_000_000 * 1.05)
    end = parse_end(DEFAULT_END)
    volumes = Volumes.full(scale)
    world = World(Window(end - 184 * DAY, end))
    full.build_entities(world, seed, volumes)
    return world, volumes


def bench_cassandra(world: World, volumes: Volumes, count: int, seed: int) -> list[Figure]:
    events = list(activity.event_rows(world, stream(seed, "user_events"), volumes.user_events))[:count]
    table = CASSANDRA_TABLES["user_events"]
    settings = CassandraSettings.from_env(owner=True)
    cluster, session = cassandra_store.connect(settings)
    figures = []
    try:
        cassandra_store.apply_schema(cluster, session, settings.keyspace)
        writer = cassandra_store.CassandraWriter(session, settings.keyspace)
        insert = writer.insert(table)
        bare_rows = [
            tuple(
                UNSET_VALUE if value is None and i in table.nullable else value for i, value in enumerate(row)
            )
            for row in events
        ]
        session.execute(f"TRUNCATE {settings.keyspace}.user_events", timeout=300)
        started = time.perf_counter()
        execute_concurrent_with_args(session, insert, bare_rows, concurrency=128, raise_on_first_error=True)
        figures.append(
            Figure("bare driver, one INSERT per row (reference)", len(events), time.perf_counter() - started)
        )
        session.execute(f"TRUNCATE {settings.keyspace}.user_events", timeout=300)
        started = time.perf_counter()
        writer.write("user_events", iter(events), Progress(quiet=True))
        figures.append(
            Figure(
                "datagen writer (batches of partitions, async)", len(events), time.perf_counter() - started
            )
        )
    finally:
        cluster.shutdown()
    return figures


def bench_postgres(world: World, count: int, seed: int) -> list[Figure]:
    payments = list(activity.payment_rows(world, stream(seed, "payments"), count))
    table = PG_TABLES["payments"]
    conn = postgres_store.connect(app_postgres_dsn())
    figures = []
    try:
        postgres_store.apply_schema(conn)
        text = "\n".join(postgres_store._encode(table.kinds, row) for row in payments) + "\n"
        statement = f"copy payments ({', '.join(table.columns)}) from stdin"
        parents(conn, world)
        with conn.cursor() as cur:
            started = time.perf_counter()
            cur.copy_expert(statement, io.StringIO(text))
            seconds = time.perf_counter() - started
        figures.append(Figure("bare COPY of encoded text (reference floor)", len(payments), seconds))
        conn.rollback()
        parents(conn, world)
        started = time.perf_counter()
        postgres_store.copy_rows(conn, table, iter(payments), Progress(quiet=True))
        figures.append(
            Figure("datagen copy_rows (encode + COPY)", len(payments), time.perf_counter() - started)
        )
        conn.rollback()
    finally:
        conn.close()
    return figures


def parents(conn: Any, world: World) -> None:
    """Empty tables and the rows payments point to (users, groups, outings), in the open transaction."""
    quiet = Progress(quiet=True)
    postgres_store.truncate(conn)
    postgres_store.copy_table(conn, "users", rows.users(world.users), quiet)
    postgres_store.copy_table(conn, "groups", rows.groups(world, world.groups), quiet)
    postgres_store.copy_table(conn, "outings", rows.outings(world, world.outings), quiet)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(name: str) -> float | None:
    """CPU seconds so far of the local stack's ``name`` server (its pid file), None when unknown."""
    try:
        pid = int((STACK_DIR / name / f"{name}.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu() -> dict[str, float | None]:
    # Cassandra only: one JVM; PostgreSQL's work is in its backends, not in the postmaster's pid
    return {"cassandra": server_cpu("cassandra")}


def cpu_note(before: dict[str, float | None], after: dict[str, float | None]) -> str:
    parts = []
    for name, start in before.items():
        end = after[name]
        if start is not None and end is not None:
            parts.append(f"{name} server CPU {end - start:.0f} s")
    return ", ".join(parts)


def bench_scale(
    scale: str, seed: int, processes: int | None, tree: Path | None = None
) -> tuple[Figure, float, str, str]:
    """One whole ``datagen`` run; ``tree``: another checkout's datagen (e.g. an older commit's)."""
    command = [str(DATAGEN)] if tree is None else [sys.executable, "-m", "datagen.cli"]
    command += ["--scale", scale, "--seed", str(seed), "--reset", "--quiet"]
    if processes is not None:
        command += ["--processes", str(processes)]
    env = {**os.environ, "PYTHONPATH": f"{tree}:{PROJECT}"} if tree is not None else None
    cpu = children_cpu()
    servers = servers_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree or PROJECT)
    seconds = time.perf_counter() - started
    servers_note = cpu_note(servers, servers_cpu())
    if done.returncode:
        sys.exit(f"datagen --scale {scale} failed: {done.stderr.strip()[-400:]}")
    total = sum(
        int(line.split()[1].replace(",", ""))
        for line in done.stdout.splitlines()
        if line.startswith("  total")
    )
    label = f"datagen --scale {scale}" + (f" --processes {processes}" if processes else "")
    if tree is not None:
        label = f"{label} ({tree.name}, reference)"
    return Figure(label, total, seconds), children_cpu() - cpu, servers_note, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--reset", action="store_true", help="required: the app's tables are emptied and refilled"
    )
    parser.add_argument("--scales", default="0.2,1", help="datagen scales to run whole (default 0.2,1)")
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows of the bare-vs-datagen writes (default 200000)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="also run each scale with --processes 1 (one store after the other)",
    )
    parser.add_argument(
        "--old-tree",
        type=Path,
        help="also run the datagen of another tree as the reference, e.g. an older commit's: "
        "mkdir /tmp/old && git archive COMMIT datagen contracts | tar -x -C /tmp/old",
    )
    args = parser.parse_args()
    if not args.reset:
        parser.error("this empties the app's tables: pass --reset, on a stack of your own")

    world, volumes = sample_world(args.rows, args.seed)
    print("Cassandra, user_events:")
    reference, datagen = bench_cassandra(world, volumes, args.rows, args.seed)
    print(reference.line())
    print(datagen.line(reference))
    print("PostgreSQL, payments:")
    reference, datagen = bench_postgres(world, args.rows, args.seed)
    print(reference.line())
    print(datagen.line(reference))
    del world

    print("Whole generator (PostgreSQL and Cassandra, every table):")
    summaries: list[str] = []
    for scale in [s.strip() for s in args.scales.split(",") if s.strip()]:
        runs: list[tuple[Figure, float, str, str]] = []
        if args.old_tree is not None:
            runs.append(bench_scale(scale, args.seed, None, args.old_tree))
        if args.sequential:
            runs.append(bench_scale(scale, args.seed, 1))
        runs.append(bench_scale(scale, args.seed, DEFAULT_PROCESSES))
        for figure, cpu, servers_note, summary in runs:
            baseline = runs[0][0] if figure is not runs[0][0] else None
            notes = ", ".join(part for part in (f"generator CPU {cpu:.0f} s", servers_note) if part)
            print(f"{figure.line(baseline)}  ({notes}; load {os.getloadavg()[0]:.1f})", flush=True)
            summaries.append(f"{figure.label}:\n{summary}")
    print("\ndatagen's own summaries (per table; the Cassandra tables of a run overlap in time):")
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
