"""The local PostgreSQL answers, and the loaders' role can read but never write."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest

from loaders.settings import PostgresSettings, app_postgres_dsn


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
