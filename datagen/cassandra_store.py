"""The generator's side of Cassandra: schema, emptiness, truncation and fast concurrent writes.

Rows of one partition that arrive together go in one UNLOGGED batch (one
mutation on one replica set, never a multi-partition batch); batches and
single rows are sent with the driver's concurrent executor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent, execute_concurrent_with_args
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType, PreparedStatement

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
MAX_BATCH_ROWS = 40
MAX_BATCH_BYTES = 4_000  # under Cassandra's default batch_size_warn_threshold (5 KiB)
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


def _size(row: Sequence[Any]) -> int:
    size = 48
    for value in row:
        if isinstance(value, str):
            size += len(value.encode("utf-8", "surrogatepass")) + 4
        elif isinstance(value, dict):
            size += sum(len(key) + len(item) + 8 for key, item in value.items())
        else:
            size += 16
    return size


class CassandraWriter:
    """Writes generated rows with prepared statements, per-partition batches and bounded concurrency."""

    def __init__(self, session: Session, keyspace: str, *, concurrency: int = CONCURRENCY) -> None:
        self.session = session
        self.keyspace = keyspace
        self.concurrency = concurrency
        self.inserts: dict[str, PreparedStatement] = {}

    def insert(self, table: CassandraTable) -> PreparedStatement:
        if table.name not in self.inserts:
            marks = ", ".join("?" for _ in table.columns)
            self.inserts[table.name] = self.session.prepare(
                f"INSERT INTO {self.keyspace}.{table.name} ({', '.join(table.columns)}) VALUES ({marks})"
            )
        return self.inserts[table.name]

    def statements(self, table: CassandraTable, rows: list[tuple[Any, ...]]) -> list[tuple[Any, Any]]:
        """One statement per partition run: a batch when several rows share the partition."""
        insert = self.insert(table)
        partitions: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            if table.nullable:
                row = tuple(
                    UNSET_VALUE if value is None and i in table.nullable else value
                    for i, value in enumerate(row)
                )
            partitions.setdefault(tuple(row[i] for i in table.partition_key), []).append(row)
        statements: list[tuple[Any, Any]] = []
        for members in partitions.values():
            if len(members) == 1:
                statements.append((insert, members[0]))
                continue
            batch, size = BatchStatement(batch_type=BatchType.UNLOGGED), 0
            for row in members:
                row_size = _size(row)
                if len(batch) and (len(batch) >= MAX_BATCH_ROWS or size + row_size > MAX_BATCH_BYTES):
                    statements.append((batch, None))
                    batch, size = BatchStatement(batch_type=BatchType.UNLOGGED), 0
                batch.add(insert, row)
                size += row_size
            statements.append((batch, None))
        return statements

    def execute(self, statements: list[tuple[Any, Any]]) -> None:
        """Run all statements; retry the failed ones (writes are idempotent upserts)."""
        pending = statements
        for attempt in range(RETRIES + 1):
            results = execute_concurrent(
                self.session,
                pending,
                concurrency=self.concurrency,
                raise_on_first_error=False,
                results_generator=True,
            )
            failed = [
                (statement, error) for statement, (ok, error) in zip(pending, results, strict=False) if not ok
            ]
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
            pending = [statement for statement, _ in failed]

    def write(
        self, name: str, rows: Iterable[tuple[Any, ...]], progress: Progress, label: str | None = None
    ) -> int:
        table = CASSANDRA_TABLES[name]
        written = 0
        with progress.table("cassandra", label or name) as report:
            for chunk in chunks(rows, CHUNK_ROWS):
                self.execute(self.statements(table, chunk))
                written += len(chunk)
                report.add(len(chunk))
        return written


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
