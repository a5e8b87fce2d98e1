"""TLS settings (verify-full whenever a CA is configured), their errors, and the secrets the redaction knows."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest
from cassandra.cluster import NoHostAvailable
from psycopg2.extensions import parse_dsn

from loaders.cassandra.connection import connect_error, ssl_context
from loaders.load.errors import user_error
from loaders.load.redact import known_secrets, redact
from loaders.settings import CassandraSettings, SettingsError, parse_bool, verified_tls_dsn

URL = "postgresql://loader:pw-123456@db.example:6543/app"
KEY_VALUE = "host=db.example port=6543 dbname=app user=loader password=pw-123456"


@pytest.fixture()
def no_ssl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PGSSLROOTCERT / PGSSLMODE from the environment or a local stack; a CA file to point at."""
    for name in ("PGSSLROOTCERT", "PGSSLMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("loaders.settings.STACK_ENV_FILE", tmp_path / "no-env")
    ca = tmp_path / "ca.crt"
    ca.write_text("not read by the settings, only by libpq\n")
    return ca


def test_without_a_ca_the_dsn_is_left_alone(no_ssl_env: Path) -> None:
    assert verified_tls_dsn(URL, "POSTGRES_DSN") == URL
    assert verified_tls_dsn(URL + "?sslmode=require", "POSTGRES_DSN") == URL + "?sslmode=require"


@pytest.mark.parametrize("dsn", [URL, KEY_VALUE])
def test_a_ca_in_the_environment_means_verify_full_with_it(
    dsn: str, no_ssl_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLROOTCERT", str(no_ssl_env))
    params = parse_dsn(verified_tls_dsn(dsn, "POSTGRES_DSN"))
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == str(no_ssl_env)
    assert params["password"] == "pw-123456" and params["host"] == "db.example"


def test_a_ca_in_the_dsn_gets_verify_full_and_verify_ca_is_kept(no_ssl_env: Path) -> None:
    with_ca = f"{URL}?sslrootcert={no_ssl_env}"
    assert parse_dsn(verified_tls_dsn(with_ca, "POSTGRES_DSN"))["sslmode"] == "verify-full"
    assert verified_tls_dsn(with_ca + "&sslmode=verify-ca", "X") == with_ca + "&sslmode=verify-ca"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_a_mode_that_skips_the_check_is_refused_when_a_ca_is_set(mode: str, no_ssl_env: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        verified_tls_dsn(f"{URL}?sslmode={mode}&sslrootcert={no_ssl_env}", "APP_POSTGRES_DSN")
    message = str(caught.value)
    assert f"sslmode={mode}" in message and "set sslmode=verify-full in APP_POSTGRES_DSN" in message
    assert "pw-123456" not in message


def test_a_missing_ca_file_names_the_fix(no_ssl_env: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist: point it at the PEM file"):
        verified_tls_dsn(f"{URL}?sslrootcert={no_ssl_env.parent / 'nope.crt'}", "POSTGRES_DSN")


@pytest.mark.parametrize(
    ("text", "value"),
    [("false", False), ("0", False), ("No", False), ("true", True), ("1", True), ("", True)],
)
def test_booleans(text: str, value: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_SSL_HOSTNAME_CHECK", text)
    assert parse_bool("CASSANDRA_SSL_HOSTNAME_CHECK", True) is value


def test_a_boolean_that_is_neither_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_SSL_HOSTNAME_CHECK", "maybe")
    with pytest.raises(SettingsError, match="use true or false"):
        parse_bool("CASSANDRA_SSL_HOSTNAME_CHECK", True)


def cassandra(**changes: object) -> CassandraSettings:
    base = CassandraSettings([("127.0.0.1", 9142)], "loader", "pw-123456", "app", "dc1")
    return CassandraSettings(**{**base.__dict__, **changes})


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory, make_test_ca: Callable[[Path, str], Path]) -> Path:
    return make_test_ca(tmp_path_factory.mktemp("ca") / "ca.crt", "test CA")


def test_the_cassandra_context_verifies_chain_and_host(ca_pem: Path) -> None:
    assert ssl_context(cassandra()) is None
    context = ssl_context(cassandra(ssl_ca_file=str(ca_pem)))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    relaxed = ssl_context(cassandra(ssl_ca_file=str(ca_pem), ssl_hostname_check=False))
    assert relaxed is not None and relaxed.verify_mode == ssl.CERT_REQUIRED and not relaxed.check_hostname


def test_an_unreadable_cassandra_ca_names_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    for path in (bad, tmp_path / "missing.pem"):
        with pytest.raises(SettingsError, match="CASSANDRA_SSL_CA_FILE=.*point it at the CA"):
            ssl_context(cassandra(ssl_ca_file=str(path)))


def handshake_failure(reason: str) -> NoHostAvailable:
    inner = PermissionError(1, f"Tried connecting to [('127.0.0.1', 9142)]. Last error: {reason}")
    return NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9142": inner})


@pytest.mark.parametrize(
    ("reason", "fix"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid "
            "for '127.0.0.2'",
            "CASSANDRA_SSL_HOSTNAME_CHECK=false skips only this check",
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate",
            "set CASSANDRA_SSL_CA_FILE to the CA that signed",
        ),
        (
            "[SSL: WRONG_VERSION_NUMBER] wrong version number",
            "unset CASSANDRA_SSL_CA_FILE for a plain connection",
        ),
    ],
)
def test_cassandra_tls_failures_are_one_line_with_the_fix(reason: str, fix: str, ca_pem: Path) -> None:
    message = str(connect_error(cassandra(ssl_ca_file=str(ca_pem)), handshake_failure(reason)))
    assert fix in message and "\n" not in message and "pw-123456" not in message
    assert "Tried connecting" not in message  # the driver's wrapper text is dropped


@pytest.mark.parametrize(
    ("libpq", "fix"),
    [
        (
            'connection to server at "127.0.0.1", port 5432 failed: server certificate for "127.0.0.1" (and 1 other '
            'name) does not match host name "impostor.invalid"',
            "use a host name the certificate lists",
        ),
        (
            'connection to server at "127.0.0.1", port 5432 failed: SSL error: certificate verify failed',
            "point sslrootcert in POSTGRES_DSN (or PGSSLROOTCERT) at the CA",
        ),
        (
            'connection to server at "127.0.0.1", port 5432 failed: FATAL:  pg_hba.conf rejects connection for host '
            '"127.0.0.1", user "loader", database "app", no encryption',
            "set sslmode=verify-full and sslrootcert",
        ),
        ("server does not support SSL, but SSL was required", "enable ssl on the server or fix sslmode"),
    ],
)
def test_postgres_tls_failures_are_one_line_with_the_fix(
    libpq: str, fix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTGRES_DSN", URL)
    message = str(user_error(psycopg2.OperationalError(libpq), "extract", "raw_postgres", "/w.duckdb"))
    assert fix in message and "db.example:6543/app" in message and "\n" not in message


def test_every_secret_setting_is_redacted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("loaders.settings.STACK_ENV_FILE", tmp_path / "no-env")
    values = {
        "PGPASSWORD": "libpq-secret-1",
        "CASSANDRA_PASSWORD": "cassandra-secret-2",
        "APP_CASSANDRA_PASSWORD": "owner-secret-3",
        "PUBLISH_PSEUDONYM_KEY": "pseudonym-key-4",
        "POSTGRES_DSN": "postgresql://loader:dsn-secret-5@h/app",
        "APP_POSTGRES_DSN": "host=h user=app_owner password=dsn-secret-6",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert set(known_secrets()) == {
        "libpq-secret-1",
        "cassandra-secret-2",
        "owner-secret-3",
        "pseudonym-key-4",
        "dsn-secret-5",
        "dsn-secret-6",
    }
    text = redact("a libpq-secret-1 b pseudonym-key-4 c owner-secret-3")
    assert "secret" not in text and "pseudonym-key" not in text
