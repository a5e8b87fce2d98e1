"""Cassandra loader vs a bare driver scan of the same table, with the same parallelism.

    python bench/bench_cassandra_load.py fill --rows 1000000 [--table user_events] [--keyspace loader_bench]
    python bench/bench_cassandra_load.py diff [--rows 10000000] [--part-rows 250000] [--repeat 1]
        [--window-share 0.05]
    python bench/bench_cassandra_load.py run [--table user_events] [--parallelism 4] [--keyspace loader_bench]
        [--repeat 3] [--kinds bare_raw,load_cli,change,incremental_cli,sweep_cli,idle_sweep_cli]

``diff`` needs no Cassandra: the sweep's two diffs alone on synthetic user_events in a scratch
DuckDB (``loaders/cassandra/raw_side.py``), in parts re-reading both sides against both sides
written once by part, alternating. With ``--window-share S`` it is an incremental run's one diff
instead: a staged window of that share of raw's rows (a tenth of them changed, as many new),
diffed with both sides written once by part against raw probed by the staged keys. Point ``fill`` and ``run`` at a stack of your own (``source <stack dir>/env``): a million rows are no shared data.

``fill`` writes synthetic rows with the app owner's role (skewed users, 1-3 properties per
event, text with accents and emoji). ``run`` measures, each in a fresh process so that
peak RSS is per phase: (1) the bare scan with the driver's usual decoding (rows read and
discarded), (2) the same scan keeping raw cells (the loader's decoding, no Arrow), and
(3) the full load through a plain dlt pipeline into a scratch DuckDB (extract +
normalize + load, ``full_refresh``, dlt's defaults) and (4) the same through the
product's ``loaders load --source cassandra --full-refresh`` (its dlt and DuckDB
settings). It prints rows/s, the load/bare ratios and peak RSS.

Then, in the warehouse of (4): (5) 1 % new rows are written (events clustered up to 7 days
in the past, arriving now, as phones sync) and 0.01 % of the rows deleted; (6) the
incremental ``loaders load`` (late-arrival window read by the server, write-time filter,
rows already in raw dropped); (7) ``SELECT count(*)`` per token range alone (what counting
the source on every incremental run would add); (8) the sweep (``LOADERS_CASSANDRA_SWEEP_HOURS=0``:
the whole table, tombstones for the deleted keys, the source count); (9) the same sweep again,
which finds nothing (``idle_sweep_cli``: what every run of an unchanged table costs by
default). It prints each beside the full load and the bare scan. Every phase shares the
machine's cores with Cassandra.

``--repeat`` rounds of the phases alternate the loads with the bare scans in one run; the
summary gives medians, each phase's ratio to the raw-cell bare scan (``bare_raw``, the
reference of the 1.5 x target) and to the driver's bare scan, peak RSS, and the 1-minute
load average the phases started at (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from loaders.raw_sql import count_of  # noqa: E402
from loaders.settings import CassandraSettings  # noqa: E402

# the source contract's DDL (contracts/ since the generator left the product; loaders/generate/ddl before)
DDL = next(
    (
        path
        for path in (PROJECT / "contracts" / "cassandra.cql", PROJECT / "loaders/generate/ddl/cassandra.cql")
        if path.exists()
    ),
    PROJECT / "contracts" / "cassandra.cql",
)


def ddl_statements(keyspace: str) -> list[str]:
    text = "\n".join(line for line in DDL.read_text().splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.format(keyspace=keyspace).split(";") if s.strip()]


def fill(keyspace: str, table: str, rows: int, seed: int) -> None:
    from cassandra.concurrent import execute_concurrent_with_args

    from loaders.cassandra.connection import connected

    settings = replace(CassandraSettings.from_env(owner=True), keyspace=keyspace)
    rng = random.Random(seed)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(20_000)]
    cum_weights = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(len(users))))  # heavy tail
    # the last 120 days: the incremental run's late-arrival window covers the last week of them, as in production
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=120)
    with connected(settings) as (_cluster, session):
        for statement in ddl_statements(keyspace):
            session.execute(statement)
        # the loader role reads only the app keyspace: the owner of this one lets it read it too
        session.execute(f"GRANT SELECT ON KEYSPACE {keyspace} TO {CassandraSettings.from_env().username}")
        if table == "user_events":
            insert = session.prepare(
                f"INSERT INTO {keyspace}.user_events (user_id, day, event_time, event_id, event_type, properties) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            )
        elif table == "messages":
            insert = session.prepare(
                f"INSERT INTO {keyspace}.messages (group_id, day, sent_at, message_id, user_id, body) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            )
        else:
            insert = session.prepare(
                f"INSERT INTO {keyspace}.notification_states (user_id, notification_id, status, updated_at) "
                "VALUES (?, ?, ?, ?)"
            )
        kinds = ["app_open", "view_outing", "view_group", "share_outing", "search"]
        started = time.monotonic()
        chunk = 20_000
        for offset in range(0, rows, chunk):
            params: list[tuple[object, ...]] = []
            for i in range(offset, min(rows, offset + chunk)):
                who = rng.choices(users, cum_weights=cum_weights)[0]
                when = start + dt.timedelta(
                    seconds=rng.randrange(0, 120 * 86400), milliseconds=rng.randrange(1000)
                )
                if table == "user_events":
                    props = {"source": rng.choice(["push", "feed", "search", "link"])}
                    if rng.random() < 0.7:
                        props["outing_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    if rng.random() < 0.3:
                        props["query"] = rng.choice(
                            ["sushi à Paris", "concert 🎸", 'bar "chez Lou"', "trip\nweekend"]
                        )
                    props_or_none = props if rng.random() < 0.95 else None
                    params.append((who, when.date(), when, uuid.uuid1(), rng.choice(kinds), props_or_none))
                elif table == "messages":
                    texts = ["on se retrouve à 20h ?", "🎉🎉", 'I\'ll bring "snacks"', "line1\nline2", "ok"]
                    body = rng.choice(texts) * rng.randint(1, 4)
                    params.append((who, when.date(), when, uuid.uuid1(), rng.choice(users), body))
                else:
                    params.append((who, i, rng.choice(["UNSEEN", "SEEN", "CLICKED", "DELETED", None]), when))
            execute_concurrent_with_args(session, insert, params, concurrency=128, raise_on_first_error=True)
            done = min(rows, offset + chunk)
            print(f"  {done} rows ({done / (time.monotonic() - started):,.0f} rows/s)", flush=True)


def phase(kind: str, keyspace: str, table: str, parallelism: int, workdir: str) -> dict[str, Any]:
    """Run in a child process: one measurement and this process's peak RSS."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    settings = replace(CassandraSettings.from_env(), keyspace=keyspace)
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    if kind in ("bare", "bare_raw"):
        from cassandra_baseline import bare_scan

        rows = bare_scan(settings, table, parallelism, raw=(kind == "bare_raw"))
    elif kind == "count":
        from cassandra import ConsistencyLevel
        from cassandra_baseline import count_scan

        rows = count_scan(settings, table, parallelism, consistency_level=ConsistencyLevel.LOCAL_QUORUM)
    elif kind == "change":
        rows = change(keyspace, table)
    elif kind in (
        "load_cli",
        "incremental_cli",
        "sweep_cli",
        "idle_sweep_cli",
    ):  # the product's path: `loaders load`
        import duckdb

        from loaders.load.command import load_all

        os.environ.update(
            WAREHOUSE_PATH=str(Path(workdir) / "cli.duckdb"),
            DLT_DATA_DIR=str(Path(workdir) / "cli-dlt"),
            CASSANDRA_KEYSPACE=keyspace,
            LOADERS_CASSANDRA_SWEEP_HOURS="0" if kind in ("sweep_cli", "idle_sweep_cli") else "100000",
        )
        results = load_all(["cassandra"], full_refresh=(kind == "load_cli"), tables=[table])
        report = results[0].tables[0]
        extra = {
            "mode": report.mode,
            "extracted": report.rows_extracted,
            "deleted": report.deleted_rows,
            "source_rows": report.source_rows,
            "phases": " ".join(f"{name} {secs:.1f}" for name, secs in results[0].phases.items()),
        }
        with duckdb.connect(str(Path(workdir) / "cli.duckdb"), read_only=True) as con:
            rows = count_of(con, f"select count(*) from raw_cassandra.{table}")
    else:
        import dlt
        import duckdb

        from loaders.cassandra.source import cassandra_source

        pipeline = dlt.pipeline(
            pipeline_name="bench_cassandra",
            destination=dlt.destinations.duckdb(str(Path(workdir) / "bench.duckdb")),
            dataset_name="raw_cassandra",
            pipelines_dir=str(Path(workdir) / "dlt"),
        )
        pipeline.run(cassandra_source(settings, [table], full_refresh=True, parallelism=parallelism))
        with duckdb.connect(str(Path(workdir) / "bench.duckdb"), read_only=True) as con:
            rows = count_of(con, f"select count(*) from raw_cassandra.{table}")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,  # this process's CPU (all threads): steadier when shared
        "kind": kind,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_rss_mb": peak_mb,
        **extra,
    }


