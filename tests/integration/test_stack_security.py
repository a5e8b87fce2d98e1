"""Security of the local stack and of a job, on a separate stack started with TLS.

The module starts its own PostgreSQL and Cassandra with the stack scripts
(``LOCAL_STACK_TLS=1``, a private stack folder, free ports, the shared stack's
Cassandra jars; the shared stack on 54329/19042 is left alone), runs a small job
on it (``datagen``, ``loaders load``, ``loaders run``) and shows:

- least privilege: the stack's folders are private, PostgreSQL's socket needs
  peer or a password, the Cassandra loader role reads the app keyspace only;
- verified TLS: the loaders and the generator connect over TLS that checks the
  certificate and the host name, and refuse a server whose certificate is signed
  by another CA or names another host, with one line naming the fix;
- no secret in a command line (every process's, sampled while the stack starts
  and the job runs), a log, dbt's target/, dlt's folders or the published folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from cassandra import Unauthorized

from loaders.cassandra.connection import connected
from loaders.errors import UserError
from loaders.load.errors import user_error
from loaders.postgres.scanner import open_scanner
from loaders.settings import CassandraSettings, read_env_file, verified_tls_dsn

REPO = Path(__file__).resolve().parents[2]
LOADERS = Path(sys.executable).parent / "loaders"
DATAGEN = Path(sys.executable).parent / "datagen"
SHARED_CASSANDRA_LIB = REPO / ".stack" / "cassandra" / "lib"
# what a process inherits from pytest that could point it at the shared stack
CONNECTION_VARIABLES = (
    "POSTGRES_DSN",
    "APP_POSTGRES_DSN",
    "CASSANDRA_",
    "APP_CASSANDRA_",
    "PG",
    "WAREHOUSE_PATH",
    "PUBLISHED_DIR",
    "DLT_DATA_DIR",
    "DBT_",
    "PUBLISH_PSEUDONYM_KEY",
    "LOCAL_",
)
# files of the stack folder that hold a secret by design (each is 0600 in a 0700 folder)
SECRET_HOLDERS = ("secrets", "env", "cassandra/conf/cassandra.yaml")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command_lines() -> list[str]:
    """The command line of every process running now."""
    lines = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        if raw:
            lines.append(raw.replace(b"\0", b" ").decode("utf-8", "replace"))
    return lines


class CommandLineWatcher:
    """Samples the command line of every process on the machine in a thread; keeps each one seen."""

    def __init__(self, interval: float = 0.02) -> None:
        self.seen: set[str] = set()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmdline-watcher", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.update(command_lines())
            self._stop.wait(self._interval)

    def __enter__(self) -> CommandLineWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class PrivateStack:
    dir: Path
    env: dict[str, str]  # for subprocesses: the scripts' overrides; tools read this stack's env file
    watcher: CommandLineWatcher
    outputs: list[str] = field(default_factory=list)  # every script's and command's stdout and stderr

    @property
    def settings(self) -> dict[str, str]:
        return read_env_file(self.dir / "env")

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.crt"

    def secrets(self) -> dict[str, str]:
        found = {path.name: path.read_text().strip() for path in (self.dir / "secrets").iterdir()}
        return {**found, "PUBLISH_PSEUDONYM_KEY": self.env["PUBLISH_PSEUDONYM_KEY"]}

    def script(self, name: str, command: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["bash", str(REPO / "stack" / name), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def loaders(self, *args: str, tool: Path = LOADERS, **overrides: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(tool), *args],
            cwd=REPO,
            env={**self.env, **overrides},
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def cassandra(self, *, owner: bool = False) -> CassandraSettings:
        values = self.settings
        prefix = "APP_" if owner else ""
        host, port = values["CASSANDRA_HOSTS"].split(":")
        return CassandraSettings(
            hosts=[(host, int(port))],
            username=values[f"{prefix}CASSANDRA_USERNAME"],
            password=values[f"{prefix}CASSANDRA_PASSWORD"],
            keyspace=values["CASSANDRA_KEYSPACE"],
            local_dc=values["CASSANDRA_LOCAL_DC"],
            ssl_ca_file=values.get("CASSANDRA_SSL_CA_FILE"),
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    if not (SHARED_CASSANDRA_LIB / ".resolved").is_file():
        pytest.fail("the shared stack's Cassandra jars are missing: run `make up` first (make test does)")
    work = tmp_path_factory.mktemp("secure_stack")
    stack_dir = work / "stack"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(CONNECTION_VARIABLES)}
    env = {
        **inherited,
        "LOCAL_STACK_DIR": str(stack_dir),
        "LOCAL_STACK_TLS": "1",
        "LOCAL_PG_PORT": str(free_port()),
        "LOCAL_CASSANDRA_PORT": str(free_port()),
        "LOCAL_CASSANDRA_STORAGE_PORT": str(free_port()),
        "LOCAL_CASSANDRA_LIB": str(SHARED_CASSANDRA_LIB),
        "WAREHOUSE_PATH": str(work / "warehouse" / "warehouse.duckdb"),
        "PUBLISHED_DIR": str(work / "published"),
        "DLT_DATA_DIR": str(work / "dlt"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PUBLISH_PSEUDONYM_KEY": secrets.token_hex(24),
    }
    with CommandLineWatcher() as watcher:
        private = PrivateStack(stack_dir, env, watcher)
        # the watcher must be able to see a short-lived process's arguments
        canary = f"canary-{secrets.token_hex(8)}"
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)", canary], check=True)
        assert any(canary in line for line in watcher.seen), "the command-line watcher missed a 0.3 s process"
        try:
            for name in ("postgres.sh", "cassandra.sh"):
                up = private.script(name, "up")
                assert up.returncode == 0, up.stderr[-3000:]
                assert "TLS only" in up.stderr, up.stderr[-1000:]
            yield private
        finally:
            private.script("cassandra.sh", "down")
            private.script("postgres.sh", "down")
            left = [line[:160] for line in command_lines() if str(stack_dir) in line]
            assert not left, f"processes of the private stack left running: {left}"


@pytest.fixture(scope="module")
def job(stack: PrivateStack) -> dict[str, subprocess.CompletedProcess[str]]:
    """A small dataset generated over TLS, loaded, then the whole job."""
    steps = {
        "generate": stack.loaders("--scale", "0.01", "--seed", "11", "--reset", "--quiet", tool=DATAGEN),
        "run": stack.loaders("run"),  # loaders load, dbt build, docs, publish, report
    }
    for name, proc in steps.items():
        assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-3000:])
    return steps


# --------------------------------------------------------------------------- least privilege
def test_the_stack_folders_are_private(stack: PrivateStack, job: Any) -> None:
    top = stack.dir.stat()
    if os.geteuid() == 0:  # PostgreSQL runs as stackpg: its group may traverse the top folder, nothing more
        assert stat.S_IMODE(top.st_mode) in (0o700, 0o710)
    else:
        assert stat.S_IMODE(top.st_mode) == 0o700
    opened = []
    for path in [*stack.dir.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            opened.append(f"{path.relative_to(stack.dir)} {mode:o}")
    assert not opened, opened


def test_postgres_socket_needs_peer_or_a_password(stack: PrivateStack) -> None:
    hba = (stack.dir / "postgres" / "data" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all(rule[-1] != "trust" and "trust" not in rule for rule in rules)
    socket_dir = str(stack.dir / "postgres" / "run")
    port = stack.env["LOCAL_PG_PORT"]
    with pytest.raises(
        psycopg2.OperationalError, match="no password supplied|password authentication failed"
    ):
        psycopg2.connect(host=socket_dir, port=port, user="loader", dbname="app")
    if os.geteuid() == 0:  # root is not the OS user the socket maps to the superuser
        with pytest.raises(psycopg2.OperationalError, match="Peer authentication failed"):
            psycopg2.connect(host=socket_dir, port=port, user="postgres", dbname="app")


def test_the_cassandra_loader_reads_the_app_keyspace_only(stack: PrivateStack, job: Any) -> None:
    with connected(stack.cassandra(owner=True)) as (_cluster, owner):
        owner.execute(
            "CREATE KEYSPACE IF NOT EXISTS not_for_loaders "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        owner.execute("CREATE TABLE IF NOT EXISTS not_for_loaders.t (id int PRIMARY KEY)")
    with connected(stack.cassandra()) as (_cluster, loader):
        assert loader.execute("SELECT count(*) FROM app.messages").one()[0] > 0
        with pytest.raises(Unauthorized):
            loader.execute("SELECT * FROM not_for_loaders.t")


# --------------------------------------------------------------------------- verified TLS
@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory, make_test_ca: Callable[[Path, str], Path]) -> Path:
    """A CA that signed nothing the servers present."""
    return make_test_ca(tmp_path_factory.mktemp("other_ca") / "ca.crt", "another CA")


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    # progress lines start with "[pipeline]"; the failure is one line, no traceback
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("loaders load: error: "), proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_postgres_connections_verify_the_certificate(stack: PrivateStack) -> None:
    dsn = stack.settings["POSTGRES_DSN"]
    assert "sslmode=verify-full" in dsn and f"sslrootcert={stack.ca_file}" in dsn
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
    scanner = open_scanner(dsn)  # DuckDB's postgres_scanner: the loaders' COPY streams
    try:
        row = scanner.execute(
            "SELECT * FROM postgres_query('source_pg', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')"
        ).fetchall()
        assert row == [(True,)]
    finally:
        scanner.close()
    plain = dsn.split("?")[0] + "?sslmode=disable"
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        psycopg2.connect(plain)


def refusal(dsn: str, **env: str) -> str:
    """The one-line error the loaders give when libpq refuses ``dsn`` (as `loaders load` builds it)."""
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with pytest.raises(psycopg2.OperationalError) as caught:
            psycopg2.connect(verified_tls_dsn(dsn, "POSTGRES_DSN"), connect_timeout=10)
        os.environ["POSTGRES_DSN"] = dsn
        return str(user_error(caught.value, "extract", "raw_postgres", "warehouse.duckdb"))
    finally:
        for name, value in {**previous, "POSTGRES_DSN": None}.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_postgres_loader_refuses_another_ca_or_host(stack: PrivateStack, other_ca: Path) -> None:
    dsn = stack.settings["POSTGRES_DSN"]
    wrong_ca = stack.loaders(
        "load", "--source", "postgres", POSTGRES_DSN=dsn.replace(str(stack.ca_file), str(other_ca))
    )
    assert_one_line_error(wrong_ca, "not signed by the configured CA", "sslrootcert")
    # the right server (hostaddr) reached under a name its certificate does not list
    impostor = dsn.replace("@127.0.0.1:", "@impostor.invalid:") + "&hostaddr=127.0.0.1"
    message = refusal(impostor)
    assert "does not name the host" in message and "POSTGRES_DSN" in message and "\n" not in message
    # PGSSLROOTCERT alone (no sslrootcert, no sslmode in the DSN) means verify-full with that CA
    assert "not signed by the configured CA" in refusal(dsn.split("?")[0], PGSSLROOTCERT=str(other_ca))
    # a DSN whose sslmode would not check the certificate: tests/unit/test_settings_tls.py


class Relay:
    """Forwards 127.0.0.2:port to 127.0.0.1:port: the right server under an address its certificate lacks."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.2", port))
        self.target = port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


