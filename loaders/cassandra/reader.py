"""Read one source table as Arrow tables: connect, check the schema, plan ranges, scan, convert, quarantine."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from cassandra import InvalidRequest, Unauthorized
from cassandra.cluster import Cluster, Session
from cassandra.metadata import TableMetadata

from loaders.cassandra import columns as cols
from loaders.cassandra.connection import connected, node_tokens, table_metadata, unauthorized_error
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
)
from loaders.cassandra.tables import TableSpec, check_columns, spec_for
from loaders.cassandra.token_ranges import TokenRange, default_split_count, split_ring
from loaders.errors import UserError, one_line
from loaders.raw_sql import quote
from loaders.settings import CassandraSettings
from loaders.table_stats import RejectedRow

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ReadOptions:
    parallelism: int = 0  # 0: default_parallelism()
    fetch_size: int = DEFAULT_FETCH_SIZE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    batch_rows: int = DEFAULT_BATCH_ROWS  # rows per Arrow table handed to dlt
    page_hook: PageHook | None = None  # tests: inject failures
    consistency_level: int | None = None  # cassandra.ConsistencyLevel; None: the driver's (LOCAL_ONE)

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


WRITETIME_COLUMN = "_writetime"  # the row's write time (µs): the greatest WRITETIME of its regular cells


@dataclass(frozen=True)
class ScanFilter:
    """What a scan selects beyond the table's columns."""

    writetimes: bool = False  # add ``WRITETIME_COLUMN``
    window_column: str | None = None  # server-side ``window_column >= window_value``
    window_value: Any = None


@dataclass
class ReadReport:
    """What a read found besides its rows (filled by ``read_table`` in the consumer thread)."""

    rejected: list[RejectedRow] = field(default_factory=list)
    rejected_keys: list[pa.Table] = field(default_factory=list)  # their key columns: the rows exist
    rows_read: int = 0  # rejected ones included


def select_list(spec: TableSpec, writetimes: bool) -> list[str]:
    names = [quote(c) for c in spec.columns]
    if writetimes:
        names += [f"WRITETIME({quote(c)})" for c in spec.writetime_columns]
    return names


def prepare_scan(
    session: Session,
    settings: CassandraSettings,
    spec: TableSpec,
    scan: ScanFilter = ScanFilter(),
    consistency: int | None = None,
) -> ScanStatements:
    """The range statements; the window filtered by the server (``ALLOW FILTERING``).

    A cluster whose guardrails refuse ALLOW FILTERING is scanned in full instead (the
    write-time filter then sees more rows, never fewer).
    """
    columns = select_list(spec, scan.writetimes)
    try:
        if scan.window_column is not None:
            try:
                return prepare(
                    session,
                    settings.keyspace,
                    spec.name,
                    columns,
                    spec.partition_key,
                    f"{quote(scan.window_column)} >= ? ALLOW FILTERING",
                    (scan.window_value,),
                    consistency=consistency,
                    quoted=True,
                )
            except InvalidRequest as error:
                if "filtering" not in str(error).lower():
                    raise
                log.warning(
                    "%s.%s: the cluster refuses ALLOW FILTERING (%s): full scan, filtered by the loader",
                    settings.keyspace,
                    spec.name,
                    one_line(error, 120),
                )
        return prepare(
            session,
            settings.keyspace,
            spec.name,
            columns,
            spec.partition_key,
            consistency=consistency,
            quoted=True,
        )
    except Unauthorized as error:
        raise unauthorized_error(settings, spec.name, error) from None


def arrow_columns(
    spec: TableSpec, names: list[str], cql_types: list[Any], table: str
) -> tuple[list[cols.Converter], pa.Schema]:
    converters, fields = [], []
    for name, cql_type in zip(names, cql_types, strict=False):
        try:
            convert, arrow_type = cols.converter(cql_type)
        except cols.UnsupportedTypeError as error:
            raise UserError(
                f"column {name} of Cassandra table {table}: {error}: "
                "restore the contract's type (contracts/cassandra.cql)"
            ) from None
        converters.append(convert)
        fields.append(pa.field(name, arrow_type, nullable=name not in spec.primary_key))
    return converters, pa.schema(fields)


