"""Credentials never reach a message; failures become one line naming the fix."""

from __future__ import annotations

import logging

import psycopg2
import pytest

from loaders.errors import UserError, one_line
from loaders.load.errors import LoadFailed, user_error
from loaders.load.redact import RedactingFilter, redact


@pytest.mark.parametrize(
    "text",
    [
        "could not connect to postgresql://loader:s3cr3t-pw@127.0.0.1:5432/app",
        "dsn host=127.0.0.1 user=loader password=s3cr3t-pw dbname=app",
        "dsn password='s3cr3t-pw' host=x",
        "plain s3cr3t-pw inside",
    ],
)
def test_redact_masks_passwords(text: str) -> None:
    out = redact(text, ["s3cr3t-pw"])
    assert "s3cr3t-pw" not in out
    assert "***" in out


def test_redact_leaves_urls_without_password() -> None:
    assert redact("see https://example.com/a:b", []) == "see https://example.com/a:b"


def test_log_filter_masks_message_args_and_traceback() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "dsn %s", ("postgresql://u:pw12345@h/db",), None
    )
    try:
        raise RuntimeError("boom postgresql://u:pw12345@h/db")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "pw12345" not in text and "boom" in text


def test_postgres_errors_become_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_DSN", "postgresql://loader:topsecret@db.example:6543/app")
    refused = psycopg2.OperationalError(
        'connection to server at "db.example", port 6543 failed: Connection refused\n\tIs the server running?'
    )
    message = str(user_error(refused, "extract", "raw_postgres", "/w.duckdb"))
    assert "db.example:6543/app" in message and "make up" in message and "\n" not in message
    assert "topsecret" not in message
    auth = psycopg2.OperationalError('FATAL:  password authentication failed for user "loader"')
    message = str(user_error(auth, "extract", "raw_postgres", "/w.duckdb"))
    assert "credentials of role loader" in message and "POSTGRES_DSN" in message


def test_wrapped_user_error_is_kept() -> None:
    try:
        try:
            raise UserError("table x missing: create it")
        except UserError as inner:
            raise RuntimeError("dlt wrapper") from inner
    except RuntimeError as outer:
        error = user_error(outer, "extract", "raw_postgres", "/w.duckdb")
    assert str(error) == "table x missing: create it"


def test_unknown_failure_names_the_step_and_the_next_run() -> None:
    error = user_error(ValueError("weird\nsecond line"), "load", "raw_postgres", "/w.duckdb")
    assert isinstance(error, LoadFailed) and error.exit_code == 1
    assert "load failed" in str(error) and "ValueError: weird" in str(error) and "\n" not in str(error)


def test_not_a_postgres_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_DSN", "postgresql://loader:pw@127.0.0.1:8080/app")
    error = psycopg2.OperationalError(
        'connection to server at "127.0.0.1", port 8080 failed: received invalid response to SSL negotiation: H'
    )
    message = str(user_error(error, "extract", "raw_postgres", "/w.duckdb"))
    assert "does not answer as PostgreSQL" in message and "127.0.0.1:8080/app" in message


def test_errors_of_the_scanner_streams_get_the_postgres_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """The streams are DuckDB's postgres_scanner: its errors carry libpq's text in a DuckDB exception."""
    import duckdb

    monkeypatch.setenv("POSTGRES_DSN", "postgresql://loader:topsecret@db.example:6543/app")
    dropped = duckdb.IOException(
        "IO Error: Unable to connect to Postgres at \"user='loader' host='db.example' port='6543'\": connection to "
        'server at "db.example", port 6543 failed: Connection refused'
    )
    message = str(user_error(dropped, "extract", "raw_postgres", "/w.duckdb"))
    assert "refused the connection" in message and "db.example:6543/app" in message
    lock = duckdb.IOException(
        'IO Error: Could not set lock on file "/w.duckdb": Conflicting lock is held (PID 7)'
    )
    assert "open by process 7" in str(
        user_error(lock, "load", "raw_postgres", "/w.duckdb")
    )  # not a PostgreSQL one


def test_the_detail_of_an_unknown_failure_is_shortened_by_one_line_after_redaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "s3cr3t-" + "p" * 40
    monkeypatch.setenv("CASSANDRA_PASSWORD", secret)
    # the secret straddles the 240-character cut: shortened first, its head would not match any more
    text = "x" * 200 + "  " + secret + "\nsecond line"
    error = user_error(RuntimeError(text), "load", "raw_postgres", "/w.duckdb")
    detail = str(error).split("(", 1)[1].rsplit("): rerun", 1)[0]
    assert "s3cr3t" not in str(error) and "\n" not in str(error)
    assert detail == one_line(f"RuntimeError: {'x' * 200} ***")  # white space folded, as one_line does


def test_the_error_raised_while_a_generator_ended_is_named_not_its_stopiteration() -> None:
    # dlt's pipe iterator: the source's error is raised while it handles a StopIteration, then wrapped
    oom = MemoryError("Out of Memory Error: failed to allocate data of size 4.0 KiB")
    oom.__context__ = StopIteration()
    outer = RuntimeError("In processing pipe `messages`: extraction failed")
    outer.__cause__ = oom
    message = str(user_error(outer, "extract", "raw_cassandra", "/w.duckdb"))
    assert "MemoryError: Out of Memory Error" in message and "StopIteration" not in message
