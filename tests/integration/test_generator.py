"""`datagen` (the demo data generator) against the real local stores: contract, realism, determinism, --continue.

These tests empty and refill the app's tables (--reset) at a small scale; other
test modules regenerate what they need.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg2
import pytest
from cassandra.cluster import Session

from datagen import cassandra_store, command
from loaders.errors import UserError
from loaders.settings import CassandraSettings, app_postgres_dsn

SCALE = 0.005
SEED = 7
END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)

PG_COLUMNS = {
    "users": ["id", "username", "email", "city", "created_at", "updated_at", "deleted_at"],
    "groups": ["id", "name", "owner_id", "created_at", "updated_at", "deleted_at"],
    "group_members": ["group_id", "user_id", "role", "joined_at", "left_at", "updated_at"],
    "outings": [
        "id",
        "group_id",
        "created_by",
        "title",
        "category",
        "starts_at",
        "status",
        "created_at",
        "updated_at",
    ],
    "outing_participants": ["outing_id", "user_id", "rsvp", "updated_at"],
    "payments": [
        "id",
        "user_id",
        "outing_id",
        "amount",
        "currency",
        "status",
        "paid_at",
        "created_at",
        "updated_at",
    ],
    "notifications": ["id", "user_id", "kind", "outing_id", "group_id", "created_at"],
}
PG_KEYS = {
    "users": "id",
    "groups": "id",
    "group_members": "group_id, user_id",
    "outings": "id",
    "outing_participants": "outing_id, user_id",
    "payments": "id",
    "notifications": "id",
}
CASSANDRA_KEYS = {
    "notification_states": (("user_id",), ("notification_id",)),
    "messages": (("group_id", "day"), ("sent_at", "message_id")),
    "user_events": (("user_id", "day"), ("event_time", "event_id")),
}
APPEND_ONLY_PG = ("notifications",)
APPEND_ONLY_CASSANDRA = ("messages", "user_events")


# -- helpers ----------------------------------------------------------------------------
def generate(*args: str) -> str:
    """Run the subcommand in-process (what `datagen ...` runs); return its stdout."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert command.run(parser.parse_args(["--quiet", *args])) == 0
    return out.getvalue()


def full(scale: float = SCALE, seed: int = SEED) -> str:
    return generate("--scale", str(scale), "--seed", str(seed), "--reset")


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    conn = psycopg2.connect(app_postgres_dsn(), options="-c timezone=UTC")
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def cass() -> Iterator[Session]:
    settings = CassandraSettings.from_env(owner=True)
    cluster, session = cassandra_store.connect(settings)
    cassandra_store.apply_schema(cluster, session, settings.keyspace)  # a fresh stack has no keyspace yet
    session.set_keyspace(settings.keyspace)
    yield session
    cluster.shutdown()


