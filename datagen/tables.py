"""Column order of the rows the generator produces, per store and table: derived from the registry.

The tables, their columns and keys are those of ``contracts/source_tables.yml``
(``loaders.source_tables``), which follows ``../shared/spec/sources.md``.

PostgreSQL column kinds drive the COPY text encoding: u uuid, s text,
t timestamp (epoch microseconds), n number (int or decimal text).
"""

from __future__ import annotations

from dataclasses import dataclass

from loaders.source_tables import RegistryError, SourceTable, registry

# COPY text kind of each PostgreSQL type of the registry (its base name, parameters dropped).
PG_KINDS: dict[str, str] = {
    "uuid": "u",
    "text": "s",
    "char": "s",
    "varchar": "s",
    "timestamptz": "t",
    "bigint": "n",
    "integer": "n",
    "numeric": "n",
}


@dataclass(frozen=True)
class PgTable:
    name: str
    columns: tuple[str, ...]
    kinds: str


@dataclass(frozen=True)
class CassandraTable:
    name: str
    columns: tuple[str, ...]
    partition_key: tuple[int, ...]  # positions in ``columns``
    nullable: tuple[int, ...]  # positions where None means "not written" (no tombstone)


def pg_table(table: SourceTable) -> PgTable:
    kinds = ""
    for column in table.columns:
        if column.base_type not in PG_KINDS:
            raise RegistryError(
                f"contracts/source_tables.yml: {table.name}.{column.name}: the generator cannot write type "
                f"{column.type!r}: give it a COPY kind in datagen/tables.py (PG_KINDS)"
            )
        kinds += PG_KINDS[column.base_type]
    return PgTable(table.name, table.column_names, kinds)


def cassandra_table(table: SourceTable) -> CassandraTable:
    names = table.column_names
    return CassandraTable(
        name=table.name,
        columns=names,
        partition_key=tuple(names.index(key) for key in table.partition_key),
        nullable=tuple(i for i, column in enumerate(table.columns) if column.nullable),
    )


PG_TABLES: dict[str, PgTable] = {t.name: pg_table(t) for t in registry().of_store("postgres")}
# Foreign keys: parents first when loading, children first when emptying (the registry's order).
PG_ORDER = tuple(PG_TABLES)

CASSANDRA_TABLES: dict[str, CassandraTable] = {
    t.name: cassandra_table(t) for t in registry().of_store("cassandra")
}
