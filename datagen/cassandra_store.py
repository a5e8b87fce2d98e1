"""The generator's side of Cassandra: schema, emptiness, truncation and fast concurrent writes.

Rows of one partition that arrive together go in one UNLOGGED batch, with the
partitions of the same replica set packed together (up to 10: every mutation
is local to the coordinator the batch is routed to), with values
serialised once by fast per-type functions; batches are sent asynchronously
(``execute_async``) with a bounded number in flight.
"""

from __future__ import annotations

import logging
import operator
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType, PreparedStatement, Statement

from datagen.contract_files import CASSANDRA_DDL
from datagen.postgres_store import chunks
from datagen.progress import Progress
from datagen.tables import CASSANDRA_TABLES, CassandraTable
from loaders.cassandra.connection import ssl_context
from loaders.errors import UserError
from loaders.settings import CassandraSettings

log = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
CONCURRENCY = 128
# Larger batches cost the server and the driver less per row (one request, one response, one
# routing for many mutations): up to 400 rows and 40,000 bytes of values, under the local
# stack's batch_size_warn_threshold (64 KiB, stack/cassandra/cassandra.yaml.in) and under
# Cassandra's default batch_size_fail_threshold (50 KiB); a cluster with the default warn
# threshold (5 KiB) logs a warning per batch but takes them.
MAX_BATCH_ROWS = 400
# Cassandra warns above 10 partitions in an unlogged batch (unlogged_batch_across_partitions_warn_threshold)
PARTITIONS_PER_BATCH = 10
MAX_BATCH_BYTES = 40_000
RETRIES = 5


class _QuietNegotiation(logging.Filter):
    """The driver warns while it negotiates the protocol version down to the server's: not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Downgrading core protocol version")


logging.getLogger("cassandra.cluster").addFilter(_QuietNegotiation())


def connect(settings: CassandraSettings) -> tuple[Cluster, Session]:
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc)),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        request_timeout=60.0,
    )
    cluster = Cluster(
        contact_points=list(settings.hosts),
        port=settings.hosts[0][1],
        auth_provider=PlainTextAuthProvider(username=settings.username, password=settings.password),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=10,
        control_connection_timeout=10,
        ssl_context=ssl_context(settings),  # CASSANDRA_SSL_CA_FILE: verified TLS, as the loaders
    )
    try:
        return cluster, cluster.connect()
    except NoHostAvailable as exc:
        cluster.shutdown()
        hosts = ",".join(f"{host}:{port}" for host, port in settings.hosts)
        reasons = "; ".join(f"{type(error).__name__}" for error in exc.errors.values()) or "no host answered"
        raise UserError(
            f"cannot connect to Cassandra at {hosts} as the app owner ({reasons}): start the stack with "
            "`make up` or set CASSANDRA_HOSTS / APP_CASSANDRA_USERNAME / APP_CASSANDRA_PASSWORD"
        ) from None


def schema_statements(keyspace: str) -> list[str]:
    text = CASSANDRA_DDL.read_text(encoding="utf-8").format(keyspace=keyspace)
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def apply_schema(cluster: Cluster, session: Session, keyspace: str) -> None:
    """Create the keyspace and tables if missing; existing ones are left alone (no permission needed)."""
    for statement in schema_statements(keyspace):
        metadata = cluster.metadata.keyspaces.get(keyspace)
        words = statement.split()
        if words[:2] == ["CREATE", "KEYSPACE"] and metadata is not None:
            continue
        if words[:2] == ["CREATE", "TABLE"] and metadata is not None:
            table = (
                words[5].split(".")[-1] if words[2:5] == ["IF", "NOT", "EXISTS"] else words[2].split(".")[-1]
            )
            if table in metadata.tables:
                continue
        session.execute(statement, timeout=120)
    cluster.refresh_schema_metadata()


def non_empty_tables(session: Session, keyspace: str) -> list[str]:
    found = []
    for name, table in CASSANDRA_TABLES.items():
        if session.execute(f"SELECT {table.columns[0]} FROM {keyspace}.{name} LIMIT 1").one() is not None:
            found.append(name)
    return found


def truncate(session: Session, keyspace: str) -> None:
    for name in CASSANDRA_TABLES:
        session.execute(f"TRUNCATE {keyspace}.{name}", timeout=300)


class _Window:
    """At most ``limit`` asynchronous requests in flight; failures are kept for a retry."""

    def __init__(self, session: Session, limit: int) -> None:
        self.session = session
        self.limit = limit
        self.slots = threading.BoundedSemaphore(limit)
        self.lock = threading.Lock()
        self.failed: list[tuple[Statement, BaseException]] = []

    def submit(self, statement: Statement) -> None:
        self.slots.acquire()
        try:
            future = self.session.execute_async(statement)
        except BaseException:
            self.slots.release()
            raise
        future.add_callbacks(self._done, self._failed, errback_args=(statement,))

    def _done(self, _result: object) -> None:
        self.slots.release()

    def _failed(self, error: BaseException, statement: Statement) -> None:
        with self.lock:
            self.failed.append((statement, error))
        self.slots.release()

    def drain(self) -> list[tuple[Statement, BaseException]]:
        """Wait for every request in flight; return (and forget) the ones that failed."""
        for _ in range(self.limit):
            self.slots.acquire()
        for _ in range(self.limit):
            self.slots.release()
        with self.lock:
            failed, self.failed = self.failed, []
        return failed


@dataclass
class _Batch:
    """A batch being filled: its rows' size and how many partitions it holds."""

    statement: BatchStatement
    size: int = 0
    partitions: int = 0

    def fits(self, row_size: int) -> bool:
        rows = len(self.statement)
        return rows == 0 or (rows < MAX_BATCH_ROWS and self.size + row_size <= MAX_BATCH_BYTES)


