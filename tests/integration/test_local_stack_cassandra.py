"""The local Cassandra answers, and the loaders' role can read but never write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cassandra import AuthenticationFailed, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from loaders.cassandra.connection import ssl_context
from loaders.settings import CassandraSettings

SCRATCH_KEYSPACE = "stack_test"


@contextmanager
def session_for(settings: CassandraSettings, *, password: str | None = None) -> Iterator[Session]:
    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=settings.local_dc))
    _, port = settings.hosts[0]
    cluster = Cluster(
        [h for h, _ in settings.hosts],
        port=port,
        auth_provider=PlainTextAuthProvider(
            settings.username, settings.password if password is None else password
        ),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=10,
        ssl_context=ssl_context(settings),  # a stack started with LOCAL_STACK_TLS=1
    )
    try:
        yield cluster.connect()
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def scratch_table() -> Iterator[str]:
    """A table created by the app owner; dropped with its keyspace afterwards."""
    with session_for(CassandraSettings.from_env(owner=True)) as owner:
        owner.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {SCRATCH_KEYSPACE} "
            "WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}"
        )
        owner.execute(f"CREATE TABLE IF NOT EXISTS {SCRATCH_KEYSPACE}.probe (id int PRIMARY KEY, note text)")
        owner.execute(f"INSERT INTO {SCRATCH_KEYSPACE}.probe (id, note) VALUES (1, 'owner wrote this')")
        # the loader role reads the app keyspace only; the owner of this one lets it read it too
        owner.execute(
            f"GRANT SELECT ON KEYSPACE {SCRATCH_KEYSPACE} TO {CassandraSettings.from_env().username}"
        )
    yield f"{SCRATCH_KEYSPACE}.probe"
    with session_for(CassandraSettings.from_env(owner=True)) as owner:
        owner.execute(f"DROP KEYSPACE IF EXISTS {SCRATCH_KEYSPACE}")


def test_server_answers_a_real_query() -> None:
    with session_for(CassandraSettings.from_env()) as session:
        row = session.execute("SELECT release_version, data_center FROM system.local").one()
    assert row.release_version.startswith("5.0.")
    assert row.data_center == CassandraSettings.from_env().local_dc


def test_loader_role_reads(scratch_table: str) -> None:
    with session_for(CassandraSettings.from_env()) as loader:
        rows = list(loader.execute(f"SELECT id, note FROM {scratch_table}"))
    assert [(r.id, r.note) for r in rows] == [(1, "owner wrote this")]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE KEYSPACE loader_was_here WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}",
        f"INSERT INTO {SCRATCH_KEYSPACE}.probe (id, note) VALUES (2, 'loader wrote this')",
        f"DELETE FROM {SCRATCH_KEYSPACE}.probe WHERE id = 1",
        f"CREATE TABLE {SCRATCH_KEYSPACE}.loader_table (id int PRIMARY KEY)",
        f"TRUNCATE {SCRATCH_KEYSPACE}.probe",
    ],
)
def test_loader_role_cannot_write(scratch_table: str, statement: str) -> None:
    with session_for(CassandraSettings.from_env()) as loader:
        with pytest.raises(Unauthorized):
            loader.execute(statement)
        assert loader.execute(f"SELECT count(*) FROM {scratch_table}").one()[0] == 1


def test_wrong_password_is_rejected() -> None:
    with pytest.raises(NoHostAvailable) as failure:
        with session_for(CassandraSettings.from_env(), password="not-the-password"):
            pass
    assert failure.value.errors
    assert all(isinstance(error, AuthenticationFailed) for error in failure.value.errors.values())
