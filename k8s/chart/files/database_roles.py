"""The loaders' least-privilege roles, set up with the operators' superusers (the chart's hook Job).

Usage: python database_roles.py postgresql|cassandra

Run by the chart's post-install/post-upgrade hook Job in the pipeline's image (psycopg2 and
the Cassandra driver are there). Every secret is read from a file of a mounted Secret, never
from the command line or the environment, and never printed. Settings (non-secret) come from
the environment:

  ROLES_WAIT_SECONDS   how long to wait for the store and the operator's roles (default 1200)
  ROLES_SECRETS_DIR    where the Secrets are mounted (default /etc/outings/secrets):
                       superuser/{username,password}, loader/{username,password}

postgresql: PG_HOST, PG_PORT, PG_DATABASE, PG_OWNER, PG_SSLMODE, [PG_SSLROOTCERT],
  PG_LOADER_EXTRA_ROLES (comma-separated predefined roles). The operator creates the loader
  role and its password; this makes it read-only by default (default_transaction_read_only)
  and grants it CONNECT, USAGE on schema public and SELECT on the owner's tables, now and
  later (default privileges).
cassandra: CASSANDRA_HOST, CASSANDRA_PORT, CASSANDRA_LOCAL_DC, CASSANDRA_KEYSPACE,
  CASSANDRA_REPLICATION_FACTOR (0: never create the keyspace), [CASSANDRA_SSL_CA_FILE,
  CASSANDRA_SSL_HOSTNAME_CHECK]. Creates (or updates) the loader role from its Secret: LOGIN,
  not SUPERUSER, the Secret's password, SELECT on the keyspace, and revokes every other
  permission it holds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
SECRETS_DIR = Path(os.environ.get("ROLES_SECRETS_DIR", "/etc/outings/secrets"))


def secret(name: str, key: str) -> str:
    return (SECRETS_DIR / name / key).read_text(encoding="utf-8").strip()


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise SystemExit(f"database_roles: {name} is not set (the chart's hook Job sets it)")
    return value


def say(message: str) -> None:
    print(f"database_roles: {message}", flush=True)


def until_ready(what: str, attempt: Callable[[], T], wait_seconds: float) -> T:
    """attempt() until it returns, for up to wait_seconds; its last error ends the run."""
    deadline = time.monotonic() + wait_seconds
    delay = 2.0
    while True:
        try:
            return attempt()
        except Exception as error:
            text = " ".join(str(error).split())[:300]
            if time.monotonic() + delay > deadline:
                raise SystemExit(
                    f"database_roles: {what} not ready after {wait_seconds:.0f} s: {text}"
                ) from None
            say(f"waiting for {what} ({type(error).__name__}: {text})")
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


# --------------------------------------------------------------------------- PostgreSQL
def postgresql_statements(database: str, owner: str, loader: str, extra_roles: list[str]) -> list[Any]:
    """The statements that make `loader` a read-only reader of `owner`'s tables (psycopg2.sql objects)."""
    from psycopg2 import sql

    db, own, role = sql.Identifier(database), sql.Identifier(owner), sql.Identifier(loader)
    statements = [
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role),
        sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION").format(role),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, role),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(
            own, role
        ),
    ]
    statements += [sql.SQL("GRANT {} TO {}").format(sql.Identifier(extra), role) for extra in extra_roles]
    return statements


def postgresql() -> None:
    import psycopg2

    wait = float(env("ROLES_WAIT_SECONDS", "1200"))
    database, owner = env("PG_DATABASE"), env("PG_OWNER")
    loader = secret("loader", "username")
    extra = [name for name in env("PG_LOADER_EXTRA_ROLES", "-").split(",") if name and name != "-"]
    params = {
        "host": env("PG_HOST"),
        "port": int(env("PG_PORT", "5432")),
        "dbname": database,
        "user": secret("superuser", "username"),
        "password": secret("superuser", "password"),
        "sslmode": env("PG_SSLMODE", "require"),
        "connect_timeout": 10,
        "application_name": "outings-database-roles",
    }
    if os.environ.get("PG_SSLROOTCERT"):
        params["sslrootcert"] = os.environ["PG_SSLROOTCERT"]

    def connect_when_roles_exist() -> Any:
        conn = psycopg2.connect(**params)
        with conn.cursor() as cur:  # the operator creates the roles and the database after the cluster is up
            cur.execute("SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", (owner, loader))
            if cur.fetchone()[0] != 2:
                conn.close()
                raise LookupError(f"roles {owner} and {loader} not created by the operator yet")
        return conn

    conn = until_ready(
        f"PostgreSQL {params['host']}:{params['port']}/{database}", connect_when_roles_exist, wait
    )
    try:
        with conn, conn.cursor() as cur:
            for statement in postgresql_statements(database, owner, loader, extra):
                cur.execute(statement)
    finally:
        conn.close()
    say(
        f"PostgreSQL role {loader}: read-only by default, SELECT on {owner}'s tables in {database}.public"
        + (f", member of {', '.join(extra)}" if extra else "")
    )


