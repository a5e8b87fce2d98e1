"""The Cassandra benchmarks' baselines: the loader's token-range scan without dlt, and count(*) per range.

Both use the product's own pieces (``loaders.cassandra.reader`` to connect, check the table
and plan the ranges, ``loaders.cassandra.scan.TokenRangeScan`` to read them) so that a
benchmark compares the load against the same scan with the same parallelism. They live
here, not in the product: nothing in ``loaders/`` runs them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from loaders.cassandra import change_capture as cc
from loaders.cassandra.raw_protocol import RawProtocolHandler
from loaders.cassandra.reader import ScanFilter, opened_table, plan_ranges, prepare_scan
from loaders.cassandra.scan import DEFAULT_FETCH_SIZE, TokenRangeScan, default_parallelism, prepare
from loaders.cassandra.tables import TABLES, spec_for
from loaders.settings import CassandraSettings, cursor_lag


def bare_scan(
    settings: CassandraSettings,
    table: str,
    parallelism: int,
    *,
    fetch_size: int = DEFAULT_FETCH_SIZE,
    raw: bool = False,
    scan_filter: ScanFilter | None = None,
) -> int:
    """Rows of ``table`` read and discarded by the loader's token-range parallel scan, without dlt.

    Rows are decoded by the driver as usual (Python objects per cell), or left as raw bytes
    with ``raw`` (what the loader's own decoding starts from, minus Arrow). ``scan_filter``: the
    write times and the late-arrival window, as a load selects them (default: neither).
    """
    with opened_table(settings, table) as (cluster, session, spec, _meta):
        statements = prepare_scan(session, settings, spec, scan_filter or ScanFilter())
        if raw:
            session.client_protocol_handler = RawProtocolHandler
        scan = TokenRangeScan(
            session,
            statements,
            plan_ranges(cluster, parallelism),
            len,
            parallelism=parallelism,
            fetch_size=fetch_size,
            label=f"bare {settings.keyspace}.{table}",
        )
        return sum(scan)


def count_scan(
    settings: CassandraSettings, table: str, parallelism: int, *, consistency_level: int | None = None
) -> int:
    """``SELECT count(*)`` of every token range, summed: what counting the source costs on its own.

    Each range is counted by its replicas (the server reads the rows, ships one number).
    """
    with opened_table(settings, table) as (cluster, session, spec, _meta):
        statements = prepare(
            session,
            settings.keyspace,
            table,
            ["count(*)"],
            spec.partition_key,
            consistency=consistency_level,
            quoted=True,
        )
        scan = TokenRangeScan(
            session,
            statements,
            plan_ranges(cluster, parallelism),
            lambda rows: int(rows[0][0]),
            parallelism=parallelism,
            label=f"count {settings.keyspace}.{table}",
        )
        return sum(scan)


def floor(parallelism: int) -> dict[str, float]:
    """Seconds of the bare raw-cell scans a Cassandra load cannot do without, per table: the whole
    table with its write times (``scan <table>``: what a sweep reads) and the late-arrival window of
    an incremental run starting now (``window <table>``: the server reads the table to filter it)."""
    settings = CassandraSettings.from_env()
    since = dt.datetime.now(dt.UTC) - cursor_lag() - dt.timedelta(days=cc.window_days())
    seconds: dict[str, float] = {}
    for table in TABLES:
        spec = spec_for(table)
        filters = {
            "scan": ScanFilter(writetimes=True),
            "window": ScanFilter(
                writetimes=True, window_column=spec.window_column, window_value=spec.window_bound(since)
            ),
        }
        for kind, scan_filter in filters.items():
            started = time.perf_counter()
            rows = bare_scan(settings, table, parallelism, raw=True, scan_filter=scan_filter)
            seconds[f"{kind} {table}"] = round(time.perf_counter() - started, 1)
            print(
                f"{kind:6s} {table:20s} {rows:>12,} rows in {seconds[f'{kind} {table}']:7.1f} s", flush=True
            )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description="The bare raw-cell scans of the app's Cassandra tables (whole, and the late-arrival "
        "window), with the loader's parallelism: the floor of a sweep and of an incremental run. The last "
        "line is the seconds per scan as JSON (bench/bench_volume.py reads it)."
    )
    parser.add_argument("command", choices=["floor"], help="floor: scan every table, whole and windowed")
    parser.add_argument("--parallelism", type=int, default=0, help="range readers (default: the loader's)")
    args = parser.parse_args()
    print(json.dumps(floor(args.parallelism or default_parallelism())))


if __name__ == "__main__":
    main()
