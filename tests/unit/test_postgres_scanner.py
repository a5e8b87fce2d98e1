"""The scanner's SQL and connection strings: quoting, and the password kept out of the ATTACH string."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from loaders.postgres import scanner
from loaders.postgres.scanner import (
    ALIAS,
    ScannerMissing,
    load_extension,
    query_sql,
    split_password,
    sql_literal,
)


def test_sql_literal_doubles_quotes() -> None:
    assert sql_literal("it's") == "'it''s'"
    assert duckdb.sql(f"SELECT {sql_literal(chr(39) * 3 + 'x')}").fetchone() == ("'''x",)


def test_query_sql_embeds_the_postgres_query_as_one_literal() -> None:
    sql = query_sql("SELECT 'a' AS \"x\" WHERE ctid >= '(0,0)'::tid")
    assert sql == (
        f"SELECT * FROM postgres_query('{ALIAS}', 'SELECT ''a'' AS \"x\" WHERE ctid >= ''(0,0)''::tid')"
    )


@pytest.mark.parametrize(
    ("dsn", "conninfo", "password"),
    [
        (
            "postgresql://loader:s3cr%40t@db.example:6432/app?sslmode=require",
            "user='loader' dbname='app' host='db.example' port='6432' sslmode='require'",
            "s3cr@t",
        ),
        ("host=h user=u password='p w' dbname=d", "host='h' user='u' dbname='d'", "p w"),
        (
            "host=h user=u dbname=d application_name=it\\'s",
            "host='h' user='u' dbname='d' application_name='it\\'s'",
            None,
        ),
    ],
)
def test_split_password(dsn: str, conninfo: str, password: str | None) -> None:
    got_conninfo, got_password = split_password(dsn)
    assert got_password == password
    assert sorted(got_conninfo.split(" ")) == sorted(conninfo.split(" "))
    assert password is None or password not in got_conninfo


def test_an_extension_duckdb_cannot_load_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "postgres_scanner.duckdb_extension"
    broken.write_bytes(b"not an extension")
    monkeypatch.setattr(scanner, "_wheel_extension_path", lambda version: broken)
    with pytest.raises(ScannerMissing) as caught:
        load_extension(duckdb.connect())
    message = str(caught.value)
    assert f"pip install duckdb-extension-postgres-scanner=={duckdb.__version__}" in message
    assert "\n" not in message
