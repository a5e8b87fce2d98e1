"""The Cassandra source's face (``loaders.extracts``): ``TABLES`` and ``open_extracts``.

One extract of the requested tables (``source.cassandra_source``): the source reloads all of
them or none, so any table asked in full (--full-refresh, discarded loads) makes it a full
reload of every requested table, whose raw tables dlt drops and recreates first.

Settings (environment, else the local stack's ``.stack/env``): CASSANDRA_HOSTS,
CASSANDRA_USERNAME, CASSANDRA_PASSWORD, CASSANDRA_KEYSPACE, CASSANDRA_LOCAL_DC, the TLS
ones (README "Configuration"), LOADERS_CURSOR_LAG_SECONDS and the
LOADERS_CASSANDRA_* settings of ``change_capture``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from loaders.cassandra.source import cassandra_source
from loaders.cassandra.tables import TABLES
from loaders.extracts import REFRESH_DROP, Extract, ExtractRequest
from loaders.settings import CassandraSettings

__all__ = ["TABLES", "open_extracts"]


@contextmanager
def open_extracts(request: ExtractRequest) -> Iterator[list[Extract]]:
    """The extract of ``request.tables``; fails fast (UserError) on hosts, login, keyspace or a table."""
    full_refresh = bool(request.full_tables)
    reports = request.reports
    source = cassandra_source(
        CassandraSettings.from_env(),
        list(request.tables),
        full_refresh,
        stats=reports.stats,
        on_rows=reports.rows,
        deep=request.deep,
    )
    yield [Extract(source, REFRESH_DROP if full_refresh else None)]