class CassandraWriter:
    """Writes generated rows in UNLOGGED batches of whole partitions, sent asynchronously.

    Values are serialised once, here, by the column types the prepared statement reports
    (fast paths for uuid, timestamp, bigint, date and text; the driver's own serialiser
    for the rest), and added to the batch as already-bound values; the batch is routed by
    its partition key (token-aware). At most ``concurrency`` requests are in flight.
    """

    def __init__(self, session: Session, keyspace: str, *, concurrency: int = CONCURRENCY) -> None:
        self.session = session
        self.keyspace = keyspace
        self.concurrency = concurrency
        self.inserts: dict[str, PreparedStatement] = {}
        self.encoders: dict[str, RowEncoder] = {}

    def insert(self, table: CassandraTable) -> PreparedStatement:
        if table.name not in self.inserts:
            marks = ", ".join("?" for _ in table.columns)
            prepared = self.session.prepare(
                f"INSERT INTO {self.keyspace}.{table.name} ({', '.join(table.columns)}) VALUES ({marks})"
            )
            self.inserts[table.name] = prepared
            self.encoders[table.name] = row_encoder(
                [column.type for column in prepared.column_metadata],
                prepared.protocol_version,
                nullable=table.nullable,
                never_null=table.partition_key,
            )
        return self.inserts[table.name]

    def batches(self, table: CassandraTable, rows: list[tuple[Any, ...]]) -> list[BatchStatement]:
        """The rows grouped by partition, the partitions of one replica set packed together.

        A batch holds whole partitions (a partition larger than a batch is cut into several),
        at most PARTITIONS_PER_BATCH of them, all owned by the same replicas (so the coordinator
        it is routed to applies every mutation locally), and stays under MAX_BATCH_ROWS rows and
        MAX_BATCH_BYTES bytes.
        """
        insert = self.insert(table)
        encode = self.encoders[table.name]
        key = table.partition_key
        partition_of = operator.itemgetter(*key)  # a value, or a tuple of them, to group the rows by
        partitions: dict[Any, list[tuple[list[Any], int]]] = {}
        for row in rows:
            partitions.setdefault(partition_of(row), []).append(encode(row))
        single_replica_set = len(self.session.cluster.metadata.all_hosts()) == 1
        open_batches: dict[tuple[str, ...], _Batch] = {}
        batches: list[BatchStatement] = []
        for members in partitions.values():
            first = members[0][0]
            routing = first[key[0]] if len(key) == 1 else _composite_key([first[i] for i in key])
            replicas = ("all",) if single_replica_set else self.replicas(routing)
            batch = open_batches.get(replicas)
            for values, row_size in members:
                if batch is None or not batch.fits(row_size):
                    batch = open_batches[replicas] = _Batch(self._statement(routing))
                    batches.append(batch.statement)
                # the values are already serialised: add them as bound (what BatchStatement.add does)
                batch.statement._add_statement_and_params(True, insert.query_id, values)
                batch.size += row_size
            if batch is not None:
                batch.partitions += 1
                if batch.partitions >= PARTITIONS_PER_BATCH:
                    del open_batches[replicas]
        return batches

    def replicas(self, routing_key: bytes) -> tuple[str, ...]:
        hosts = self.session.cluster.metadata.get_replicas(self.keyspace, routing_key)
        return tuple(sorted(str(host.endpoint) for host in hosts))

    def _statement(self, routing_key: bytes) -> BatchStatement:
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.routing_key = routing_key
        batch.keyspace = self.keyspace
        return batch

    def execute(self, batches: Sequence[Statement]) -> None:
        """Send every batch (bounded in flight); retry the failed ones (writes are idempotent upserts)."""
        window = _Window(self.session, self.concurrency)
        for batch in batches:
            window.submit(batch)
        failed = window.drain()
        for attempt in range(RETRIES + 1):
            if not failed:
                return
            if attempt == RETRIES:
                error = failed[0][1]
                raise UserError(
                    f"Cassandra keeps refusing writes ({type(error).__name__}: {str(error)[:160]}): check the node "
                    "(`make status`, its log) and rerun"
                )
            log.warning("%d Cassandra writes failed (%s); retrying", len(failed), type(failed[0][1]).__name__)
            time.sleep(2**attempt)
            for statement, _ in failed:
                window.submit(statement)
            failed = window.drain()

    def write(
        self, name: str, rows: Iterable[tuple[Any, ...]], progress: Progress, label: str | None = None
    ) -> int:
        table = CASSANDRA_TABLES[name]
        written = 0
        with progress.table("cassandra", label or name) as report:
            for chunk in chunks(rows, CHUNK_ROWS):
                self.execute(self.batches(table, chunk))
                written += len(chunk)
                report.add(len(chunk))
        return written