def test_cassandra_connections_verify_the_certificate_and_host(stack: PrivateStack) -> None:
    settings = stack.cassandra()
    assert settings.ssl_ca_file == str(stack.ca_file)
    with connected(settings) as (cluster, session):
        assert session.execute("SELECT release_version FROM system.local").one()[0].startswith("5.0.")
        assert cluster.ssl_context is not None and cluster.ssl_context.check_hostname
    with pytest.raises(UserError, match="set CASSANDRA_SSL_CA_FILE"):
        with connected(replace(settings, ssl_ca_file=None)):
            pass
    relay = Relay(settings.hosts[0][1])
    try:
        elsewhere = replace(settings, hosts=[("127.0.0.2", settings.hosts[0][1])])
        with pytest.raises(UserError) as caught, connected(elsewhere):
            pass
        assert "does not name the host" in str(caught.value) and "CASSANDRA_SSL_HOSTNAME_CHECK" in str(
            caught.value
        )
        with connected(replace(elsewhere, ssl_hostname_check=False)) as (
            _cluster,
            session,
        ):  # the chain still verified
            assert session.execute("SELECT release_version FROM system.local").one()
    finally:
        relay.close()


def test_the_cassandra_loader_refuses_another_ca(stack: PrivateStack, other_ca: Path) -> None:
    proc = stack.loaders("load", "--source", "cassandra", CASSANDRA_SSL_CA_FILE=str(other_ca))
    line = assert_one_line_error(proc, "not signed by the CA", "CASSANDRA_SSL_CA_FILE")
    assert stack.settings["CASSANDRA_PASSWORD"] not in line


