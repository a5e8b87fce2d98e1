"""DuckDB's postgres_scanner as the loaders' COPY decoder: binary COPY to Arrow in C++.

An in-memory DuckDB database attaches PostgreSQL (read-only). Each read stream
is a DuckDB cursor whose transaction imports the snapshot the session exported,
then runs ``SELECT * FROM postgres_query(...)``: the scanner sends the query as
``COPY (...) TO STDOUT (FORMAT binary)`` and decodes it into DuckDB vectors,
which leave as Arrow record batches (uuid as ``arrow.uuid``, numeric(p, s) as
decimal128(p, s), booleans as ``arrow.bool8``: ``arrow_lossless_conversion``).

The extension comes from the ``duckdb-extension-postgres-scanner`` wheel (the
extension binary signed by DuckDB; DuckDB checks the signature when loading it),
because DuckDB's extension server may be out of reach. Where the extension was
installed the usual way (``INSTALL postgres_scanner``), that copy is used instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loaders.errors import UserError

ALIAS = "source_pg"
EXTENSION = "postgres_scanner"
WHEEL = "duckdb-extension-postgres-scanner"


class ScannerMissing(UserError):
    pass


def _wheel_extension_path(version: str) -> Path | None:
    try:
        from importlib import resources

        base = resources.files("duckdb_extension_postgres_scanner")
    except ModuleNotFoundError:
        return None
    path = Path(str(base)) / "extensions" / f"v{version}" / f"{EXTENSION}.duckdb_extension"
    return path if path.is_file() else None


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_extension(connection: Any) -> None:
    """Load postgres_scanner into ``connection``: the wheel's copy, else an installed one."""
    import duckdb

    path = _wheel_extension_path(duckdb.__version__)
    try:
        connection.execute(f"LOAD {sql_literal(str(path))}" if path else f"LOAD {EXTENSION}")
    except duckdb.Error as exc:
        raise ScannerMissing(
            f"DuckDB {duckdb.__version__} cannot load its {EXTENSION} extension ({str(exc).splitlines()[0]}): "
            f"install it with `pip install {WHEEL}=={duckdb.__version__}` (`make setup` does)"
        ) from None


def _libpq_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def split_password(dsn: str) -> tuple[str, str | None]:
    """(the DSN as libpq key=value pairs without the password, the password).

    The password goes into a DuckDB secret: DuckDB repeats the ATTACH string in its
    connection errors, and the secret never appears there."""
    from psycopg2.extensions import parse_dsn

    params = parse_dsn(dsn)
    password = params.pop("password", None)
    return " ".join(f"{key}={_libpq_value(str(value))}" for key, value in params.items()), password


def open_scanner(dsn: str, memory_limit: str = "256MB") -> Any:
    """An in-memory DuckDB database with PostgreSQL attached read-only as ``ALIAS``.

    One DuckDB thread: every stream runs its query in its own Python thread (the
    parallelism is the session's), and DuckDB releases the GIL while it decodes."""
    import duckdb

    conninfo, password = split_password(dsn)

    connection = duckdb.connect(
        config={
            "threads": 1,
            "memory_limit": memory_limit,
            "arrow_lossless_conversion": True,
            "preserve_insertion_order": False,
        }
    )
    try:
        load_extension(connection)
        connection.execute("SET GLOBAL TimeZone = 'UTC'")  # Arrow timestamps labelled UTC, as they are
        secret = ""
        if password:
            connection.execute(
                f"CREATE TEMPORARY SECRET {ALIAS}_login (TYPE postgres, PASSWORD {sql_literal(password)})"
            )
            secret = f", SECRET {ALIAS}_login"
        connection.execute(f"ATTACH {sql_literal(conninfo)} AS {ALIAS} (TYPE postgres, READ_ONLY{secret})")
    except BaseException:
        connection.close()
        raise
    return connection


def snapshot_cursor(scanner: Any, snapshot_id: str) -> Any:
    """A cursor of ``scanner`` in a transaction that reads PostgreSQL at ``snapshot_id``."""
    cursor = scanner.cursor()
    cursor.execute("BEGIN TRANSACTION")
    statement = f"SET TRANSACTION SNAPSHOT {sql_literal(snapshot_id)}"
    cursor.execute(f"CALL postgres_execute({sql_literal(ALIAS)}, {sql_literal(statement)})")
    return cursor


def query_sql(postgres_sql: str) -> str:
    """The DuckDB statement that runs ``postgres_sql`` in PostgreSQL and returns its rows."""
    return f"SELECT * FROM postgres_query({sql_literal(ALIAS)}, {sql_literal(postgres_sql)})"
