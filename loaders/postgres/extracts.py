"""The PostgreSQL source's face (``loaders.extracts``): ``TABLES`` and ``open_extracts``.

One snapshot session for the whole run; every table planned in one pass (one catalog
query, one read of raw and of dlt's schema and state); the tables reloaded in full go into
an extract of their own, whose raw tables dlt drops and recreates first.

Settings (environment, else the local stack's ``.stack/env``):
  POSTGRES_DSN                      the loader's read-only connection
  POSTGRES_SCHEMA                   the schema of the app's tables (default public)
  LOADERS_CURSOR_LAG_SECONDS        re-read window of a state written before change capture (default 600)
  LOADERS_DETECT_DELETES            hard deletes by key difference on incremental loads (default true)
  LOADERS_PG_STREAMS                parallel COPY streams of a big table (default: the CPUs, at most 4)
  LOADERS_PG_MIN_BLOCKS_PER_STREAM  heap pages (8 KiB) per stream at least (default 4096)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from loaders.extracts import REFRESH_DROP, Extract, ExtractRequest
from loaders.postgres.session import PostgresSession, SessionOptions
from loaders.postgres.source import PostgresOptions, plan_tables, postgres_source
from loaders.postgres.tables import TABLES
from loaders.settings import PostgresSettings, cpu_count, cursor_lag, parse_bool, setting, whole_number

__all__ = ["TABLES", "open_extracts"]


def postgres_options(deep: bool) -> PostgresOptions:
    return PostgresOptions(
        schema=setting("POSTGRES_SCHEMA", "public") or "public",
        lag=cursor_lag(),
        deep=deep,
        detect_deletes=parse_bool("LOADERS_DETECT_DELETES", True),
    )


def session_options() -> SessionOptions:
    return SessionOptions(
        streams=whole_number("LOADERS_PG_STREAMS", min(4, cpu_count()), minimum=1),
        min_blocks_per_stream=whole_number("LOADERS_PG_MIN_BLOCKS_PER_STREAM", 4096, minimum=1),
    )


@contextmanager
def open_extracts(request: ExtractRequest) -> Iterator[list[Extract]]:
    """The extracts of ``request.tables``, all read inside one snapshot (held until the context ends)."""
    options = postgres_options(request.deep)
    settings = PostgresSettings.from_env()
    # libpq (psycopg2 and DuckDB's postgres_scanner): an unreachable host fails in 10 s, not after TCP's
    # minutes; a connect_timeout in POSTGRES_DSN still wins
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    progress, reports = request.progress, request.reports
    with PostgresSession(settings.dsn, session_options()) as session:
        plans, failures = plan_tables(session, request.raw, request.tables, set(request.full_tables), options)
        for table, error in failures.items():
            reports.fail(table, error)
            progress.step(f"{table}: not loaded: {error}")
        for plan in plans:
            progress.step(
                f"{plan.spec.name}: {plan.mode}" + (f" ({plan.reason})" if plan.reason != plan.mode else "")
            )
        dropped = [p for p in plans if p.refresh]
        kept = [p for p in plans if not p.refresh]
        extracts = []
        if dropped:
            extracts.append(
                Extract(postgres_source(session, request.raw, dropped, options, reports), REFRESH_DROP)
            )
        if kept:
            extracts.append(Extract(postgres_source(session, request.raw, kept, options, reports)))
        yield extracts
