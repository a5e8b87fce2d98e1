"""What the Cassandra integration tests share: a private keyspace of the app's tables, the
app owner's session and the loader's settings on it, rows to write, values made comparable.

Each test module names its own keyspace (``loader_test``, ``loader_test_cc``,
``loader_test_rel``) and gets its fixtures from the factories here:

    owner = owner_fixture(KEYSPACE)       # module-scoped app owner session, keyspace created, loader granted
    reader = reader_fixture(KEYSPACE)     # the loader's read-only settings on that keyspace
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import pytest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.util import Date

from loaders.cassandra.connection import connected
from loaders.cassandra.source import TABLES
from loaders.settings import CassandraSettings

DDL = Path(__file__).resolve().parents[2] / "contracts" / "cassandra.cql"
UTC = dt.UTC


def ddl_statements(keyspace: str) -> list[str]:
    """The contract's CQL (contracts/cassandra.cql) for ``keyspace``, one statement each."""
    text = "\n".join(line for line in DDL.read_text().splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.format(keyspace=keyspace).split(";") if s.strip()]


def grant_read(owner_session: Any, keyspace: str) -> None:
    """The loader role reads the app keyspace only: the owner (who created ``keyspace``) lets it read this one."""
    owner_session.execute(f"GRANT SELECT ON KEYSPACE {keyspace} TO {CassandraSettings.from_env().username}")


@contextmanager
def keyspace_owner(keyspace: str, *, truncate: bool = False) -> Iterator[Any]:
    """The app owner's session on ``keyspace``, created with the app's tables and readable by the loader."""
    settings = replace(CassandraSettings.from_env(owner=True), keyspace=keyspace)
    with connected(settings) as (_cluster, session):
        for statement in ddl_statements(keyspace):
            session.execute(statement)
        grant_read(session, keyspace)
        if truncate:
            for table in TABLES:
                session.execute(f"TRUNCATE {keyspace}.{table}")
        yield session


def owner_fixture(keyspace: str, *, truncate: bool = False) -> Callable[[], Iterator[Any]]:
    """A module-scoped ``owner`` fixture: ``keyspace_owner(keyspace)`` for the module's tests."""

    @pytest.fixture(scope="module")
    def owner() -> Iterator[Any]:
        with keyspace_owner(keyspace, truncate=truncate) as session:
            yield session

    return owner


def reader_fixture(
    keyspace: str, *, scope: Literal["function", "module"] = "function"
) -> Callable[[], CassandraSettings]:
    """A ``reader`` fixture: the loader's read-only settings on ``keyspace``."""

    @pytest.fixture(scope=scope)
    def reader() -> CassandraSettings:
        return replace(CassandraSettings.from_env(), keyspace=keyspace)

    return reader


def canonical(value: Any) -> Any:
    """A Cassandra or DuckDB value in one comparable form (uuid as text, UTC datetimes, dicts)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Date):
        return value.date()
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, dict) or hasattr(value, "items"):
        return dict(value.items()) or None
    return value


def message(group: uuid.UUID, at: dt.datetime, body: str | None) -> tuple[Any, ...]:
    """A messages row sent at ``at`` (milliseconds, as Cassandra keeps them)."""
    return (
        group,
        at.date(),
        at.replace(microsecond=at.microsecond // 1000 * 1000),
        uuid.uuid1(),
        uuid.uuid4(),
        body,
    )


def event(user: uuid.UUID, at: dt.datetime, kind: str | None) -> tuple[Any, ...]:
    """A user_events row at ``at``, synced offline."""
    return (
        user,
        at.date(),
        at.replace(microsecond=at.microsecond // 1000 * 1000),
        uuid.uuid1(),
        kind,
        {"source": "offline sync"},
    )


def write(
    session: Any,
    table: str,
    columns: str,
    rows: list[tuple[Any, ...]],
    timestamp: int | None = None,
    *,
    keyspace: str,
) -> None:
    """INSERT rows, ``USING TIMESTAMP`` the write time (µs) as a phone syncing now would."""
    marks = ", ".join("?" * len(columns.split(",")))
    using = " USING TIMESTAMP ?" if timestamp is not None else ""
    statement = session.prepare(f"INSERT INTO {keyspace}.{table} ({columns}) VALUES ({marks}){using}")
    params = [(*r, timestamp) if timestamp is not None else r for r in rows]
    execute_concurrent_with_args(session, statement, params, concurrency=32, raise_on_first_error=True)


def write_messages(
    session: Any, rows: list[tuple[Any, ...]], timestamp: int | None = None, *, keyspace: str
) -> None:
    columns = "group_id, day, sent_at, message_id, user_id, body"
    write(session, "messages", columns, rows, timestamp, keyspace=keyspace)


def write_events(
    session: Any, rows: list[tuple[Any, ...]], timestamp: int | None = None, *, keyspace: str
) -> None:
    columns = "user_id, day, event_time, event_id, event_type, properties"
    write(session, "user_events", columns, rows, timestamp, keyspace=keyspace)


def write_states(
    session: Any, rows: list[tuple[Any, ...]], timestamp: int | None = None, *, keyspace: str
) -> None:
    columns = "user_id, notification_id, status, updated_at"
    write(session, "notification_states", columns, rows, timestamp, keyspace=keyspace)
