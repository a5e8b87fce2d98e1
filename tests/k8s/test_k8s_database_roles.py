"""The chart's roles hook script (k8s/chart/files/database_roles.py) against real servers.

A private PostgreSQL server (its own folder and port; the shared local stack is not touched)
stands in for the Zalando cluster: the operator's part (the owner and loader login roles, the
database) is done first, then the hook's script runs exactly as the Job does (secrets as
files, settings in the environment) and the loader role is checked as the pipeline sees it:
read-only by default, SELECT on the owner's tables of today and of tomorrow, nothing more.
The same for Cassandra on a private node (slow): SELECT on the app's keyspace only, whatever
was granted by hand before, with the password of the (rotated) Secret.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from k8s_helpers import CHART

SCRIPT = CHART / "files" / "database_roles.py"


def _pg_bindir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres system user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Server:
    def __init__(self, port: int, superuser_password: str) -> None:
        self.port, self.superuser_password = port, superuser_password

    def connect(self, user: str, password: str, dbname: str = "app") -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=dbname,
            user=user,
            password=password,
            sslmode="disable",
            connect_timeout=5,
        )


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (the local stack installs them: make up)")
    # A folder of its own under /tmp (pytest's are private to this user; the server's user must enter it).
    root = Path(tempfile.mkdtemp(prefix="outings-roles-pg-"))
    data, pwfile = root / "data", root / "pw"
    password = secrets.token_hex(16)
    pwfile.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    subprocess.run(
        _as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield Server(port, password)
    finally:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _operator_part(server: Server, loader_password: str) -> None:
    """What the Zalando operator does from the postgresql resource: two login roles, the database."""
    conn = server.connect("postgres", server.superuser_password, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE ROLE app_owner LOGIN PASSWORD %s", ("owner-pw-" + loader_password,))
        cur.execute("CREATE ROLE loader LOGIN PASSWORD %s", (loader_password,))
        cur.execute("CREATE DATABASE app OWNER app_owner")
    conn.close()
    owner = server.connect("app_owner", "owner-pw-" + loader_password)
    with owner, owner.cursor() as cur:
        cur.execute("CREATE TABLE public.users (id int primary key, email text)")
        cur.execute("INSERT INTO public.users VALUES (1, 'a@example.org')")
    owner.close()


def _run_hook(
    server: Server, tmp_path: Path, wait_seconds: int = 30, extra_roles: str = "-"
) -> subprocess.CompletedProcess[str]:
    """The hook container's command and environment; its Secrets as files (ROLES_SECRETS_DIR)."""
    secrets_dir = tmp_path / "secrets"
    for name, files in (
        ("superuser", {"username": "postgres", "password": server.superuser_password}),
        ("loader", {"username": "loader"}),
    ):
        (secrets_dir / name).mkdir(parents=True, exist_ok=True)
        for key, value in files.items():
            (secrets_dir / name / key).write_text(value + "\n")
    env = {
        "PATH": os.environ["PATH"],
        "ROLES_WAIT_SECONDS": str(wait_seconds),
        "ROLES_SECRETS_DIR": str(secrets_dir),
        "PG_HOST": "127.0.0.1",
        "PG_PORT": str(server.port),
        "PG_DATABASE": "app",
        "PG_OWNER": "app_owner",
        # the chart renders require or verify-*; this private server has no TLS
        "PG_SSLMODE": "disable",
        "PG_LOADER_EXTRA_ROLES": extra_roles,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), "postgresql"], env=env, capture_output=True, text=True, timeout=120
    )


def test_hook_waits_for_the_operators_roles_then_stops_with_one_line(server: Server, tmp_path: Path) -> None:
    done = _run_hook(server, tmp_path, wait_seconds=3)  # no loader role, no database yet
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("database_roles: PostgreSQL 127.0.0.1:") and "not ready after 3 s" in last, (
        done.stderr
    )
    assert server.superuser_password not in done.stdout + done.stderr