# --------------------------------------------------------------------------- no secret left behind
def files_under(folder: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if (
            path.is_file()
            and not path.is_symlink()
            and not any(relative == s or relative.startswith(s + "/") for s in skip)
        ):
            yield path


def test_no_secret_in_a_command_line_a_log_or_an_output(stack: PrivateStack, job: Any) -> None:
    found = stack.secrets()
    assert {
        "pg_loader",
        "pg_app_owner",
        "cassandra_loader",
        "cassandra_app_owner",
        "cassandra_admin",
        "tls_keystore",
    } <= set(found)
    assert all(len(value) >= 24 for value in found.values())
    # the job really ran on this stack, over TLS, with these roles
    assert "published warehouse:" in job["run"].stdout
    assert found["pg_loader"] in stack.settings["POSTGRES_DSN"]

    leaks: list[str] = []
    for line in stack.watcher.seen:
        leaks += [f"command line: {name} in {line[:120]}" for name, value in found.items() if value in line]
    for text in stack.outputs:
        leaks += [f"output of a script or command: {name}" for name, value in found.items() if value in text]
    work = stack.dir.parent
    folders = {
        stack.dir: SECRET_HOLDERS,  # the stack's logs (postgres.log, cassandra/logs/*, tls/openssl.log), data, certs
        Path(stack.env["DBT_TARGET_PATH"]): (),
        Path(stack.env["DBT_LOG_PATH"]): (),
        Path(stack.env["DLT_DATA_DIR"]): (),
        Path(stack.env["PUBLISHED_DIR"]): (),
        work / "warehouse": (),
    }
    scanned = 0
    for folder, skip in folders.items():
        for path in files_under(folder, skip):
            data = path.read_bytes()
            scanned += 1
            leaks += [
                f"{path.relative_to(work)}: {name}" for name, value in found.items() if value.encode() in data
            ]
    assert not leaks, leaks
    assert scanned > 50  # logs, dbt's target/, the published docs and warehouse were there to scan
    assert (stack.dir / "cassandra" / "logs" / "system.log").is_file()
    assert (Path(stack.env["DBT_TARGET_PATH"]) / "manifest.json").is_file()
    # the files that hold a secret by design are the owner's only
    for holder in (
        "env",
        "cassandra/conf/cassandra.yaml",
        *[f"secrets/{name}" for name in found if name != "PUBLISH_PSEUDONYM_KEY"],
    ):
        assert stat.S_IMODE((stack.dir / holder).stat().st_mode) == 0o600, holder
