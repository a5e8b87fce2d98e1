"""Readiness probe and role setup of the local Cassandra (used by stack/cassandra.sh).

    cassandra_admin.py ready [--timeout S] [--pid PID]   wait until a real CQL query answers
    cassandra_admin.py setup-roles                        superuser, app_owner, loader (idempotent)

Passwords come from the environment, never from argv: STACK_CASSANDRA_ADMIN_PASSWORD,
STACK_CASSANDRA_APP_OWNER_PASSWORD, STACK_CASSANDRA_LOADER_PASSWORD. Host and port from
STACK_CASSANDRA_HOST / STACK_CASSANDRA_PORT (default 127.0.0.1:19042). When
STACK_CASSANDRA_SSL_CA_FILE names the stack's CA, connections use TLS and verify the
server's certificate and host name against it.

Roles: ``stack_admin`` (superuser; the built-in ``cassandra`` is disabled), ``app_owner``
(creates keyspaces; ALL on the app's), ``loader`` (SELECT on the app keyspace only,
CASSANDRA_KEYSPACE, default ``app``, which setup-roles creates when missing).
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
import time
from pathlib import Path

from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy

ADMIN_ROLE = "stack_admin"
DEFAULT_SUPERUSER = ("cassandra", "cassandra")  # Cassandra's built-in, disabled by setup-roles
LOCAL_DC = "datacenter1"
# as contracts/cassandra.cql creates it (that CREATE KEYSPACE IF NOT EXISTS is then a no-op)
APP_KEYSPACE_REPLICATION = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


class AdminError(Exception):
    """A one-line failure with its cause and fix."""


def env_secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise AdminError(f"{name} is not set: run this through stack/cassandra.sh")
    return value


def ssl_context() -> ssl.SSLContext | None:
    ca_file = os.environ.get("STACK_CASSANDRA_SSL_CA_FILE")
    if not ca_file:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=ca_file
    )  # verifies cert and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(username: str, password: str, timeout: float = 10.0) -> tuple[Cluster, Session]:
    host = os.environ.get("STACK_CASSANDRA_HOST", "127.0.0.1")
    port = int(os.environ.get("STACK_CASSANDRA_PORT", "19042"))
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=LOCAL_DC), request_timeout=timeout
    )
    cluster = Cluster(
        [host],
        port=port,
        auth_provider=PlainTextAuthProvider(username=username, password=password),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=timeout,
        control_connection_timeout=timeout,
        ssl_context=ssl_context(),
    )
    try:
        return cluster, cluster.connect()
    except BaseException:
        cluster.shutdown()
        raise


def is_auth_failure(error: Exception) -> bool:
    if isinstance(error, AuthenticationFailed):
        return True
    errors = getattr(error, "errors", None) or {}
    return bool(errors) and all(isinstance(e, AuthenticationFailed) for e in errors.values())


def admin_session() -> tuple[Cluster, Session, bool]:
    """Log in as stack_admin, else (first start) as the default superuser; say which."""
    try:
        cluster, session = connect(ADMIN_ROLE, env_secret("STACK_CASSANDRA_ADMIN_PASSWORD"))
        return cluster, session, False
    except NoHostAvailable as error:
        if not is_auth_failure(error):
            raise
    try:
        cluster, session = connect(*DEFAULT_SUPERUSER)
        return cluster, session, True
    except NoHostAvailable as error:
        if is_auth_failure(error):
            raise AdminError(
                f"neither {ADMIN_ROLE} nor the default superuser can log in (the secrets in .stack/secrets "
                "do not match the data): run `make down` and delete .stack/cassandra/data to start afresh"
            ) from None
        raise


def process_alive(pid: int | None) -> bool:
    return pid is None or Path(f"/proc/{pid}").exists()


def ready(timeout: float, pid: int | None) -> str:
    """Poll until a login (either admin) runs `SELECT release_version FROM system.local`."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not process_alive(pid):
            raise AdminError(f"the Cassandra process {pid} exited during start-up (see the log below)")
        try:
            cluster, session, _ = admin_session()
            try:
                row = session.execute("SELECT release_version FROM system.local").one()
                return str(row.release_version)
            finally:
                cluster.shutdown()
        except Exception as error:  # not listening yet, default role not created yet, ...
            last_error = f"{type(error).__name__}: {str(error)[:200]}"
        time.sleep(0.5)
    raise AdminError(
        f"Cassandra did not answer a CQL query within {timeout:.0f} s (last error: {last_error})"
    )


