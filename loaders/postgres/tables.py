"""The PostgreSQL tables the loader reads, their keys and cursors: derived from the registry.

The tables, keys, kinds and cursors are those of ``contracts/source_tables.yml``
(``loaders.source_tables``), which follows ``../shared/spec/sources.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from loaders.errors import UserError
from loaders.source_tables import SourceTable, registry


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor: str
    # The column the app stamps with its own clock when it writes a row (flagged when in the future).
    clock: str
    # append-only tables use an increasing id as cursor; mutable ones their updated_at
    append_only: bool = False
    # hard deletes are found by key difference on every incremental load (loaders.postgres.deletes)
    capture_deletes: bool = True


def spec_from_registry(table: SourceTable) -> TableSpec:
    cursor = table.change_capture.cursor
    if cursor is None:  # the registry requires it of PostgreSQL tables
        raise UserError(f"contracts/source_tables.yml: {table.name} has no change_capture.cursor: add one")
    return TableSpec(
        name=table.name,
        primary_key=table.primary_key,
        cursor=cursor,
        clock=table.change_capture.clock,
        append_only=table.kind == "append-only",
        capture_deletes=table.delete_capture == "key_difference",
    )


TABLE_SPECS: tuple[TableSpec, ...] = tuple(spec_from_registry(t) for t in registry().of_store("postgres"))

TABLES: tuple[str, ...] = tuple(spec.name for spec in TABLE_SPECS)

SPECS_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}


def _append_time_column() -> str:
    clocks = {spec.clock for spec in TABLE_SPECS if spec.append_only}
    if len(clocks) > 1:
        raise UserError(
            "contracts/source_tables.yml: the append-only PostgreSQL tables stamp different clock columns "
            f"({', '.join(sorted(clocks))}); the loader expects one: give them the same"
        )
    return clocks.pop() if clocks else "created_at"


# Columns of append-only tables that tell when a row was written (settles the id cursor).
APPEND_TIME_COLUMN = _append_time_column()
