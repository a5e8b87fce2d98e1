"""Check that raw holds what the sources hold, and repair what differs.

Every `loaders load` (and so every `loaders run`) already reconciles counts: the
source's row count in the load's own snapshot against raw's live rows, per table.

--deep goes further, key by key: every row of the source is read (PostgreSQL in
one snapshot, Cassandra in a full sweep of each table) and compared with its raw
row, column by column. A row that raw lacks or holds with another value (an edit
that did not move updated_at, a row lost behind the loader's back) is loaded again
(merged on its key), and a key that raw holds but the source no longer has gets its
tombstone. The report says, per table, how many rows were compared and repaired.
The scheduled weekly CronJob runs it (k8s/); the next `loaders run` carries the
repairs into staging and gold. Same single-writer lock as `loaders run`.

It costs a full read of each table: see bench/bench_reconcile.py for seconds per
million rows.

Examples:
  loaders reconcile --deep
  loaders reconcile --deep --source postgres --tables payments,users
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from loaders.load.command import SOURCE_CHOICES, load_all, parse_tables
from loaders.load.results import SourceResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--deep",
        action="store_true",
        help="compare every row with raw, key by key, and load the rows that differ",
    )
    parser.add_argument("--source", choices=SOURCE_CHOICES, default="all", help="which store (default: all)")
    parser.add_argument("--tables", metavar="A,B", help="only these tables (comma-separated)")
    parser.add_argument("--wait", action="store_true", help="wait for a running job instead of failing fast")


def report(results: Sequence[SourceResult], deep: bool) -> str:
    title = "deep reconciliation (every row compared with raw)" if deep else "reconciliation (row counts)"
    lines = [title]
    for result in results:
        for t in result.tables:
            if t.mode == "failed":
                lines.append(f"  {t.source}.{t.table}: not checked (see the error)")
                continue
            found = t.rows_extracted if deep else 0
            line = f"  {t.source}.{t.table}: {found:,} row(s) differed and were reloaded"
            line += f", {t.deleted_rows:,} deleted key(s) tombstoned"
            if t.source_rows is not None:
                line += f"; source {t.source_rows:,} rows, raw {t.rows_in_raw or 0:,}"
            lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    sources = ["postgres", "cassandra"] if args.source == "all" else [args.source]
    results = load_all(sources, tables=parse_tables(args.tables), wait=args.wait, deep=args.deep)
    print(report(results, args.deep), flush=True)
    return 0
