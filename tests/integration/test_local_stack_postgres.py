"""The local PostgreSQL answers, and the loaders' role can read but never write."""

from __future__ import annotations

import os
import socket
import subprocess

import psycopg2
import psycopg2.errors
import pytest

from loaders.settings import PROJECT_DIR, PostgresSettings, app_postgres_dsn


def test_server_answers_a_real_query() -> None:
    with psycopg2.connect(PostgresSettings.from_env().dsn) as conn, conn.cursor() as cur:
        cur.execute("select current_database(), current_user, current_setting('server_version_num')::int")
        database, user, version = cur.fetchone()
    assert (database, user) == ("app", "loader")
    assert version >= 150000


def test_loader_role_cannot_write() -> None:
    with psycopg2.connect(app_postgres_dsn()) as owner, owner.cursor() as cur:
        cur.execute("create table if not exists stack_probe (id int primary key)")
    loader = psycopg2.connect(PostgresSettings.from_env().dsn)
    try:
        with loader.cursor() as cur:
            cur.execute("select count(*) from stack_probe")  # read is granted by default privileges
            assert cur.fetchone() == (0,)
        loader.rollback()
        for statement in (
            "insert into stack_probe values (1)",
            "create table loader_was_here (id int)",
            "delete from stack_probe",
        ):
            with pytest.raises(psycopg2.Error) as failure, loader.cursor() as cur:
                cur.execute(statement)
            assert isinstance(
                failure.value, (psycopg2.errors.ReadOnlySqlTransaction, psycopg2.errors.InsufficientPrivilege)
            )
            loader.rollback()
    finally:
        loader.close()
        with psycopg2.connect(app_postgres_dsn()) as owner, owner.cursor() as cur:
            cur.execute("drop table if exists stack_probe")


def test_wrong_password_is_rejected() -> None:
    dsn = PostgresSettings.from_env().dsn
    user_part, _, host_part = dsn.partition("@")
    bad = user_part.rsplit(":", 1)[0] + ":not-the-password@" + host_part
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(bad)


@pytest.mark.skipif(os.geteuid() != 0, reason="as root the cluster runs as a separate OS user (stackpg)")
def test_cluster_starts_inside_a_private_folder(tmp_path) -> None:
    """A clone inside `mktemp -d` (mode 0700): the OS user running PostgreSQL can still reach its data."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    env = dict(os.environ, LOCAL_STACK_DIR=str(private / "stack"), LOCAL_PG_PORT=str(_free_port()))
    script = str(PROJECT_DIR / "stack" / "postgres.sh")
    try:
        up = subprocess.run(["bash", script, "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        assert "PostgreSQL ready" in up.stdout + up.stderr
    finally:
        subprocess.run(["bash", script, "down"], env=env, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