def _composite_key(parts: list[bytes]) -> bytes:
    """The routing key of a composite partition key, as the driver packs it."""
    return b"".join(struct.pack(f">H{len(part)}sB", len(part), part, 0) for part in parts)


_INT64 = struct.Struct(">q")
_UINT32 = struct.Struct(">I")
_INT32 = struct.Struct(">i")


# Bytes on the wire of the fixed-size types the generator writes (the others: their length).
_FIXED_SIZES = {"uuid": 16, "timeuuid": 16, "timestamp": 8, "bigint": 8, "date": 4}
# What a row costs in a batch beyond its values' bytes (the statement's kind, id and value count).
ROW_OVERHEAD = 48

RowEncoder = Callable[[Sequence[Any]], tuple[list[Any], int]]


def _fast_serializer(cql_type: Any, protocol_version: int) -> Callable[[Any], bytes]:
    """A function from a generated (non-null) value to its bytes on the wire."""
    name = cql_type.typename
    if name in ("uuid", "timeuuid"):
        return cast(Callable[[Any], bytes], operator.attrgetter("bytes"))
    if name in ("timestamp", "bigint"):  # the generator's timestamps are epoch milliseconds
        return _INT64.pack
    if name == "date":  # days since the epoch + 2^31, as the generator makes them
        return _UINT32.pack
    if name in ("text", "varchar"):
        return str.encode
    if name == "map" and [sub.typename for sub in cql_type.subtypes] == ["text", "text"]:
        return _text_map

    def serialize(value: Any) -> bytes:
        return cast(bytes, cql_type.serialize(value, protocol_version))

    return serialize


def row_encoder(
    cql_types: Sequence[Any], protocol_version: int, *, nullable: Sequence[int], never_null: Sequence[int]
) -> RowEncoder:
    """One function per table: a generated row to its values' bytes and the row's size in a batch.

    A None becomes UNSET (not written, no tombstone) at a ``nullable`` position and null
    elsewhere; the ``never_null`` positions (the partition key) are not checked. The function
    is compiled with one line per column, as ``collections.namedtuple`` builds its classes:
    calling a None-checking closure per value through ``zip`` cost 4.0-4.4 µs a user_events row
    against 1.8 µs unrolled (200,000 generated user_events rows, 2026-12-04).
    """
    scope: dict[str, Any] = {"UNSET": UNSET_VALUE}
    lines, sizes = [], [str(ROW_OVERHEAD)]
    for i, cql_type in enumerate(cql_types):
        scope[f"f{i}"] = _fast_serializer(cql_type, protocol_version)
        fixed = _FIXED_SIZES.get(cql_type.typename)
        size = str(fixed) if fixed is not None else f"len(v{i})"
        if i in never_null:
            lines.append(f"    v{i} = f{i}(c{i})")
            sizes.append(size)
        else:
            missing = "UNSET" if i in nullable else "None"
            lines.append(f"    v{i} = {missing} if c{i} is None else f{i}(c{i})")
            sizes.append(f"(0 if c{i} is None else {size})")
    columns = ", ".join(f"c{i}" for i in range(len(cql_types)))
    values = ", ".join(f"v{i}" for i in range(len(cql_types)))
    source = "\n".join(
        ["def encode(row):", f"    {columns}, = row", *lines, f"    return [{values}], {' + '.join(sizes)}"]
    )
    exec(compile(source, f"<row encoder of {len(cql_types)} columns>", "exec"), scope)
    return cast(RowEncoder, scope["encode"])


def _text_map(value: dict[str, str]) -> bytes:
    """A map<text, text> as the native protocol (v3+) writes it: [int n] then n ([int len] key, [int len] value)."""
    parts = [_INT32.pack(len(value))]
    for key, item in value.items():
        key_bytes, item_bytes = key.encode(), item.encode()
        parts += (_INT32.pack(len(key_bytes)), key_bytes, _INT32.pack(len(item_bytes)), item_bytes)
    return b"".join(parts)


def read_states(
    session: Session, keyspace: str, keys: list[tuple[Any, int]]
) -> dict[tuple[Any, int], tuple[str | None, Any]]:
    """Current (status, updated_at) of notification_states rows, by (user_id, notification_id)."""
    select = session.prepare(
        f"SELECT status, updated_at FROM {keyspace}.notification_states WHERE user_id = ? AND notification_id = ?"
    )
    found: dict[tuple[Any, int], tuple[str | None, Any]] = {}
    results = execute_concurrent_with_args(
        session, select, keys, concurrency=CONCURRENCY, raise_on_first_error=True
    )
    for key, (_, result) in zip(keys, results, strict=False):
        row = result.one()
        if row is not None:
            found[key] = (row.status, row.updated_at)
    return found