def test_hook_makes_the_loader_a_read_only_reader_of_the_owners_tables(
    server: Server, tmp_path: Path
) -> None:
    loader_password = secrets.token_hex(12)
    _operator_part(server, loader_password)
    done = _run_hook(server, tmp_path, extra_roles="pg_read_all_stats")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PostgreSQL role loader: read-only by default" in done.stdout
    assert server.superuser_password not in done.stdout + done.stderr

    owner = server.connect("app_owner", "owner-pw-" + loader_password)
    with owner, owner.cursor() as cur:  # a table the app creates after the hook ran
        cur.execute("CREATE TABLE public.payments (id int primary key, amount numeric)")
        cur.execute("INSERT INTO public.payments VALUES (7, 12.5)")
    owner.close()

    loader = server.connect("loader", loader_password)
    with loader.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone() == ("on",)
        cur.execute("SELECT email FROM public.users")
        assert cur.fetchall() == [("a@example.org",)]
        cur.execute("SELECT amount FROM public.payments")  # default privileges: tomorrow's tables too
        assert [float(v) for (v,) in cur.fetchall()] == [12.5]
        cur.execute(
            "SELECT pg_has_role('loader', 'pg_read_all_stats', 'member'), rolsuper, rolcreaterole, rolreplication"
            " FROM pg_roles WHERE rolname = 'loader'"
        )
        assert cur.fetchone() == (True, False, False, False)
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("INSERT INTO public.users VALUES (2, 'b@example.org')")
    loader.rollback()
    with loader.cursor() as cur:
        cur.execute("SET TRANSACTION READ WRITE")  # read-only by default only: the grants stop it too
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("UPDATE public.users SET email = 'x'")
    loader.close()
    # run again (every helm upgrade does): same result, no error
    again = _run_hook(server, tmp_path, extra_roles="pg_read_all_stats")
    assert again.returncode == 0, again.stderr


# --------------------------------------------------------------------------- Cassandra
# A private Cassandra node: the local stack's script with a folder and ports of its own (and the
# local stack's resolved jars), so the shared server is never touched; TLS-only for clients,
# with the stack's private CA, as `cassandra.tls` makes the chart's. Slow: about 40 s to start.
ROOT = CHART.parents[1]
CASSANDRA_LIB = ROOT / ".stack" / "cassandra" / "lib"


