"""The generator's side of PostgreSQL: schema, emptiness, truncation and fast COPY writes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from datagen.contract_files import POSTGRES_DDL
from datagen.progress import Progress
from datagen.tables import PG_ORDER, PG_TABLES, PgTable
from datagen.timeline import pg_text
from loaders.errors import UserError, one_line

CHUNK_ROWS = 50_000

_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def connect(dsn: str) -> psycopg2.extensions.connection:
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10, application_name="datagen")
    except psycopg2.OperationalError as exc:
        reason = one_line(exc) or type(exc).__name__
        raise UserError(
            f"cannot connect to PostgreSQL as the app owner ({reason}): start the stack with `make up` "
            "or set APP_POSTGRES_DSN"
        ) from None
    conn.autocommit = False
    return conn


def apply_schema(conn: psycopg2.extensions.connection) -> None:
    """Create the app's tables if missing (idempotent) and commit."""
    with conn.cursor() as cur:
        cur.execute(POSTGRES_DDL.read_text(encoding="utf-8"))
    conn.commit()


def non_empty_tables(conn: psycopg2.extensions.connection) -> list[str]:
    with conn.cursor() as cur:
        found = []
        for table in PG_ORDER:
            cur.execute(f"select exists (select 1 from {table})")
            row = cur.fetchone()
            if row is not None and row[0]:
                found.append(table)
    conn.commit()
    return found


def truncate(conn: psycopg2.extensions.connection) -> None:
    """Empty every app table in the current transaction (identity restarts at 1)."""
    with conn.cursor() as cur:
        cur.execute(f"truncate {', '.join(PG_ORDER)} restart identity")


def _encode(kinds: str, row: tuple[Any, ...]) -> str:
    fields = []
    for kind, value in zip(kinds, row, strict=True):
        if value is None:
            fields.append("\\N")
        elif kind == "t":
            fields.append(pg_text(value))
        elif kind == "s":
            fields.append(value.translate(_ESCAPES))
        else:
            fields.append(str(value))
    return "\t".join(fields)


def chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def copy_rows(
    conn: psycopg2.extensions.connection, table: PgTable, rows: Iterable[tuple[Any, ...]], progress: Progress
) -> int:
    """COPY ``rows`` into ``table`` in chunks (bounded memory), reporting progress."""
    statement = f"copy {table.name} ({', '.join(table.columns)}) from stdin"
    written = 0
    with conn.cursor() as cur, progress.table("postgres", table.name) as report:
        for chunk in chunks(rows, CHUNK_ROWS):
            buffer = io.StringIO("\n".join(_encode(table.kinds, row) for row in chunk) + "\n")
            cur.copy_expert(statement, buffer)
            written += len(chunk)
            report.add(len(chunk))
    return written


def copy_table(
    conn: psycopg2.extensions.connection, name: str, rows: Iterable[tuple[Any, ...]], progress: Progress
) -> int:
    return copy_rows(conn, PG_TABLES[name], rows, progress)


def sync_notification_ids(conn: psycopg2.extensions.connection) -> None:
    """The identity continues after the ids written explicitly, as the app's inserts would."""
    with conn.cursor() as cur:
        cur.execute(
            "select setval(pg_get_serial_sequence('notifications', 'id'), "
            "greatest((select max(id) from notifications), 1))"
        )


def update_rows(
    conn: psycopg2.extensions.connection,
    table: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    types: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    progress: Progress,
    *,
    keep_null: tuple[str, ...] = (),
    label: str = "updated",
) -> int:
    """UPDATE rows in place by key; ``rows`` are key values then ``columns`` values (``types`` for all).

    For columns in ``keep_null`` a None leaves the stored value as it is.
    """
    if not rows:
        return 0
    names = (*key, *columns)
    casts = ", ".join(f"%s::{kind}" for kind in types)
    sets = ", ".join(
        f"{column} = coalesce(v.{column}, t.{column})" if column in keep_null else f"{column} = v.{column}"
        for column in columns
    )
    where = " and ".join(f"t.{column} = v.{column}" for column in key)
    statement = f"update {table} as t set {sets} from (values %s) as v ({', '.join(names)}) where {where}"
    values = [
        tuple(
            pg_text(value) if kind == "timestamptz" and isinstance(value, int) else value
            for kind, value in zip(types, row, strict=True)
        )
        for row in rows
    ]
    with conn.cursor() as cur, progress.table("postgres", f"{table} ({label})") as report:
        psycopg2.extras.execute_values(cur, statement, values, template=f"({casts})", page_size=1000)
        report.add(len(rows))
    return len(rows)
