"""The Cassandra benchmarks' baselines: the loader's token-range scan without dlt, and count(*) per range.

Both use the product's own pieces (``loaders.cassandra.reader`` to connect, check the table
and plan the ranges, ``loaders.cassandra.scan.TokenRangeScan`` to read them) so that a
benchmark compares the load against the same scan with the same parallelism. They live
here, not in the product: nothing in ``loaders/`` runs them.
"""

from __future__ import annotations

from loaders.cassandra.raw_protocol import RawProtocolHandler
from loaders.cassandra.reader import opened_table, plan_ranges, prepare_scan
from loaders.cassandra.scan import DEFAULT_FETCH_SIZE, TokenRangeScan, prepare
from loaders.settings import CassandraSettings


def bare_scan(
    settings: CassandraSettings,
    table: str,
    parallelism: int,
    *,
    fetch_size: int = DEFAULT_FETCH_SIZE,
    raw: bool = False,
) -> int:
    """Rows of ``table`` read and discarded by the loader's token-range parallel scan, without dlt.

    Rows are decoded by the driver as usual (Python objects per cell), or left as raw bytes
    with ``raw`` (what the loader's own decoding starts from, minus Arrow).
    """
    with opened_table(settings, table) as (cluster, session, spec, _meta):
        statements = prepare_scan(session, settings, spec)
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