# --------------------------------------------------------------------------- Cassandra
def cql_name(name: str) -> str:
    """A CQL identifier, double-quoted (case kept, quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def cassandra_statements(
    keyspace: str, loader: str, datacenter: str, replication_factor: int, role_exists: bool
) -> list[str]:
    """The CQL of the loader role (its password is bound as a parameter, %s, never formatted in here).

    An existing role is altered (its password is the Secret's again), a new one created: not
    both, as Cassandra refuses a second password change of a role within a few seconds.
    """
    role, ks = cql_name(loader), cql_name(keyspace)
    statements = []
    if replication_factor > 0:
        statements.append(
            f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
            f"{{'class': 'NetworkTopologyStrategy', '{datacenter}': {replication_factor}}}"
        )
    verb = "ALTER ROLE" if role_exists else "CREATE ROLE IF NOT EXISTS"
    statements += [
        f"{verb} {role} WITH LOGIN = true AND SUPERUSER = false AND PASSWORD = %s",
        f"GRANT SELECT ON KEYSPACE {ks} TO {role}",
    ]
    return statements


def is_the_grant(resource: str, permission: str, keyspace: str) -> bool:
    return permission == "SELECT" and resource in {f"<keyspace {keyspace}>", f"<keyspace {keyspace.lower()}>"}


def revoke_statement(resource: str, permission: str, loader: str) -> str:
    """REVOKE for one row of LIST ALL PERMISSIONS: resource as Cassandra prints it (<keyspace app>,
    <table app.users>, <all keyspaces>, <role r>, <mbean name>, ...); CQL keywords ignore case."""
    target = resource.strip().removeprefix("<").removesuffix(">")
    if target.startswith("mbean "):
        target = "MBEAN '" + target.removeprefix("mbean ").replace("'", "''") + "'"
    elif target.startswith("mbeans "):
        target = "MBEANS '" + target.removeprefix("mbeans ").replace("'", "''") + "'"
    return f"REVOKE {permission} ON {target} FROM {cql_name(loader)}"


def cassandra() -> None:
    import ssl

    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    wait = float(env("ROLES_WAIT_SECONDS", "1200"))
    host, port, datacenter = (
        env("CASSANDRA_HOST"),
        int(env("CASSANDRA_PORT", "9042")),
        env("CASSANDRA_LOCAL_DC"),
    )
    keyspace = env("CASSANDRA_KEYSPACE")
    replication_factor = int(env("CASSANDRA_REPLICATION_FACTOR", "0"))
    loader, loader_password = secret("loader", "username"), secret("loader", "password")
    context = None
    if os.environ.get("CASSANDRA_SSL_CA_FILE"):
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=os.environ["CASSANDRA_SSL_CA_FILE"]
        )
        context.check_hostname = os.environ.get("CASSANDRA_SSL_HOSTNAME_CHECK", "true").lower() != "false"

    def connect() -> Any:
        profile = ExecutionProfile(
            load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=datacenter), request_timeout=60
        )
        cluster = Cluster(
            [host],
            port=port,
            ssl_context=context,
            connect_timeout=10,
            auth_provider=PlainTextAuthProvider(
                secret("superuser", "username"), secret("superuser", "password")
            ),
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        )
        try:
            return cluster, cluster.connect()
        except Exception:
            cluster.shutdown()
            raise

    cluster, session = until_ready(f"Cassandra {host}:{port}", connect, wait)
    try:
        exists = (
            session.execute("SELECT role FROM system_auth.roles WHERE role = %s", (loader,)).one() is not None
        )
        for statement in cassandra_statements(keyspace, loader, datacenter, replication_factor, exists):
            session.execute(statement, (loader_password,) if "%s" in statement else None)
        revoked = []
        for row in session.execute(f"LIST ALL PERMISSIONS OF {cql_name(loader)} NORECURSIVE"):
            if not is_the_grant(row.resource, row.permission, keyspace):
                session.execute(revoke_statement(row.resource, row.permission, loader))
                revoked.append(f"{row.permission} on {row.resource}")
    finally:
        cluster.shutdown()
    say(
        f"Cassandra role {loader}: SELECT on keyspace {keyspace} only"
        + (f" (revoked: {'; '.join(revoked)})" if revoked else "")
    )


def main(argv: list[str]) -> int:
    commands = {"postgresql": postgresql, "cassandra": cassandra}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
