"""Extract-load the app's PostgreSQL and Cassandra tables into the DuckDB warehouse with dlt.

PostgreSQL tables land in schema raw_postgres, Cassandra tables in raw_cassandra
(the DuckDB file WAREHOUSE_PATH), each through its own dlt pipeline (state,
schema, load packages in DLT_DATA_DIR, default .dlt-work/: keep it between runs).

Incremental by default. The first run, or --full-refresh (raw tables dropped
and rebuilt), loads every row. Then:
  - PostgreSQL: every row version written by a transaction that the previous
    load's snapshot did not see (change capture by transaction id: whatever its
    updated_at says, a transaction open across a run, a backdated or
    future-dated clock), merged on the primary key; hard deletes found by key
    difference in the same snapshot become tombstones (_loader_deleted_at);
  - Cassandra: rows by write time (WRITETIME), with a late-arrival window and
    periodic sweeps that also find deletes (see loaders/cassandra/source.py);
  - rows read again that raw already has are skipped, so a rerun with no change
    in the source writes nothing;
  - a column added in the source reloads its table so the column is filled; a
    column whose type changed stops that table with the fix (--full-refresh);
  - reconciliation: the source's row count, taken in the load's own read, must
    equal raw's live rows; a table that does not match fails the run with one
    line naming the counts (and is reloaded in full by the next run).

A run killed at any point is completed (or cleanly redone) by the next one;
--discard-pending drops what it left instead (its rows are then read again).
One writer at a time: a second run fails fast (or waits, --wait) on the lock
file beside the warehouse.

Progress goes to stderr; a per-table summary (rows extracted, rows now in raw,
seconds, rows/s) to stdout. Exit codes: 0 loaded, 2 configuration or source
error (the one-line message names the fix), 1 unexpected failure.

Settings (environment, else the local stack's .stack/env): POSTGRES_DSN,
POSTGRES_SCHEMA (default public), CASSANDRA_HOSTS, CASSANDRA_USERNAME,
CASSANDRA_PASSWORD, CASSANDRA_KEYSPACE, CASSANDRA_LOCAL_DC, WAREHOUSE_PATH,
DLT_DATA_DIR, LOADERS_PG_STREAMS, LOADERS_DUCKDB_MEMORY_LIMIT, LOADERS_DETECT_DELETES.
TLS: CASSANDRA_SSL_CA_FILE (PEM CA: TLS that verifies each node's certificate and host
name; CASSANDRA_SSL_HOSTNAME_CHECK=false skips only the host name), and for PostgreSQL
sslrootcert in POSTGRES_DSN or PGSSLROOTCERT (then sslmode=verify-full).

Examples:
  loaders load                                   # everything, incremental
  loaders load --source postgres --tables payments,users
  loaders load --source postgres --tables payments --full-refresh
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from loaders.errors import UserError
from loaders.load.results import SourceResult
from loaders.load.runner import run_source

log = logging.getLogger(__name__)

SOURCE_CHOICES = ("postgres", "cassandra", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", choices=SOURCE_CHOICES, default="all", help="which store to load (default: all)"
    )
    parser.add_argument(
        "--tables", metavar="A,B", help="only these tables (comma-separated names, of the chosen sources)"
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="drop the raw tables and reload every row from the source"
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait for a running load or job to finish instead of failing fast"
    )
    parser.add_argument(
        "--discard-pending",
        action="store_true",
        help="drop what an interrupted run left instead of finishing it (its rows are read again)",
    )


def parse_tables(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError("--tables is empty: name tables separated by commas, e.g. --tables users,payments")
    return names


def select_tables(sources: Sequence[str], tables: Sequence[str] | None) -> dict[str, list[str]]:
    """The tables to load per source; unknown names fail with the list of valid ones."""
    from loaders.load.sources import SOURCES

    available = {key: SOURCES[key].tables for key in sources}
    if tables is None:
        return {key: list(names) for key, names in available.items()}
    known = {name for names in available.values() for name in names}
    unknown = [name for name in tables if name not in known]
    if unknown:
        valid = ", ".join(name for names in available.values() for name in names)
        raise UserError(
            f"unknown table(s) {', '.join(unknown)} for --source {'/'.join(sources)}: choose among {valid}"
        )
    selected: dict[str, list[str]] = {}
    for key, names in available.items():
        chosen = [name for name in names if name in tables]
        if chosen:
            selected[key] = chosen
    return selected


def load_all(
    sources: Sequence[str] = ("postgres", "cassandra"),
    full_refresh: bool = False,
    tables: Sequence[str] | None = None,
    *,
    wait: bool = False,
    verbose: bool = False,
    discard_pending: bool = False,
    deep: bool = False,
) -> list[SourceResult]:
    """Load the sources into the warehouse under its lock; raises UserError if any source failed.

    ``loaders run`` calls this while it already holds the lock (the lock is re-entrant).
    """
    from loaders.load.config import apply_dlt_defaults
    from loaders.load.lock import warehouse_lock
    from loaders.load.sources import SOURCES
    from loaders.load.summary import render
    from loaders.progress import Progress
    from loaders.settings import warehouse_path

    apply_dlt_defaults(verbose=verbose)
    warehouse = warehouse_path().resolve()
    selection = select_tables(list(sources), list(tables) if tables is not None else None)
    results: list[SourceResult] = []
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(warehouse, wait=wait):
        for key, names in selection.items():
            kind = SOURCES[key]
            progress = Progress(prefix=f"[{kind.pipeline_name}] ")
            results.append(run_source(kind, names, full_refresh, warehouse, progress, discard_pending, deep))
    print(render(results, str(warehouse)), flush=True)
    errors = [r.error for r in results if r.error is not None]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        combined = UserError("; ".join(f"{r.pipeline}: {r.error}" for r in results if r.error is not None))
        combined.exit_code = max(e.exit_code for e in errors)
        raise combined
    return results


def run(args: argparse.Namespace) -> int:
    sources = ["postgres", "cassandra"] if args.source == "all" else [args.source]
    try:
        load_all(
            sources,
            full_refresh=args.full_refresh,
            tables=parse_tables(args.tables),
            wait=args.wait,
            verbose=bool(getattr(args, "verbose", False)),
            discard_pending=args.discard_pending,
        )
    except UserError:
        raise
    except Exception as exc:
        from loaders.load.errors import user_error
        from loaders.settings import warehouse_path

        log.debug("load failed", exc_info=True)
        raise user_error(exc, "load", "loaders load", str(warehouse_path())) from None
    sys.stdout.flush()
    return 0