@pytest.fixture(scope="module")
def cassandra_node() -> Iterator[dict[str, str]]:
    if not CASSANDRA_LIB.is_dir():
        pytest.skip("the local stack's Cassandra jars are not resolved yet: run `make up`")
    home = Path(tempfile.mkdtemp(prefix="outings-roles-cassandra-"))
    env = {
        **os.environ,
        "LOCAL_STACK_DIR": str(home),
        "LOCAL_CASSANDRA_PORT": str(_free_port()),
        "LOCAL_CASSANDRA_STORAGE_PORT": str(_free_port()),
        "LOCAL_CASSANDRA_LIB": str(CASSANDRA_LIB),
        "LOCAL_STACK_TLS": "1",
    }
    script = ROOT / "stack" / "cassandra.sh"
    try:
        up = subprocess.run(["bash", str(script), "up"], env=env, capture_output=True, text=True, timeout=400)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        sys.path.insert(0, str(ROOT / "stack"))
        from cassandra_admin import ADMIN_ROLE  # the private node's superuser (the built-in one is disabled)

        password = (home / "secrets" / "cassandra_admin").read_text().strip()
        ca = home / "tls" / "ca.crt"  # the stack's CA (its node certificate names 127.0.0.1)
        assert ca.is_file(), (
            sorted(p.name for p in (home / "tls").iterdir()) if (home / "tls").is_dir() else home
        )
        yield {"port": env["LOCAL_CASSANDRA_PORT"], "user": ADMIN_ROLE, "password": password, "ca": str(ca)}
    finally:
        subprocess.run(["bash", str(script), "down"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def _cassandra_session(node: dict[str, str], user: str, password: str) -> Any:
    import ssl

    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    context = ssl.create_default_context(cafile=node["ca"])
    cluster = Cluster(
        ["127.0.0.1"],
        port=int(node["port"]),
        auth_provider=PlainTextAuthProvider(user, password),
        ssl_context=context,
    )
    return cluster, cluster.connect()


def _run_cassandra_hook(
    node: dict[str, str], tmp_path: Path, loader_password: str, ca: str | None = None, wait_seconds: int = 60
) -> subprocess.CompletedProcess[str]:
    secrets_dir = tmp_path / "secrets"
    for name, files in (
        ("superuser", {"username": node["user"], "password": node["password"]}),
        ("loader", {"username": "pipeline_reader", "password": loader_password}),
    ):
        (secrets_dir / name).mkdir(parents=True, exist_ok=True)
        for key, value in files.items():
            (secrets_dir / name / key).write_text(value + "\n")
    env = {
        "PATH": os.environ["PATH"],
        "ROLES_WAIT_SECONDS": str(wait_seconds),
        "ROLES_SECRETS_DIR": str(secrets_dir),
        "CASSANDRA_HOST": "127.0.0.1",
        "CASSANDRA_PORT": node["port"],
        "CASSANDRA_LOCAL_DC": "datacenter1",
        "CASSANDRA_KEYSPACE": "app",
        "CASSANDRA_REPLICATION_FACTOR": "1",
        # as the chart sets them with cassandra.tls: the hook verifies the node's certificate and name
        "CASSANDRA_SSL_CA_FILE": ca or node["ca"],
        "CASSANDRA_SSL_HOSTNAME_CHECK": "true",
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), "cassandra"], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_cassandra_hook_refuses_a_node_its_ca_did_not_sign(
    cassandra_node: dict[str, str], tmp_path: Path, make_test_ca: Callable[[Path, str], Path]
) -> None:
    other_ca = make_test_ca(
        tmp_path / "other-ca.crt", "someone else"
    )  # a CA that signed nothing of this node
    refused = _run_cassandra_hook(
        cassandra_node, tmp_path, secrets.token_hex(12), ca=str(other_ca), wait_seconds=5
    )
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("database_roles: Cassandra 127.0.0.1:") and "not ready after 5 s" in last, (
        refused.stderr
    )
    assert "certificate verify failed" in refused.stdout + refused.stderr


@pytest.mark.slow
def test_hook_gives_the_cassandra_loader_select_on_the_keyspace_only(
    cassandra_node: dict[str, str], tmp_path: Path
) -> None:
    from cassandra import Unauthorized

    first_password = secrets.token_hex(12)
    done = _run_cassandra_hook(cassandra_node, tmp_path, first_password)  # creates the keyspace and the role
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Cassandra role pipeline_reader: SELECT on keyspace app only" in done.stdout
    cluster, admin = _cassandra_session(cassandra_node, cassandra_node["user"], cassandra_node["password"])
    try:
        admin.execute("CREATE TABLE IF NOT EXISTS app.events (id int PRIMARY KEY, body text)")
        admin.execute("INSERT INTO app.events (id, body) VALUES (1, 'hello')")
        admin.execute(
            "CREATE KEYSPACE IF NOT EXISTS elsewhere WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        admin.execute("CREATE TABLE IF NOT EXISTS elsewhere.secrets (id int PRIMARY KEY)")
        # somebody widened the role by hand: the next upgrade's hook takes it back
        for grant in (
            "MODIFY ON KEYSPACE app",
            "SELECT ON ALL KEYSPACES",
            "SELECT ON TABLE elsewhere.secrets",
        ):
            admin.execute(f"GRANT {grant} TO pipeline_reader")
    finally:
        cluster.shutdown()
    time.sleep(5)  # Cassandra refuses a second password change of a role within 5 s
    new_password = secrets.token_hex(12)  # and the Secret was rotated
    again = _run_cassandra_hook(cassandra_node, tmp_path, new_password)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "revoked: " in again.stdout and "MODIFY on <keyspace app>" in again.stdout
    for output in (done, again):
        assert cassandra_node["password"] not in output.stdout + output.stderr
        assert (
            first_password not in output.stdout + output.stderr
            and new_password not in output.stdout + output.stderr
        )

    cluster, loader = _cassandra_session(cassandra_node, "pipeline_reader", new_password)
    try:
        assert [tuple(row) for row in loader.execute("SELECT id, body FROM app.events")] == [(1, "hello")]
        with pytest.raises(Unauthorized):
            loader.execute("INSERT INTO app.events (id, body) VALUES (2, 'no')")
        with pytest.raises(Unauthorized):
            loader.execute("SELECT * FROM elsewhere.secrets")
        with pytest.raises(Unauthorized):  # not even the roles table
            loader.execute("SELECT * FROM system_auth.roles")
    finally:
        cluster.shutdown()
    cluster, admin = _cassandra_session(cassandra_node, cassandra_node["user"], cassandra_node["password"])
    try:
        role = admin.execute(
            "SELECT is_superuser, can_login FROM system_auth.roles WHERE role = 'pipeline_reader'"
        ).one()
        assert tuple(role) == (False, True)
        granted = {
            (row.resource, row.permission) for row in admin.execute("LIST ALL PERMISSIONS OF pipeline_reader")
        }
        assert granted == {("<keyspace app>", "SELECT")}
    finally:
        cluster.shutdown()