def quote_password(password: str) -> str:
    return "'" + password.replace("'", "''") + "'"


def can_log_in(role: str, password: str) -> bool:
    try:
        cluster, _ = connect(role, password)
    except NoHostAvailable as error:
        if is_auth_failure(error):
            return False
        raise
    cluster.shutdown()
    return True


def upsert_role(session: Session, role: str, password: str, *, superuser: bool = False) -> None:
    """Create the role, or bring an existing one back to LOGIN, its superuser flag and its password.

    Cassandra 5.0 refuses password changes closer than 5 s apart, so a password is only
    re-applied when logging in with it fails.
    """
    flags = f"LOGIN = true AND SUPERUSER = {str(superuser).lower()}"
    row = session.execute(
        "SELECT can_login, is_superuser FROM system_auth.roles WHERE role = %s", (role,)
    ).one()
    if row is None:
        session.execute(f"CREATE ROLE {role} WITH PASSWORD = {quote_password(password)} AND {flags}")
        return
    if not row.can_login or bool(row.is_superuser) != superuser:
        session.execute(f"ALTER ROLE {role} WITH {flags}")
    if not can_log_in(role, password):
        session.execute(f"ALTER ROLE {role} WITH PASSWORD = {quote_password(password)}")


def setup_roles() -> None:
    cluster, session, first_time = admin_session()
    try:
        if first_time:
            upsert_role(session, ADMIN_ROLE, env_secret("STACK_CASSANDRA_ADMIN_PASSWORD"), superuser=True)
            cluster.shutdown()
            cluster, session = connect(ADMIN_ROLE, env_secret("STACK_CASSANDRA_ADMIN_PASSWORD"))
        # one node: every replicated system keyspace has exactly one replica
        wanted = {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", LOCAL_DC: "1"}
        for keyspace in ("system_auth", "system_distributed", "system_traces"):
            row = session.execute(
                "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
            ).one()
            if row is None or dict(row.replication) != wanted:
                session.execute(
                    f"ALTER KEYSPACE {keyspace} WITH replication = "
                    f"{{'class': 'NetworkTopologyStrategy', '{LOCAL_DC}': 1}}"
                )
        # the well-known default superuser must not stay usable
        default = session.execute(
            "SELECT is_superuser, can_login FROM system_auth.roles WHERE role = %s", (DEFAULT_SUPERUSER[0],)
        ).one()
        if default is not None and (default.is_superuser or default.can_login):
            session.execute(f"ALTER ROLE {DEFAULT_SUPERUSER[0]} WITH SUPERUSER = false AND LOGIN = false")

        upsert_role(session, "app_owner", env_secret("STACK_CASSANDRA_APP_OWNER_PASSWORD"))
        # app_owner creates the app's tables (and the tests' private keyspaces); a role gets ALL on what it creates
        session.execute("GRANT CREATE ON ALL KEYSPACES TO app_owner")
        keyspace = os.environ.get("CASSANDRA_KEYSPACE", "app")
        # the app keyspace exists from the start, so that the loader's grant can name it
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {APP_KEYSPACE_REPLICATION}"
        )
        session.execute(f"GRANT ALL PERMISSIONS ON KEYSPACE {keyspace} TO app_owner")

        upsert_role(session, "loader", env_secret("STACK_CASSANDRA_LOADER_PASSWORD"))
        # reads only, and only the app keyspace (a stack set up before had SELECT on all keyspaces)
        session.execute("REVOKE ALL PERMISSIONS ON ALL KEYSPACES FROM loader")
        session.execute(f"GRANT SELECT ON KEYSPACE {keyspace} TO loader")
    finally:
        cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ready_parser = commands.add_parser("ready", help="wait until a real CQL query answers; print the version")
    ready_parser.add_argument("--timeout", type=float, default=180.0)
    ready_parser.add_argument("--pid", type=int, default=None, help="give up early if this process exits")
    commands.add_parser("setup-roles", help="create/refresh stack_admin, app_owner, loader")
    args = parser.parse_args(argv)

    logging.getLogger("cassandra").setLevel(logging.CRITICAL)  # connection retries are expected here
    try:
        if args.command == "ready":
            print(ready(args.timeout, args.pid))
        else:
            setup_roles()
    except AdminError as error:
        print(f"cassandra_admin: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # one line, no traceback: the caller shows the server log
        print(f"cassandra_admin: {type(error).__name__}: {str(error)[:300]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
