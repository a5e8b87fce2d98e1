"""The source tables' columns, read from PostgreSQL's catalog, and how each is selected.

Each column gets a SELECT expression chosen for exactness of the Arrow data
that DuckDB's postgres_scanner decodes from binary COPY (see ``scanner``):

- uuid is selected as is (16 bytes on the wire, Arrow ``arrow.uuid``); the
  warehouse stores it as a DuckDB UUID (see ``loaders.uuid_columns``);
- numeric(p, s) with p <= 38 is selected as is: decimal128(p, s), exactly;
- types Arrow has no lossless mapping for (json, interval, arrays, enums,
  unconstrained or wider numeric, ...) are selected as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loaders.raw_sql import quote

# A PostgreSQL identifier, double-quoted: the one quoting helper (loaders.raw_sql.quote) under the
# name this package's callers use.
quote_ident = quote

# PostgreSQL types the scanner decodes to a plain Arrow type, and the dlt data type they land as.
NATIVE_TYPES: dict[str, str] = {
    "bool": "bool",
    "int2": "bigint",
    "int4": "bigint",
    "int8": "bigint",
    "float4": "double",
    "float8": "double",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "name": "text",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "bytea": "binary",
}
MAX_DECIMAL_PRECISION = 38  # Arrow decimal128


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type_name: str  # pg_type.typname
    declared: str  # format_type(), e.g. numeric(12,2)
    typmod: int = -1

    @property
    def numeric_precision_scale(self) -> tuple[int, int] | None:
        if self.type_name != "numeric" or self.typmod < 4:
            return None
        packed = self.typmod - 4
        return (packed >> 16) & 0xFFFF, packed & 0xFFFF

    @property
    def decimal(self) -> tuple[int, int] | None:
        """(precision, scale) when the value travels as decimal128(p, s)."""
        ps = self.numeric_precision_scale
        if ps is None:
            return None
        precision, scale = ps
        if precision > MAX_DECIMAL_PRECISION or not 0 <= scale <= precision:
            return None
        return ps

    @property
    def dlt_type(self) -> tuple[str, int | None, int | None]:
        """(data_type, precision, scale) of the raw column dlt creates for this source column."""
        if self.type_name == "uuid":
            return ("text", None, None)
        decimal = self.decimal
        if decimal is not None:
            return ("decimal", decimal[0], decimal[1])
        return (NATIVE_TYPES.get(self.type_name, "text"), None, None)

    def select_expression(self) -> str:
        quoted = quote_ident(self.name)
        if self.type_name in NATIVE_TYPES or self.type_name == "uuid" or self.decimal is not None:
            return quoted
        return f"{quoted}::text AS {quoted}"


@dataclass
class SourceTable:
    schema: str
    name: str
    columns: list[SourceColumn] = field(default_factory=list)
    blocks: int = 0  # heap size in pages at the snapshot (splits a full read into streams)
    readable: bool = True

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def column(self, name: str) -> SourceColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    def select_list(self) -> str:
        return ", ".join(c.select_expression() for c in self.columns)


CATALOG_SQL = """
SELECT c.relname, c.relkind, has_table_privilege(c.oid, 'SELECT'),
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) / current_setting('block_size')::int ELSE 0 END,
       a.attname, t.typname, format_type(a.atttypid, a.atttypmod), a.atttypmod
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname, a.attnum
"""


def read_catalog(cursor: Any, schema: str, names: list[str]) -> dict[str, SourceTable]:
    """The tables among ``names`` that exist in ``schema``, with their columns in table order."""
    cursor.execute(CATALOG_SQL, (schema, list(names)))
    tables: dict[str, SourceTable] = {}
    for relname, _kind, readable, blocks, attname, typname, declared, typmod in cursor.fetchall():
        table = tables.get(relname)
        if table is None:
            table = tables[relname] = SourceTable(
                schema, relname, blocks=int(blocks or 0), readable=bool(readable)
            )
        table.columns.append(SourceColumn(attname, typname, declared, int(typmod)))
    return tables
