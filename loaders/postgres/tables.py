"""The PostgreSQL tables the loader reads, their keys and incremental cursors (see sources.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor: str
    # append-only tables use an increasing id as cursor; mutable ones their updated_at
    append_only: bool = False


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("users", ("id",), "updated_at"),
    TableSpec("groups", ("id",), "updated_at"),
    TableSpec("group_members", ("group_id", "user_id"), "updated_at"),
    TableSpec("outings", ("id",), "updated_at"),
    TableSpec("outing_participants", ("outing_id", "user_id"), "updated_at"),
    TableSpec("payments", ("id",), "updated_at"),
    TableSpec("notifications", ("id",), "id", append_only=True),
)

TABLES: tuple[str, ...] = tuple(spec.name for spec in TABLE_SPECS)

SPECS_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}

# Columns of append-only tables that tell when a row was written (settles the id cursor).
APPEND_TIME_COLUMN = "created_at"