def read_table(
    settings: CassandraSettings,
    table: str,
    scan_filter: ScanFilter = ScanFilter(),
    options: ReadOptions = ReadOptions(),
    *,
    report: ReadReport | None = None,
) -> Iterator[pa.Table]:
    """Every row of ``table`` (in the window, when given) as Arrow tables of ~batch_rows rows.

    Yields at least one table (possibly empty) so that the schema always reaches dlt.
    A row with a cell that cannot
    be converted (text that is not UTF-8) is left out and reported in ``report``.
    """
    report = report if report is not None else ReadReport()
    with opened_table(settings, table) as (cluster, session, spec, _meta):
        statements = prepare_scan(session, settings, spec, scan_filter, options.consistency_level)
        cql_types = [column[3] for column in statements.rest.result_metadata]
        names = (
            list(spec.columns) + [f"writetime({c})" for c in spec.writetime_columns] * scan_filter.writetimes
        )
        converters, schema = arrow_columns(spec, names, cql_types, f"{settings.keyspace}.{table}")
        key_positions = [spec.columns.index(c) for c in spec.primary_key]
        session.client_protocol_handler = RawProtocolHandler  # from here on rows arrive as raw bytes
        ranges = plan_ranges(cluster, options.workers)
        scan = TokenRangeScan(
            session,
            statements,
            ranges,
            lambda rows: (len(rows), *cols.checked_record_batch(rows, converters, schema)),
            parallelism=options.workers,
            fetch_size=options.fetch_size,
            max_attempts=options.max_attempts,
            page_hook=options.page_hook,
            label=f"{settings.keyspace}.{table}",
        )
        out_schema = output_schema(spec, schema, scan_filter.writetimes)
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        yielded = False
        for read, batch, bad in guarded(scan, settings, table):
            report.rows_read += read
            if bad:
                quarantine(
                    report, spec, f"{settings.keyspace}.{table}", bad, converters, schema, key_positions
                )
            batch = with_writetime(batch, spec, out_schema) if scan_filter.writetimes else batch
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= options.batch_rows:
                yield pa.Table.from_batches(pending, schema=out_schema)
                yielded = True
                pending, pending_rows = [], 0
        if pending or not yielded:
            yield pa.Table.from_batches(pending, schema=out_schema)


def output_schema(spec: TableSpec, schema: pa.Schema, writetimes: bool) -> pa.Schema:
    fields = [schema.field(name) for name in spec.columns]
    if writetimes:
        fields.append(pa.field(WRITETIME_COLUMN, pa.int64()))
    return pa.schema(fields)


def with_writetime(batch: pa.RecordBatch, spec: TableSpec, out_schema: pa.Schema) -> pa.RecordBatch:
    """The table's columns and one write time per row (null when every regular cell is null)."""
    times = [batch.column(len(spec.columns) + i) for i in range(len(spec.writetime_columns))]
    writetime = times[0] if len(times) == 1 else pc.max_element_wise(*times, skip_nulls=True)
    return pa.RecordBatch.from_arrays([*batch.columns[: len(spec.columns)], writetime], schema=out_schema)


def quarantine(
    report: ReadReport,
    spec: TableSpec,
    label: str,
    bad: list[cols.BadRow],
    converters: list[cols.Converter],
    schema: pa.Schema,
    key_positions: list[int],
) -> None:
    cells = [row.cells for row in bad]
    keys = cols.key_json(cells, key_positions, converters, schema)
    for row, key in zip(bad, keys, strict=False):
        report.rejected.append(RejectedRow(spec.name, key, row.column, row.reason))
        log.warning("%s: row %s left out: column %s: %s", label, key, row.column, row.reason)
    key_columns = {spec.columns[p]: converters[p]([c[p] for c in cells]) for p in key_positions}
    report.rejected_keys.append(pa.table(key_columns))


Item = TypeVar("Item")


def guarded(scan: Iterable[Item], settings: CassandraSettings, table: str) -> Iterator[Item]:
    """The scan, with a permission lost mid-scan as a UserError."""
    try:
        yield from scan
    except Unauthorized as error:
        raise unauthorized_error(settings, table, error) from None
