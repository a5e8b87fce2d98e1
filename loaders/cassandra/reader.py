"""Read one source table as Arrow tables: connect, check the schema, plan ranges, scan, convert."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from cassandra import InvalidRequest, Unauthorized
from cassandra.cluster import Cluster, Session
from cassandra.metadata import TableMetadata

from loaders.cassandra import columns as cols
from loaders.cassandra.connection import connected, node_tokens, one_line, table_metadata, unauthorized_error
from loaders.cassandra.raw_protocol import RawProtocolHandler
from loaders.cassandra.scan import (
    DEFAULT_FETCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    RANGES_PER_WORKER,
    PageHook,
    ScanStatements,
    TokenRangeScan,
    default_parallelism,
    prepare,
    quote,
)
from loaders.cassandra.tables import TableSpec, check_columns, spec_for
from loaders.cassandra.token_ranges import TokenRange, default_split_count, split_ring
from loaders.errors import UserError
from loaders.settings import CassandraSettings

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ReadOptions:
    parallelism: int = 0  # 0: default_parallelism()
    fetch_size: int = DEFAULT_FETCH_SIZE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    batch_rows: int = DEFAULT_BATCH_ROWS  # rows per Arrow table handed to dlt
    page_hook: PageHook | None = None  # tests: inject failures

    @property
    def workers(self) -> int:
        return self.parallelism or default_parallelism()


def plan_ranges(cluster: Cluster, parallelism: int) -> list[TokenRange]:
    """``max(parallelism * RANGES_PER_WORKER, node ranges)`` ranges cut at the node tokens."""
    partitioner = cluster.metadata.partitioner or ""
    if not partitioner.endswith("Murmur3Partitioner"):
        raise UserError(
            f"the Cassandra cluster uses {partitioner or 'an unknown partitioner'}: "
            "the loader scans Murmur3Partitioner clusters only"
        )
    tokens = node_tokens(cluster)
    return split_ring(default_split_count(parallelism, len(tokens), RANGES_PER_WORKER), tokens)


@contextmanager
def opened_table(
    settings: CassandraSettings, table: str
) -> Iterator[tuple[Cluster, Session, TableSpec, TableMetadata]]:
    """A session and the checked schema of ``table``; UserError for host, login, keyspace, table."""
    spec = spec_for(table)
    with connected(settings) as (cluster, session):
        meta = table_metadata(cluster, settings, table)
        check_columns(spec, meta, settings.keyspace)
        yield cluster, session, spec, meta


def prepare_scan(session: Session, settings: CassandraSettings, spec: TableSpec,
                 since: dt.datetime | None) -> tuple[ScanStatements, bool]:
    """The range statements, and whether the rows still need ``cursor > since`` filtering here.

    Incremental reads filter on the server (``AND cursor > ? ALLOW FILTERING``, so only new
    rows travel); a cluster whose guardrails refuse ALLOW FILTERING is scanned in full and
    filtered here instead.
    """
    try:
        if since is not None:
            try:
                statements = prepare(session, settings.keyspace, spec.name, spec.columns, spec.partition_key,
                                     f"{quote(spec.cursor)} > ? ALLOW FILTERING", (since,))
                return statements, False
            except InvalidRequest as error:
                if "filtering" not in str(error).lower():
                    raise
                log.warning("%s.%s: the cluster refuses ALLOW FILTERING (%s): full scan, filtered by the loader",
                            settings.keyspace, spec.name, one_line(error, 120))
        statements = prepare(session, settings.keyspace, spec.name, spec.columns, spec.partition_key)
        return statements, since is not None
    except Unauthorized as error:
        raise unauthorized_error(settings, spec.name, error) from None


def arrow_columns(spec: TableSpec, cql_types: list, table: str) -> tuple[list[cols.Converter], pa.Schema]:
    converters, fields = [], []
    for name, cql_type in zip(spec.columns, cql_types):
        try:
            convert, arrow_type = cols.converter(cql_type)
        except cols.UnsupportedTypeError as error:
            raise UserError(
                f"column {name} of Cassandra table {table}: {error}: "
                "restore the contract's type (loaders/generate/ddl/cassandra.cql)"
            ) from None
        converters.append(convert)
        fields.append(pa.field(name, arrow_type, nullable=name not in spec.primary_key))
    return converters, pa.schema(fields)


def read_table(
    settings: CassandraSettings,
    table: str,
    since: dt.datetime | None = None,
    options: ReadOptions = ReadOptions(),
    *,
    add_row_ids: bool = False,
) -> Iterator[pa.Table]:
    """Every row of ``table`` (with ``cursor > since`` when given) as Arrow tables of ~batch_rows rows.

    Yields at least one table (possibly empty) so that the schema always reaches dlt.
    With ``add_row_ids`` each row gets a random ``_dlt_id``.
    """
    with opened_table(settings, table) as (cluster, session, spec, meta):
        statements, filter_here = prepare_scan(session, settings, spec, since)
        cql_types = [column[3] for column in statements.rest.result_metadata]
        converters, schema = arrow_columns(spec, cql_types, f"{settings.keyspace}.{table}")
        session.client_protocol_handler = RawProtocolHandler  # from here on rows arrive as raw bytes
        ranges = plan_ranges(cluster, options.workers)
        scan = TokenRangeScan(
            session,
            statements,
            ranges,
            lambda rows: cols.record_batch(rows, converters, schema),
            parallelism=options.workers,
            fetch_size=options.fetch_size,
            max_attempts=options.max_attempts,
            page_hook=options.page_hook,
            label=f"{settings.keyspace}.{table}",
        )
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        yielded = False
        for batch in guarded(scan, settings, table):
            if filter_here:
                bound = pa.scalar(since, schema.field(spec.cursor).type)
                batch = batch.filter(pc.greater(batch.column(spec.cursor), bound))
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= options.batch_rows:
                yield finish(pending, schema, add_row_ids)
                yielded = True
                pending, pending_rows = [], 0
        if pending or not yielded:
            yield finish(pending, schema, add_row_ids)


def guarded(scan: Iterator[pa.RecordBatch], settings: CassandraSettings, table: str) -> Iterator[pa.RecordBatch]:
    """The scan, with a permission lost mid-scan as a UserError."""
    try:
        yield from scan
    except Unauthorized as error:
        raise unauthorized_error(settings, table, error) from None


def finish(batches: list[pa.RecordBatch], schema: pa.Schema, add_row_ids: bool) -> pa.Table:
    table = pa.Table.from_batches(batches, schema=schema)
    if add_row_ids:
        # dlt fills _dlt_load_id in place of this placeholder, so raw keeps dlt's column order
        table = table.append_column(pa.field("_dlt_load_id", pa.string()), pa.nulls(table.num_rows, pa.string()))
        table = table.append_column(pa.field("_dlt_id", pa.string(), nullable=False), cols.random_ids(table.num_rows))
    return table