CHANGED_SHARE = 0.01  # new rows written between the full load and the incremental run
DELETED_SHARE = 0.0001


def change(keyspace: str, table: str) -> int:
    """1 % new rows arriving now, clustered up to 7 days back (user_events only), and 0.01 % deleted."""
    from cassandra.concurrent import execute_concurrent_with_args

    from loaders.cassandra.connection import connected

    if table != "user_events":
        raise SystemExit("the incremental phases write user_events only")
    settings = replace(CassandraSettings.from_env(owner=True), keyspace=keyspace)
    rng = random.Random(2)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    from cassandra_baseline import count_scan

    total = count_scan(settings, table, 4)
    with connected(settings) as (_cluster, session):
        new = int(total * CHANGED_SHARE)
        insert = session.prepare(
            f"INSERT INTO {keyspace}.user_events (user_id, day, event_time, event_id, event_type, properties) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        params = []
        for _ in range(new):
            when = now - dt.timedelta(seconds=rng.randrange(0, 7 * 86400))
            params.append(
                (uuid.uuid4(), when.date(), when, uuid.uuid1(), "app_open", {"source": "offline sync"})
            )
        execute_concurrent_with_args(session, insert, params, concurrency=64, raise_on_first_error=True)
        victims = list(session.execute(f"SELECT user_id, day FROM {keyspace}.user_events LIMIT 1000"))
        delete = session.prepare(f"DELETE FROM {keyspace}.user_events WHERE user_id = ? AND day = ?")
        removed = victims[: max(1, int(total * DELETED_SHARE) // 10)]
        execute_concurrent_with_args(session, delete, removed, concurrency=16, raise_on_first_error=True)
    return new


ALL_KINDS = (
    "bare",
    "bare_raw",
    "load",
    "load_cli",
    "change",
    "incremental_cli",
    "count",
    "sweep_cli",
    "idle_sweep_cli",
)


def run(keyspace: str, table: str, parallelism: int, repeat: int, kinds: tuple[str, ...]) -> None:
    """``repeat`` rounds of the phases in order (so the load and the bare scan alternate); medians."""
    results: dict[str, list[dict[str, Any]]] = {}
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeat):
            for kind in kinds:
                loads.append(os.getloadavg()[0])
                out = subprocess.run(
                    [sys.executable, __file__, "_phase", kind, keyspace, table, str(parallelism), workdir],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results.setdefault(kind, []).append(result)
                detail = "".join(
                    f", {name} {result[name]:,}"
                    if isinstance(result.get(name), int)
                    else f", {name} {result[name]}"
                    for name in ("mode", "extracted", "deleted", "source_rows", "phases")
                    if result.get(name) is not None
                )
                print(
                    f"{kind:15s} {result['rows']:>9,} rows in {result['seconds']:6.1f} s = "
                    f"{result['rows_per_s']:>9,.0f} rows/s, CPU {result['cpu_s']:5.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB"
                    f", load average {loads[-1]:.1f}{detail}",
                    flush=True,
                )
    median = {kind: statistics.median(r["seconds"] for r in rs) for kind, rs in results.items()}
    peak = {kind: max(r["peak_rss_mb"] for r in rs) for kind, rs in results.items()}
    rows = {kind: statistics.median(r["rows"] for r in rs) for kind, rs in results.items()}
    cpu = {kind: statistics.median(r["cpu_s"] for r in rs) for kind, rs in results.items()}
    print(
        f"table {keyspace}.{table}, parallelism {parallelism}, median of {repeat}, "
        f"1-minute load average {statistics.median(loads):.1f} (min {min(loads):.1f}, max {max(loads):.1f}) "
        f"on {os.cpu_count()} cores:"
    )
    references = [kind for kind in ("bare_raw", "bare") if kind in median]
    print(
        f"  {'phase':<16} {'s':>7} {'rows/s':>10} {'peak MB':>8} {'CPU s':>7}"
        + "".join(f" {'/ ' + r:>10}" for r in references)
        + "".join(f" {'CPU / ' + r:>14}" for r in references)
    )
    for kind in kinds:
        if kind not in median or kind == "change":
            continue
        ratios = "".join(f" {median[kind] / median[r]:>10.2f}" for r in references)
        ratios += "".join(f" {cpu[kind] / cpu[r]:>14.2f}" for r in references)
        print(
            f"  {kind:<16} {median[kind]:>7.1f} {rows[kind] / median[kind]:>10,.0f} {peak[kind]:>8.0f}"
            f" {cpu[kind]:>7.1f}{ratios}"
        )
    if "bare_raw" in median:
        print(
            "  targets: load_cli, sweep_cli and idle_sweep_cli (every run's default) <= 1.5 x bare_raw, "
            "peak RSS <= 400 MB"
        )
    if "load_cli" in median and "incremental_cli" in median:
        full = median["load_cli"]
        print(
            f"after {CHANGED_SHARE:.0%} new rows (up to 7 days late) and {DELETED_SHARE:.2%} deleted: incremental "
            f"{median['incremental_cli'] / full:.2f} x the full load"
            + (f", count(*) per range {median['count'] / full:.2f} x" if "count" in median else "")
            + (f", sweep {median['sweep_cli'] / full:.2f} x" if "sweep_cli" in median else "")
            + (
                f", the sweep again (nothing changed) {median['idle_sweep_cli'] / full:.2f} x"
                if "idle_sweep_cli" in median
                else ""
            )
        )


DIFF_MODES = ("reread", "written_once")
WINDOW_MODES = ("written_once", "probe")


def synthetic_raw(con: Any, rows: int) -> None:
    """A raw user_events table of ``rows`` synthetic rows with the loader's types."""
    con.execute("CREATE SCHEMA raw_cassandra")
    con.execute(
        "CREATE TABLE raw_cassandra.user_events AS SELECT uuid() AS user_id, "
        "DATE '2026-01-01' + CAST(i % 120 AS INTEGER) AS day, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(i * 1000) AS event_time, "
        "uuid() AS event_id, 'app_open' AS event_type, "
        'CAST(\'{"source":"push","outing_id":"\' || uuid() || \'"}\' AS JSON) AS properties, '
        "CAST(NULL AS TIMESTAMPTZ) AS _loader_deleted_at, 'load' AS _dlt_load_id, 'id' AS _dlt_id "
        f"FROM range({int(rows)}) t(i)"
    )


def staged_query(rows: int, window_share: float) -> str:
    """The rows a scan stages: all of raw (a sweep of an unchanged table), or a window of
    ``window_share`` of raw's rows, one in ten with its event_type changed, plus as many new rows."""
    columns = "user_id, day, event_time, event_id, event_type, CAST(properties AS VARCHAR) AS properties"
    if window_share <= 0:
        return f"SELECT {columns} FROM raw_cassandra.user_events"
    every = max(1, round(1 / window_share))
    new_rows = max(1, int(rows * window_share / 10))
    return (
        "SELECT user_id, day, event_time, event_id, "
        f"CASE WHEN (event_time_us // {every}) % 10 = 0 THEN 'search' ELSE event_type END AS event_type, properties FROM ("
        f"SELECT {columns}, epoch_us(event_time) // 1000 AS event_time_us FROM raw_cassandra.user_events "
        f"WHERE (epoch_us(event_time) // 1000) % {every} = 0) "
        f"UNION ALL SELECT uuid(), DATE '2026-05-01', TIMESTAMPTZ '2026-05-01 00:00:00+00' + to_microseconds(i), "
        f"uuid(), 'app_open', NULL FROM range({new_rows}) t(i)"
    )


def diff_phase(
    mode: str, rows: int, part_rows: int, workdir: str, window_share: float = 0.0
) -> dict[str, Any]:
    """Run in a child process: a Cassandra load's diffs alone (no Cassandra) on synthetic user_events.

    A scratch DuckDB file holds ``rows`` raw rows. With no ``window_share``, the same rows are
    staged as a sweep stages them (Arrow batches, the source's types), then
    ``RawTable.changed`` and ``deleted_keys`` run in parts of ``part_rows``: each part re-reading
    raw and the staged file (``reread``) or both sides written once by part first
    (``written_once``); both find nothing (the sweep of an unchanged table). With a
    ``window_share``, an incremental window is staged and only ``changed`` runs: both sides
    written once by part (``written_once``) or raw probed by the staged keys (``probe``)."""
    import duckdb
    import pyarrow as pa

    from loaders.cassandra import raw_side
    from loaders.cassandra.tables import TABLE_SPECS

    spec = TABLE_SPECS["user_events"]
    database = Path(workdir) / f"diff-{rows}.duckdb"
    if not database.exists():
        with duckdb.connect(str(database)) as con:
            synthetic_raw(con, rows)
    raw_side.DIFF_PART_ROWS = part_rows
    raw_side.PARTITIONED_FROM_PARTS = 10**9 if mode == "reread" else 1
    raw_side.PROBE_FROM_RAW_SHARE = 4 if mode == "probe" else 10**9
    con = duckdb.connect(str(database), config={"memory_limit": "128MB", "preserve_insertion_order": False})
    con.execute("SET arrow_lossless_conversion = true")  # UUIDs as Arrow uuid, as the scan gives them
    raw = raw_side.RawTable(con, "raw_cassandra", spec, memory_limit="128MB")
    started = time.perf_counter()
    with raw_side.StagedRows(spec, Path(workdir) / "diff-stage") as staged:
        for batch in con.execute(staged_query(rows, window_share)).to_arrow_reader(50_000):
            staged.add(pa.Table.from_batches([batch]))
        staged.finish()
        diffs_started = time.perf_counter()
        changed = sum(t.num_rows for t in raw.changed(staged, 50_000))
        deleted = 0 if window_share > 0 else sum(t.num_rows for t in raw.deleted_keys(staged, []))
        seconds = time.perf_counter() - diffs_started
        staged_rows = staged.rows
    con.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "kind": mode,
        "rows": rows,
        "staged": staged_rows,
        "parts": raw.probe_parts(staged_rows) if mode == "probe" else raw.diff_parts(staged_rows),
        "stage_s": diffs_started - started,
        "seconds": seconds,
        "changed": changed,
        "deleted": deleted,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def diff_run(rows: int, part_rows: int, repeat: int, window_share: float = 0.0) -> None:
    """``repeat`` rounds of the diff modes, alternating, each in a fresh process; medians."""
    modes = WINDOW_MODES if window_share > 0 else DIFF_MODES
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(repeat):
            for mode in modes:
                load = os.getloadavg()[0]
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "_diff",
                        mode,
                        str(rows),
                        str(part_rows),
                        workdir,
                        str(window_share),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results.setdefault(mode, []).append(result)
                print(
                    f"{mode:13s} {rows:,} raw rows, {result['staged']:,} staged, {result['parts']} parts: "
                    f"diffs {result['seconds']:6.1f} s (changed {result['changed']}, deleted {result['deleted']}), "
                    f"staging {result['stage_s']:.1f} s, CPU {result['cpu_s']:.1f} s, "
                    f"peak RSS {result['peak_rss_mb']:.0f} MB, load average {load:.1f}",
                    flush=True,
                )
    reference = statistics.median(r["seconds"] for r in results[modes[0]])
    for mode in modes:
        seconds = statistics.median(r["seconds"] for r in results[mode])
        peak = max(r["peak_rss_mb"] for r in results[mode])
        print(
            f"  {mode:<13} median {seconds:7.1f} s, {seconds / reference:.2f} x {modes[0]}, peak RSS {peak:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_fill = sub.add_parser("fill")
    p_fill.add_argument("--rows", type=int, default=1_500_000)
    p_fill.add_argument("--table", default="user_events")
    p_fill.add_argument("--keyspace", default="loader_bench")
    p_fill.add_argument("--seed", type=int, default=1)
    p_run = sub.add_parser("run")
    p_run.add_argument("--table", default="user_events")
    p_run.add_argument("--keyspace", default="loader_bench")
    p_run.add_argument("--parallelism", type=int, default=4)
    p_run.add_argument("--repeat", type=int, default=3)
    p_run.add_argument(
        "--kinds",
        default=",".join(ALL_KINDS),
        help="phases of each round, in order (change writes the 1 %% new rows the later phases read); "
        "default: " + ",".join(ALL_KINDS),
    )
    p_diff = sub.add_parser(
        "diff", help="the sweep's diffs alone on synthetic rows (no Cassandra): parts re-read vs written once"
    )
    p_diff.add_argument("--rows", type=int, default=10_000_000)
    p_diff.add_argument(
        "--part-rows", type=int, default=250_000, help="rows a side per part (DIFF_PART_ROWS)"
    )
    p_diff.add_argument("--repeat", type=int, default=1)
    p_diff.add_argument(
        "--window-share",
        type=float,
        default=0.0,
        help="an incremental run's diff of a window of this share of raw's rows (default 0: a sweep's diffs)",
    )
    p_diff_child = sub.add_parser("_diff")
    for name in ("mode", "rows", "part_rows", "workdir", "window_share"):
        p_diff_child.add_argument(name)
    p_phase = sub.add_parser("_phase")
    for name in ("kind", "keyspace", "table", "parallelism", "workdir"):
        p_phase.add_argument(name)
    args = parser.parse_args()
    if args.command == "fill":
        fill(args.keyspace, args.table, args.rows, args.seed)
    elif args.command == "run":
        kinds = tuple(k for k in args.kinds.split(",") if k)
        unknown = [k for k in kinds if k not in ALL_KINDS]
        if unknown:
            parser.error(f"unknown phase(s) {', '.join(unknown)}: use some of {', '.join(ALL_KINDS)}")
        run(args.keyspace, args.table, args.parallelism, args.repeat, kinds)
    elif args.command == "diff":
        diff_run(args.rows, args.part_rows, args.repeat, args.window_share)
    elif args.command == "_diff":
        result = diff_phase(
            args.mode, int(args.rows), int(args.part_rows), args.workdir, float(args.window_share)
        )
        print(json.dumps(result))
    else:
        print(json.dumps(phase(args.kind, args.keyspace, args.table, int(args.parallelism), args.workdir)))


if __name__ == "__main__":
    main()