def q(pg: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        rows: list[tuple[Any, ...]] = cur.fetchall()
        return rows


def q1(pg: Any, sql: str, *params: Any) -> Any:
    return q(pg, sql, *params)[0][0]


def cassandra_rows(cass: Session, table: str) -> list[Any]:
    return list(cass.execute(f"SELECT * FROM {table}"))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(value.items())
    return value


def pg_checksums(pg: Any) -> dict[str, str]:
    return {
        table: q1(
            pg, f"select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {table} t"
        )
        for table in PG_COLUMNS
    }


def cassandra_checksums(cass: Session) -> dict[str, str]:
    sums = {}
    for table in CASSANDRA_KEYS:
        lines = sorted(repr(tuple(_canonical(value) for value in row)) for row in cassandra_rows(cass, table))
        sums[table] = hashlib.md5("\n".join(lines).encode()).hexdigest()
    return sums


def counts(pg: Any, cass: Session) -> dict[str, int]:
    result = {table: q1(pg, f"select count(*) from {table}") for table in PG_COLUMNS}
    result.update({table: len(cassandra_rows(cass, table)) for table in CASSANDRA_KEYS})
    return result


class Base:
    """The history at SCALE/SEED; tests that change the stores leave them for `ensure_base` to redo."""

    pg_sums: dict[str, str] | None = None
    cassandra_sums: dict[str, str] | None = None
    summary = ""


@pytest.fixture()
def base(pg: Any, cass: Session) -> Base:
    if Base.pg_sums is None or pg_checksums(pg) != Base.pg_sums:
        Base.summary = full()
        Base.pg_sums = pg_checksums(pg)
        Base.cassandra_sums = cassandra_checksums(cass)
    return Base()


# -- contract ---------------------------------------------------------------------------
def test_tables_have_the_contract_columns_and_keys(base: Base, pg: Any, cass: Session) -> None:
    for table, columns in PG_COLUMNS.items():
        found = [
            row[0]
            for row in q(
                pg,
                "select column_name from information_schema.columns "
                "where table_schema = 'public' and table_name = %s order by ordinal_position",
                table,
            )
        ]
        assert found == columns, table
        key = q1(
            pg,
            """
            select string_agg(a.attname, ', ' order by array_position(i.indkey, a.attnum))
            from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = %s::regclass and i.indisprimary""",
            table,
        )
        assert key == PG_KEYS[table], table
        assert q1(pg, f"select count(*) from {table}") > 0, table
    for table, (partition, clustering) in CASSANDRA_KEYS.items():
        kinds = {
            row.column_name: (row.kind, row.position)
            for row in cass.execute(
                "SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = %s "
                "AND table_name = %s",
                (cass.keyspace, table),
            )
        }
        assert (
            tuple(c for c, (k, _) in sorted(kinds.items(), key=lambda kv: kv[1][1]) if k == "partition_key")
            == partition
        )
        assert (
            tuple(c for c, (k, _) in sorted(kinds.items(), key=lambda kv: kv[1][1]) if k == "clustering")
            == clustering
        )
        rows = cassandra_rows(cass, table)
        keys = [tuple(getattr(row, column) for column in partition + clustering) for row in rows]
        assert rows and len(keys) == len(set(keys)), table


def test_refuses_to_overwrite_without_reset(base: Base) -> None:
    with pytest.raises(UserError, match="--reset"):
        generate("--scale", str(SCALE), "--seed", str(SEED))


def test_summary_lists_every_table_per_store(base: Base) -> None:
    assert "postgres:" in base.summary and "cassandra:" in base.summary
    for table in [*PG_COLUMNS, *CASSANDRA_KEYS]:
        assert f"  {table} " in base.summary
    assert "rows/s" in base.summary


def test_value_sets(base: Base, pg: Any, cass: Session) -> None:
    def values(sql: str) -> set[Any]:
        return {row[0] for row in q(pg, sql)}

    assert values("select role from group_members") == {"owner", "admin", "member"}
    assert values("select category from outings") <= {
        "restaurant",
        "bar",
        "cinema",
        "concert",
        "sport",
        "trip",
        "other",
    }
    assert len(values("select category from outings")) >= 5
    assert values("select status from outings") == {"planned", "confirmed", "cancelled", "done"}
    assert values("select rsvp from outing_participants") == {"invited", "going", "maybe", "declined"}
    assert values("select currency from payments") == {"EUR", "USD", "GBP", "CHF"}
    assert values("select status from payments") == {"pending", "succeeded", "refunded", "failed"}
    assert values("select kind from notifications") == {
        "outing_invite",
        "outing_reminder",
        "group_invite",
        "payment_request",
        "new_message",
    }
    assert q1(pg, "select min(amount) from payments") > 0
    statuses = {row.status for row in cassandra_rows(cass, "notification_states")}
    assert statuses == {"UNSEEN", "SEEN", "CLICKED", "DELETED", None}
    assert {row.event_type for row in cassandra_rows(cass, "user_events")} == {
        "app_open",
        "view_outing",
        "view_group",
        "share_outing",
        "search",
    }


def test_nulls_where_the_contract_allows_them(base: Base, pg: Any, cass: Session) -> None:
    def share(sql: str) -> Any:
        return q1(pg, sql)

    assert 0.05 < share("select avg((city is null)::int) from users") < 0.35
    assert 0.01 < share("select avg((deleted_at is not null)::int) from users") < 0.15
    assert 0.03 < share("select avg((outing_id is null)::int) from payments") < 0.30
    assert share("select count(*) from group_members where left_at is not null") > 0
    assert share("select count(*) from notifications where outing_id is null") > 0
    assert share("select count(*) from notifications where group_id is null") > 0
    assert share("select count(*) from notifications where outing_id is null and group_id is null") > 0
    assert (
        share(
            "select count(*) from payments where (paid_at is not null) <> (status in ('succeeded', 'refunded'))"
        )
        == 0
    )
    states = cassandra_rows(cass, "notification_states")
    null_share = sum(row.status is None for row in states) / len(states)
    assert 0.02 < null_share < 0.10
    events = cassandra_rows(cass, "user_events")
    assert 0.03 < sum(row.properties is None for row in events) / len(events) < 0.5
    assert all(row.properties is None or 1 <= len(row.properties) <= 4 for row in events)


# -- realism: anomalies and consistency --------------------------------------------------
def test_anomalies_are_present(base: Base, pg: Any, cass: Session) -> None:
    known = {row[0] for row in q(pg, "select id from notifications")}
    states = cassandra_rows(cass, "notification_states")
    orphans = [row for row in states if row.notification_id not in known]
    assert 0.005 < len(orphans) / len(states) < 0.08
    assert (
        q1(
            pg,
            "select count(*) from payments p join users u on u.id = p.user_id where u.deleted_at is not null",
        )
        > 0
    )
    assert (
        q1(
            pg,
            "select count(*) from payments where status = 'refunded' and updated_at >= paid_at + interval '14 days'",
        )
        > 0
    )
    texts = [
        row[0]
        for row in q(
            pg,
            "select username from users union all select title from outings union all select name from groups",
        )
    ]
    texts += [row.body for row in cassandra_rows(cass, "messages")]
    texts += [
        row.properties["query"]
        for row in cassandra_rows(cass, "user_events")
        if row.properties and "query" in row.properties
    ]
    for marker in ("\n", "'", '"', "\\", "\t", "é"):
        assert any(marker in value for value in texts), repr(marker)
    assert any(any(ord(char) > 0xFFFF for char in value) for value in texts)  # emoji
    usernames = [row[0] for row in q(pg, "select username from users")]
    assert any(set(name) & set("\n\t'\"\\") or any(ord(c) > 127 for c in name) for name in usernames)


def test_rows_are_consistent(base: Base, pg: Any, cass: Session) -> None:
    end = END + timedelta(seconds=1)
    for table in ("users", "groups", "outings", "payments"):
        assert q1(pg, f"select count(*) from {table} where updated_at < created_at") == 0, table
        assert (
            q1(pg, f"select count(*) from {table} where updated_at >= %s or created_at >= %s", end, end) == 0
        )
    assert (
        q1(pg, "select count(*) from group_members where updated_at < joined_at or left_at < joined_at") == 0
    )
    assert q1(pg, "select count(*) from users where deleted_at is not null and updated_at < deleted_at") == 0
    assert q1(pg, "select count(*) from payments where paid_at < created_at or updated_at < paid_at") == 0
    assert q1(pg, "select min(created_at) from users") >= END - timedelta(days=184)
    # participants are mostly members, payments mostly for outings the payer takes part in
    assert (
        q1(
            pg,
            """select avg((gm.user_id is not null)::int) from outing_participants p
                     join outings o on o.id = p.outing_id
                     left join group_members gm on gm.group_id = o.group_id and gm.user_id = p.user_id""",
        )
        > 0.6
    )
    assert (
        q1(
            pg,
            """select avg((op.user_id is not null)::int) from payments p
                     left join outing_participants op on op.outing_id = p.outing_id and op.user_id = p.user_id
                     where p.outing_id is not null""",
        )
        > 0.95
    )
    # messages come from members of the group, while they are members; `day` is the UTC date
    members = {
        (uuid.UUID(g), uuid.UUID(u)): (joined, left)
        for g, u, joined, left in q(pg, "select group_id, user_id, joined_at, left_at from group_members")
    }
    for row in cassandra_rows(cass, "messages"):
        joined, left = members[(row.group_id, row.user_id)]
        sent = row.sent_at.replace(tzinfo=UTC)
        assert joined <= sent + timedelta(milliseconds=1) and (left is None or sent < left)
        assert row.day.date() == sent.date()
        assert uuid.UUID(str(row.message_id)).version == 1
    for row in cassandra_rows(cass, "user_events"):
        assert row.day.date() == row.event_time.date()
    # ~90% of notifications have a state row
    known = {row[0] for row in q(pg, "select id from notifications")}
    with_state = {row.notification_id for row in cassandra_rows(cass, "notification_states")} & known
    assert 0.85 < len(with_state) / len(known) < 0.95


def test_activity_is_heavy_tailed(base: Base, pg: Any, cass: Session) -> None:
    per_user = Counter(row.user_id for row in cassandra_rows(cass, "user_events"))
    top = sum(n for _, n in per_user.most_common(max(1, len(per_user) // 10)))
    assert top / sum(per_user.values()) > 0.4
    per_group = Counter(row.group_id for row in cassandra_rows(cass, "messages"))
    # a handful of groups at this scale: the busiest talks well above the mean, over twice the quietest
    busiest, quietest = per_group.most_common()[0][1], per_group.most_common()[-1][1]
    assert busiest > 1.5 * sum(per_group.values()) / len(per_group)
    assert busiest > 2 * quietest
    spread = q1(
        pg, "select max(n)::float / avg(n) from (select count(*) as n from payments group by user_id) x"
    )
    assert spread > 5


# -- determinism and scale ----------------------------------------------------------------
def test_same_seed_gives_identical_contents(base: Base, pg: Any, cass: Session) -> None:
    """The base ran with the default writer processes; one process must write the same rows."""
    generate("--scale", str(SCALE), "--seed", str(SEED), "--reset", "--processes", "1")
    assert pg_checksums(pg) == base.pg_sums
    assert cassandra_checksums(cass) == base.cassandra_sums


def test_another_seed_gives_other_contents(base: Base, pg: Any, cass: Session) -> None:
    assert base.pg_sums is not None and base.cassandra_sums is not None
    pg_sums, cassandra_sums = base.pg_sums, base.cassandra_sums
    full(seed=SEED + 1)
    assert all(pg_checksums(pg)[table] != pg_sums[table] for table in PG_COLUMNS)
    assert all(cassandra_checksums(cass)[table] != cassandra_sums[table] for table in CASSANDRA_KEYS)


def test_counts_scale_linearly(base: Base, pg: Any, cass: Session) -> None:
    small = counts(pg, cass)
    full(scale=2 * SCALE)
    large = counts(pg, cass)
    for table in ("payments", "notifications", "messages", "user_events", "users", "outings"):
        assert large[table] == 2 * small[table], table
    for table in ("outing_participants", "notification_states", "group_members"):
        assert 1.5 < large[table] / small[table] < 2.6, table


# -- --continue --------------------------------------------------------------------------
def snapshot(pg: Any, cass: Session) -> dict[str, Any]:
    return {
        "counts": counts(pg, cass),
        "payments": {
            row[0]: row[1:] for row in q(pg, "select id, status, paid_at, updated_at from payments")
        },
        "updated": {
            table: dict(q(pg, f"select ({PG_KEYS[table]})::text, updated_at from {table}"))
            for table in ("users", "groups", "group_members", "outings", "outing_participants", "payments")
        },
        "outings": dict(q(pg, "select id, status from outings")),
        "states": {
            (row.user_id, row.notification_id): (row.status, row.updated_at)
            for row in cassandra_rows(cass, "notification_states")
        },
        "max_updated": q1(pg, "select max(updated_at) from payments"),
    }


CONTINUED: list[tuple[dict[str, str], dict[str, str]]] = []  # checksums after one --continue from the base


def test_continue_appends_a_day_and_updates_rows(base: Base, pg: Any, cass: Session) -> None:
    before = snapshot(pg, cass)
    generate("--continue", "--seed", str(SEED))
    CONTINUED.append((pg_checksums(pg), cassandra_checksums(cass)))
    after = snapshot(pg, cass)

    for table in (
        *APPEND_ONLY_PG,
        *APPEND_ONLY_CASSANDRA,
        "users",
        "payments",
        "outings",
        "notification_states",
    ):
        assert after["counts"][table] > before["counts"][table], table
    next_day = date(2026, 11, 1)
    assert q1(pg, "select max(created_at)::date from notifications") == next_day
    assert max(row.day.date() for row in cassandra_rows(cass, "messages")) == next_day
    assert q1(pg, "select min(id) from notifications where created_at >= %s", next_day) > max(
        row[0] for row in q(pg, "select id from notifications where created_at < %s", next_day)
    )

    # existing rows changed in place, with updated_at moved into the new day
    for table in ("users", "outings", "outing_participants", "payments"):
        moved = [
            key for key, stamp in before["updated"][table].items() if after["updated"][table][key] > stamp
        ]
        assert moved, table
        assert all(after["updated"][table][key].date() == next_day for key in moved), table
    refunded = [
        pid
        for pid, (status, paid, _) in before["payments"].items()
        if status == "succeeded" and after["payments"][pid][0] == "refunded"
    ]
    assert refunded
    for pid in refunded:
        _, paid, updated = after["payments"][pid]
        assert paid == before["payments"][pid][1] and updated >= paid + timedelta(days=14)
    assert any(
        status == "pending" and after["payments"][pid][0] in ("succeeded", "failed")
        for pid, (status, _, _) in before["payments"].items()
    )
    assert any(
        before["outings"][oid] in ("planned", "confirmed") and after["outings"][oid] == "done"
        for oid in before["outings"]
    )
    assert q1(pg, "select count(*) from users where deleted_at::date = %s", next_day) >= 1
    changed_states = [key for key, value in before["states"].items() if after["states"][key] != value]
    assert changed_states
    assert all(after["states"][key][1] > before["states"][key][1] for key in changed_states)
    assert all(before["states"][key][0] != after["states"][key][0] for key in changed_states)

    # a second --continue appends the following day
    generate("--continue", "--seed", str(SEED))
    assert q1(pg, "select max(created_at)::date from notifications") == next_day + timedelta(days=1)


def test_continue_is_deterministic(pg: Any, cass: Session) -> None:
    while len(CONTINUED) < 2:
        full()
        generate("--continue", "--seed", str(SEED))
        CONTINUED.append((pg_checksums(pg), cassandra_checksums(cass)))
    assert CONTINUED[0] == CONTINUED[1]


def _latest_stamps(pg: Any, cass: Session) -> dict[str, datetime]:
    """The latest creation or change instant of every table (outings' planned starts_at aside)."""
    stamps = {
        table: q1(pg, f"select max({column}) from {table}")
        for table, column in (
            ("users", "greatest(updated_at, created_at, deleted_at)"),
            ("groups", "greatest(updated_at, created_at, deleted_at)"),
            ("group_members", "greatest(updated_at, joined_at, left_at)"),
            ("outings", "greatest(updated_at, created_at)"),
            ("outing_participants", "updated_at"),
            ("payments", "greatest(updated_at, created_at, paid_at)"),
            ("notifications", "created_at"),
        )
    }
    for table, column in (
        ("notification_states", "updated_at"),
        ("messages", "sent_at"),
        ("user_events", "event_time"),
    ):
        stamps[table] = max(getattr(row, column) for row in cassandra_rows(cass, table)).replace(tzinfo=UTC)
    return stamps


def test_continue_never_stamps_rows_after_now(pg: Any, cass: Session) -> None:
    """A history ending yesterday: --continue fills today up to now only, then the rest of today."""
    yesterday = datetime.now(UTC).replace(hour=23, minute=59, second=59, microsecond=0) - timedelta(days=1)
    generate(
        "--scale", str(SCALE), "--seed", str(SEED), "--reset", "--days", "30", "--end", yesterday.isoformat()
    )
    assert max(_latest_stamps(pg, cass).values()) <= yesterday + timedelta(seconds=1)
    for _ in range(2):
        generate("--continue", "--seed", str(SEED))
        now = datetime.now(UTC)
        stamps = _latest_stamps(pg, cass)
        assert all(stamp <= now for stamp in stamps.values()), {t: s for t, s in stamps.items() if s > now}
    # the first --continue reached into today (it had something to append)
    assert q1(pg, "select max(created_at)::date from notifications") == now.date()
    Base.pg_sums = None  # the next test that needs the base history regenerates it


def test_future_end_is_refused(pg: Any) -> None:
    with pytest.raises(UserError, match="in the future"):
        generate("--scale", str(SCALE), "--reset", "--end", "2999-01-01T00:00:00Z")


def test_continue_on_empty_stores_names_the_fix(pg: Any) -> None:
    with psycopg2.connect(app_postgres_dsn()) as conn, conn.cursor() as cur:
        cur.execute(f"truncate {', '.join(PG_COLUMNS)}")
    Base.pg_sums = None
    with pytest.raises(UserError, match="generate a history first"):
        generate("--continue")


def test_bad_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="--scale"):
        generate("--scale", "0", "--reset")
    with pytest.raises(UserError, match="--end"):
        generate("--end", "yesterday", "--reset")


def test_unreachable_stores_are_user_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setenv("APP_POSTGRES_DSN", "postgresql://nobody:nothing@127.0.0.1:1/app")
        with pytest.raises(UserError, match="cannot connect to PostgreSQL.*APP_POSTGRES_DSN"):
            generate("--scale", str(SCALE), "--reset")
    monkeypatch.setenv("CASSANDRA_HOSTS", "127.0.0.1:1")
    with pytest.raises(UserError, match="cannot connect to Cassandra at 127.0.0.1:1"):
        generate("--scale", str(SCALE), "--reset")
