"""The sources ``loaders load`` knows, each a dlt pipeline into its own raw schema.

PostgreSQL is built in (``loaders.postgres``). Cassandra plugs in through
``loaders.cassandra.source`` (``cassandra_source(settings, tables,
full_refresh)`` and ``TABLES``), imported only when asked for: without it,
``--source cassandra`` fails with a clear message.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from loaders.errors import UserError
from loaders.load import testhooks
from loaders.load.config import (
    cursor_lag,
    detect_deletes,
    pg_min_blocks_per_stream,
    pg_streams,
    postgres_schema,
)
from loaders.load.raw import PipelineRaw
from loaders.load.results import TableFailure
from loaders.load.runner import Extract, SourceKind
from loaders.progress import Progress

CASSANDRA_MODULE = "loaders.cassandra.source"


class CassandraLoaderMissing(UserError):
    pass


def cassandra_module() -> ModuleType:
    try:
        return importlib.import_module(CASSANDRA_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and CASSANDRA_MODULE.startswith(exc.name):
            raise CassandraLoaderMissing(
                f"the Cassandra loader is not installed ({CASSANDRA_MODULE} is missing): "
                "load PostgreSQL only with `--source postgres`"
            ) from None
        raise


def postgres_tables() -> tuple[str, ...]:
    from loaders.postgres.tables import TABLES

    return TABLES


def cassandra_tables() -> tuple[str, ...]:
    return tuple(cassandra_module().TABLES)


def rows_reporter(progress: Progress) -> Callable[[str, int], None]:
    """The sources' per-batch callback: progress, and the crash tests' "extract" pause after the first batch."""
    first_rows: list[bool] = []

    def on_rows(table: str, rows: int) -> None:
        progress.rows(table, rows)
        if not first_rows:
            first_rows.append(True)
            testhooks.pause("extract")

    return on_rows


@contextmanager
def open_postgres(
    pipeline: Any,
    raw: PipelineRaw,
    tables: list[str],
    full_tables: set[str],
    stats: dict[str, Any],
    progress: Progress,
    deep: bool = False,
) -> Iterator[list[Extract]]:
    from loaders.postgres.session import PostgresSession, SessionOptions
    from loaders.postgres.source import PostgresOptions, plan_tables, postgres_source
    from loaders.settings import PostgresSettings

    settings = PostgresSettings.from_env()
    options = PostgresOptions(
        schema=postgres_schema(), lag=cursor_lag(), deep=deep, detect_deletes=detect_deletes()
    )
    # libpq (psycopg2 and DuckDB's postgres_scanner): an unreachable host fails in 10 s, not after TCP's minutes;
    # a connect_timeout in POSTGRES_DSN still wins
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    on_rows = rows_reporter(progress)

    with PostgresSession(
        settings.dsn, SessionOptions(streams=pg_streams(), min_blocks_per_stream=pg_min_blocks_per_stream())
    ) as session:
        plans, failures = plan_tables(session, raw, tables, full_tables, options)
        for table, error in failures.items():
            stats[table] = TableFailure(error)
            progress.step(f"{table}: not loaded: {error}")
        for plan in plans:
            progress.step(
                f"{plan.spec.name}: {plan.mode}" + (f" ({plan.reason})" if plan.reason != plan.mode else "")
            )
        extracts = []
        dropped = [p for p in plans if p.refresh]
        kept = [p for p in plans if not p.refresh]
        if dropped:
            extracts.append(
                Extract(postgres_source(session, raw, dropped, options, stats, on_rows), "drop_resources")
            )
        if kept:
            extracts.append(Extract(postgres_source(session, raw, kept, options, stats, on_rows), None))
        yield extracts


@contextmanager
def open_cassandra(
    pipeline: Any,
    raw: PipelineRaw,
    tables: list[str],
    full_tables: set[str],
    stats: dict[str, Any],
    progress: Progress,
    deep: bool = False,
) -> Iterator[list[Extract]]:
    from loaders.settings import CassandraSettings

    module = cassandra_module()
    full_refresh = bool(full_tables)  # the Cassandra source reloads all its selected tables or none
    on_rows = rows_reporter(progress)

    # fills stats[table] with a loaders.table_stats.TableStats per table (mode, counts, tombstones, rejected)
    source = module.cassandra_source(
        CassandraSettings.from_env(), list(tables), full_refresh, stats=stats, on_rows=on_rows, deep=deep
    )
    yield [Extract(source, "drop_resources" if full_refresh else None)]


SOURCES: dict[str, SourceKind] = {
    "postgres": SourceKind(
        "postgres", "raw_postgres", "raw_postgres", "postgres", postgres_tables, open_postgres
    ),
    "cassandra": SourceKind(
        "cassandra", "raw_cassandra", "raw_cassandra", "cassandra", cassandra_tables, open_cassandra
    ),
}
