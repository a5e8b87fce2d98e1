"""Column order of the rows the generator produces, per store and table (see sources.md).

PostgreSQL column kinds drive the COPY text encoding: u uuid, s text,
t timestamp (epoch microseconds), n number (int or decimal text).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PgTable:
    name: str
    columns: tuple[str, ...]
    kinds: str


PG_TABLES: dict[str, PgTable] = {
    table.name: table
    for table in (
        PgTable(
            "users", ("id", "username", "email", "city", "created_at", "updated_at", "deleted_at"), "usssttt"
        ),
        PgTable("groups", ("id", "name", "owner_id", "created_at", "updated_at", "deleted_at"), "usuttt"),
        PgTable(
            "group_members", ("group_id", "user_id", "role", "joined_at", "left_at", "updated_at"), "uusttt"
        ),
        PgTable(
            "outings",
            (
                "id",
                "group_id",
                "created_by",
                "title",
                "category",
                "starts_at",
                "status",
                "created_at",
                "updated_at",
            ),
            "uuusststt",
        ),
        PgTable("outing_participants", ("outing_id", "user_id", "rsvp", "updated_at"), "uust"),
        PgTable(
            "payments",
            (
                "id",
                "user_id",
                "outing_id",
                "amount",
                "currency",
                "status",
                "paid_at",
                "created_at",
                "updated_at",
            ),
            "uuunssttt",
        ),
        PgTable("notifications", ("id", "user_id", "kind", "outing_id", "group_id", "created_at"), "nusuut"),
    )
}
# Foreign keys: parents first when loading, children first when emptying.
PG_ORDER = tuple(PG_TABLES)


@dataclass(frozen=True)
class CassandraTable:
    name: str
    columns: tuple[str, ...]
    partition_key: tuple[int, ...]  # positions in ``columns``
    nullable: tuple[int, ...]  # positions where None means "not written" (no tombstone)


CASSANDRA_TABLES: dict[str, CassandraTable] = {
    table.name: table
    for table in (
        CassandraTable(
            "notification_states", ("user_id", "notification_id", "status", "updated_at"), (0,), (2,)
        ),
        CassandraTable(
            "messages", ("group_id", "day", "sent_at", "message_id", "user_id", "body"), (0, 1), ()
        ),
        CassandraTable(
            "user_events",
            ("user_id", "day", "event_time", "event_id", "event_type", "properties"),
            (0, 1),
            (5,),
        ),
    )
}
