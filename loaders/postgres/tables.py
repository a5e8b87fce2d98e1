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
    # hard deletes are found by key difference on every incremental load (loaders.postgres.deletes)
    capture_deletes: bool = True

    @property
    def clock(self) -> str:
        """The column the app stamps with its own clock when it writes a row (flagged when in the future)."""
        return APPEND_TIME_COLUMN if self.append_only else self.cursor


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
