"""Write the readers' copy of the build warehouse: what readers may see, nothing else.

The copy holds the schemas in ``PUBLISHED_SCHEMAS`` (dbt's staging, intermediate and gold,
and the loaders' ``ops`` when it exists), table by table, with the personal columns of
``loaders.job.personal_data`` hashed or dropped. The raw schemas (the loaders' copies of the
sources, with e-mails, usernames and message bodies) stay in the build warehouse. One DuckDB
connection reads the build file and writes the new file (ATTACH, then one
``CREATE TABLE … AS SELECT`` per table): DuckDB copies in parallel, with no detour through
Python. Views are published as tables (a view's SQL would name relations readers lack).

``ops.publication`` (one row) says when the copy was made, the commit time of the newest load
its rows come from (the next job tests only the loads after it) and the pseudonym key's
fingerprint.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from loaders.job.personal_data import PersonalDataPolicy, Treatment, hashed_name
from loaders.raw_sql import quote

PUBLISHED_SCHEMAS = ("staging", "intermediate", "gold", "ops")
PUBLICATION_SCHEMA, PUBLICATION_TABLE = "ops", "publication"
READERS_ALIAS = "readers_copy"
_HMAC_BLOCK = 64  # SHA-256's block size


@dataclass(frozen=True)
class PublishedTable:
    schema: str
    name: str
    columns: tuple[str, ...]  # as published (hashed ones renamed)
    hashed: tuple[str, ...] = ()  # source column names
    dropped: tuple[str, ...] = ()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104): the SQL below computes HMAC-SHA256 with them."""
    block = hashlib.sha256(key).digest() if len(key) > _HMAC_BLOCK else key
    block = block.ljust(_HMAC_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


# HMAC-SHA256 in DuckDB's own SQL (hex): sha256(opad || sha256(ipad || text)); $1 = ipad, $2 = opad
_HMAC_SQL = "sha256($2::blob || unhex(sha256($1::blob || encode(cast({column} as varchar)))))"


def plan_tables(
    conn: duckdb.DuckDBPyConnection, catalog: str, policy: PersonalDataPolicy
) -> list[PublishedTable]:
    """The tables and views of the published schemas in the build warehouse, with their treatment."""
    placeholders = ", ".join("?" for _ in PUBLISHED_SCHEMAS)
    rows = conn.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        f"where c.table_catalog = ? and c.table_schema in ({placeholders}) "
        "order by c.table_schema, c.table_name, c.ordinal_position",
        [catalog, *PUBLISHED_SCHEMAS],
    ).fetchall()
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        columns.setdefault((schema, table), []).append(column)
    plans: list[PublishedTable] = []
    for (schema, table), names in columns.items():
        if (schema, table) == (PUBLICATION_SCHEMA, PUBLICATION_TABLE):
            continue  # written fresh below
        published, hashed, dropped = [], [], []
        for name in names:
            treatment = policy.treatment(schema, table, name)
            if treatment is Treatment.DROP:
                dropped.append(name)
            elif treatment is Treatment.HASH:
                hashed.append(name)
                published.append(hashed_name(name))
            else:
                published.append(name)
        plans.append(PublishedTable(schema, table, tuple(published), tuple(hashed), tuple(dropped)))
    return plans


def _select_list(table: PublishedTable) -> str:
    items = []
    for name in table.columns:
        source = next((h for h in table.hashed if hashed_name(h) == name), None)
        if source is None:
            items.append(quote(name))
        else:
            items.append(f"{_HMAC_SQL.format(column=quote(source))} as {quote(name)}")
    return ", ".join(items) if items else "1 as no_published_column"


def write_reader_copy(
    conn: duckdb.DuckDBPyConnection,
    target: Path,
    policy: PersonalDataPolicy,
    key: bytes,
    *,
    tested_through: datetime | None,
    key_fingerprint: str,
    project_fingerprint: str | None = None,
) -> list[PublishedTable]:
    """Create ``target`` (a new file) from the warehouse ``conn`` has open; returns what it holds."""
    catalog = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    plans = plan_tables(conn, catalog, policy)
    ipad, opad = hmac_pads(key)
    path_literal = str(target).replace("'", "''")
    conn.execute(f"attach '{path_literal}' as {READERS_ALIAS}")
    try:
        for schema in sorted({p.schema for p in plans} | {PUBLICATION_SCHEMA}):
            conn.execute(f"create schema {READERS_ALIAS}.{quote(schema)}")
        for table in plans:
            source = f"{quote(catalog)}.{quote(table.schema)}.{quote(table.name)}"
            sql = (
                f"create table {READERS_ALIAS}.{quote(table.schema)}.{quote(table.name)} as "
                f"select {_select_list(table)} from {source}"
            )
            conn.execute(sql, [ipad, opad] if table.hashed else [])
        conn.execute(
            f"create table {READERS_ALIAS}.{PUBLICATION_SCHEMA}.{PUBLICATION_TABLE} as select "
            "cast(? as timestamptz) as published_at, cast(? as timestamptz) as tested_through, "
            "? as pseudonym_key_fingerprint, ? as tables_published, cast(? as varchar) as project_fingerprint",
            [datetime.now(UTC), tested_through, key_fingerprint, len(plans), project_fingerprint],
        )
        conn.execute(f"checkpoint {READERS_ALIAS}")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the first error is the one to report
            conn.execute(f"detach {READERS_ALIAS}")
        raise
    conn.execute(f"detach {READERS_ALIAS}")
    return plans
