"""A small, deterministic raw dataset in the loaders' DuckDB layout, with the nasty cases.

The layout is the one the loaders (dlt) write into the warehouse: schemas raw_postgres and
raw_cassandra, the source columns with uuids as canonical text, timestamptz as
TIMESTAMP WITH TIME ZONE, plus ``_dlt_load_id`` / ``_dlt_id`` and a ``_dlt_loads`` table.

Rows are plain dicts keyed "<schema>.<table>" so that ``dbt_expected`` can compute answers
from the very same rows (and an end-to-end test can feed it rows read back with
``read_raw``). Nasty cases on purpose: null notification states, orphan states (unknown
notification id, and a known id under the wrong user), a payment of an unknown user, refunds
(one refunded in a later load), pending->succeeded across loads, four currencies, a payment at
23:30 UTC, soft-deleted users, a timestamp given with a +02:00 offset, duplicates across
loads, a message without sender, quotes/emoji/newlines in text, an outing with no
participants, hard deletes (tombstones: the key, every other column null and
``_loader_deleted_at`` set, in a later load), and (``late_rows``) late-arriving rows and
deletes for the incremental tests.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

Row = dict[str, Any]
RawData = dict[str, list[Row]]

_NS = uuid.UUID("6f0d5f5e-0000-4000-8000-00000000d8b7")

# dlt load ids: unix-epoch seconds as text.
LOAD_1 = "1758844800.100000"  # 2025-09-26 00:00 UTC
LOAD_2 = "1758931200.200000"  # 2025-09-27 00:00 UTC
LOAD_LATE = "1759017600.300000"  # 2025-09-28 00:00 UTC: late rows for the incremental test
# Older than LOAD_2 but committed after it (LATE_COMMIT): a load that committed out of order.
LOAD_OUT_OF_ORDER = "1758927600.150000"  # 2025-09-26 23:00 UTC
LATE_COMMIT = datetime(2025, 9, 28, 1, 0, tzinfo=UTC)  # when the late loads commit
# A load killed before it committed: rows in raw, no _dlt_loads row until a later run.
LOAD_UNCOMMITTED = "1759021200.400000"  # 2025-09-28 01:00 UTC
EVENT_DELETED_UNCOMMITTED = "event-20"  # its tombstone is in the uncommitted load

TABLES: dict[str, list[tuple[str, str]]] = {
    "raw_postgres.users": [
        ("id", "UUID"),
        ("username", "VARCHAR"),
        ("email", "VARCHAR"),
        ("city", "VARCHAR"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
        ("deleted_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.groups": [
        ("id", "UUID"),
        ("name", "VARCHAR"),
        ("owner_id", "UUID"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
        ("deleted_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.group_members": [
        ("group_id", "UUID"),
        ("user_id", "UUID"),
        ("role", "VARCHAR"),
        ("joined_at", "TIMESTAMPTZ"),
        ("left_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.outings": [
        ("id", "UUID"),
        ("group_id", "UUID"),
        ("created_by", "UUID"),
        ("title", "VARCHAR"),
        ("category", "VARCHAR"),
        ("starts_at", "TIMESTAMPTZ"),
        ("status", "VARCHAR"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.outing_participants": [
        ("outing_id", "UUID"),
        ("user_id", "UUID"),
        ("rsvp", "VARCHAR"),
        ("updated_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.payments": [
        ("id", "UUID"),
        ("user_id", "UUID"),
        ("outing_id", "UUID"),
        ("amount", "DECIMAL(12,2)"),
        ("currency", "VARCHAR"),
        ("status", "VARCHAR"),
        ("paid_at", "TIMESTAMPTZ"),
        ("created_at", "TIMESTAMPTZ"),
        ("updated_at", "TIMESTAMPTZ"),
    ],
    "raw_postgres.notifications": [
        ("id", "BIGINT"),
        ("user_id", "UUID"),
        ("kind", "VARCHAR"),
        ("outing_id", "UUID"),
        ("group_id", "UUID"),
        ("created_at", "TIMESTAMPTZ"),
    ],
    "raw_cassandra.notification_states": [
        ("user_id", "UUID"),
        ("notification_id", "BIGINT"),
        ("status", "VARCHAR"),
        ("updated_at", "TIMESTAMPTZ"),
    ],
    "raw_cassandra.messages": [
        ("group_id", "UUID"),
        ("day", "DATE"),
        ("sent_at", "TIMESTAMPTZ"),
        ("message_id", "UUID"),
        ("user_id", "UUID"),
        ("body", "VARCHAR"),
    ],
    "raw_cassandra.user_events": [
        ("user_id", "UUID"),
        ("day", "DATE"),
        ("event_time", "TIMESTAMPTZ"),
        ("event_id", "UUID"),
        ("event_type", "VARCHAR"),
        ("properties", "JSON"),
    ],
}
DLT_COLUMNS = [("_dlt_load_id", "VARCHAR NOT NULL"), ("_dlt_id", "VARCHAR NOT NULL")]
# Set on a tombstone: the loaders found the key deleted in the source (loaders.table_stats).
DELETED_AT = "_loader_deleted_at"
TOMBSTONE_COLUMN = (DELETED_AT, "TIMESTAMPTZ")
# The source key of each raw table (sources.md): a tombstone carries only these columns.
KEYS: dict[str, list[str]] = {
    "raw_postgres.users": ["id"],
    "raw_postgres.groups": ["id"],
    "raw_postgres.group_members": ["group_id", "user_id"],
    "raw_postgres.outings": ["id"],
    "raw_postgres.outing_participants": ["outing_id", "user_id"],
    "raw_postgres.payments": ["id"],
    "raw_postgres.notifications": ["id"],
    "raw_cassandra.notification_states": ["user_id", "notification_id"],
    "raw_cassandra.messages": ["group_id", "day", "sent_at", "message_id"],
    "raw_cassandra.user_events": ["user_id", "day", "event_time", "event_id"],
}

CATEGORIES = ["restaurant", "bar", "cinema", "concert", "sport", "trip", "other"]
OUTING_STATUSES = ["planned", "confirmed", "cancelled", "done"]
RSVPS = ["invited", "going", "maybe", "declined"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
KINDS = ["outing_invite", "outing_reminder", "group_invite", "payment_request", "new_message"]
STATE_STATUSES = ["UNSEEN", "SEEN", "CLICKED", "DELETED", None]
EVENT_TYPES = ["app_open", "view_outing", "view_group", "share_outing", "search"]

N_USERS = 30
START = datetime(2025, 5, 1, tzinfo=UTC)
END = datetime(2025, 9, 25, 12, tzinfo=UTC)


def stable_uuid(name: str) -> str:
    """Canonical text of a deterministic uuid for a fixture entity name."""
    return str(uuid.uuid5(_NS, name))


def _ts(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(seconds, 1)))


class _Rows:
    """Collects rows per table and stamps dlt metadata on each."""

    def __init__(self) -> None:
        self.data: RawData = {name: [] for name in TABLES}
        self._n = 0

    def add(self, table: str, load_id: str, **values: Any) -> Row:
        columns = [name for name, _ in TABLES[table]]
        unknown = set(values) - set(columns)
        if unknown:
            raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
        self._n += 1
        row: Row = {name: values.get(name) for name in columns}
        row["_dlt_load_id"] = load_id
        row["_dlt_id"] = f"dlt{self._n:07d}"
        row[DELETED_AT] = None
        self.data[table].append(row)
        return row

    def tombstone(self, table: str, load_id: str, of: Row, deleted_at: datetime) -> Row:
        """The loaders' tombstone of the key of row `of`: a hard delete in the source."""
        row = self.add(table, load_id, **{k: of[k] for k in KEYS[table]})
        row[DELETED_AT] = deleted_at
        return row


def build_raw_dataset(seed: int = 20250926) -> RawData:
    """The base dataset: two loads (LOAD_1, then LOAD_2 with updates and duplicates)."""
    rng = random.Random(seed)
    rows = _Rows()

    # --- users: 30, created over May..Sep; a few soft-deleted; one re-loaded with a change.
    users = [stable_uuid(f"user-{i}") for i in range(N_USERS)]
    created: dict[str, datetime] = {}
    for i, user_id in enumerate(users):
        created_at = START + timedelta(days=i * 4, hours=(i * 7) % 24, minutes=i)
        created[user_id] = created_at
        deleted_at = None
        if i == 3:
            deleted_at = datetime(2025, 7, 20, 8, tzinfo=UTC)
        elif i == 7:
            deleted_at = datetime(2025, 9, 20, 8, tzinfo=UTC)
        username = f"user_{i}"
        if i == 1:
            username = 'O\'Brien "Bob" 🎉\nsecond line, Zoë'
        rows.add(
            "raw_postgres.users",
            LOAD_1,
            id=user_id,
            username=username,
            email=f"user{i}@example.org",
            city=None if i % 5 == 0 else "Paris",
            created_at=created_at,
            updated_at=created_at,
            deleted_at=None,
        )
        if deleted_at is not None or i == 5:
            # A later load brings the changed row: soft delete, or a new city.
            rows.add(
                "raw_postgres.users",
                LOAD_2,
                id=user_id,
                username=username,
                email=f"user{i}@example.org",
                city="Lyon",
                created_at=created_at,
                updated_at=deleted_at or datetime(2025, 9, 1, tzinfo=UTC),
                deleted_at=deleted_at,
            )

    # Heavy tail: low-index users act much more. Every sixth user goes quiet after
    # 2025-08-20 (churners for the ML label).
    weights = [1.0 / (i + 1) for i in range(N_USERS)]
    quiet_after = datetime(2025, 8, 20, tzinfo=UTC)
    active_until = {u: quiet_after if i % 6 == 5 else END for i, u in enumerate(users)}

    def when(user_id: str) -> datetime:
        """A random activity time of a user: after creation (and June 1), before going quiet."""
        start = max(created[user_id], datetime(2025, 6, 1, tzinfo=UTC))
        return _ts(rng, start, max(active_until[user_id], start + timedelta(days=1)))

    def some_user(after: datetime | None = None) -> str:
        while True:
            user_id = rng.choices(users, weights)[0]
            if after is None or created[user_id] <= after:
                return user_id

    # --- groups and members
    groups = [stable_uuid(f"group-{g}") for g in range(5)]
    members: dict[str, list[str]] = {}
    for g, group_id in enumerate(groups):
        owner = users[g]
        created_at = created[owner] + timedelta(days=1)
        rows.add(
            "raw_postgres.groups",
            LOAD_1,
            id=group_id,
            name=f"Group {g} « les amis »",
            owner_id=owner,
            created_at=created_at,
            updated_at=created_at,
            deleted_at=datetime(2025, 9, 1, tzinfo=UTC) if g == 4 else None,
        )
        chosen = [owner, *rng.sample([u for u in users if u != owner], 3 + g)]
        members[group_id] = chosen
        for m, user_id in enumerate(chosen):
            joined_at = max(created_at, created[user_id]) + timedelta(hours=m)
            left_at = joined_at + timedelta(days=20) if m == 2 else None
            rows.add(
                "raw_postgres.group_members",
                LOAD_1,
                group_id=group_id,
                user_id=user_id,
                role="owner" if m == 0 else ("admin" if m == 1 else "member"),
                joined_at=joined_at,
                left_at=left_at,
                updated_at=left_at or joined_at,
            )

    # --- outings and participants (the last outing has no participants and no payments)
    outings: list[tuple[str, str]] = []
    for o in range(14):
        group_id = groups[o % len(groups)]
        outing_id = stable_uuid(f"outing-{o}")
        outings.append((outing_id, group_id))
        starts_at = _ts(rng, datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 10, 10, tzinfo=UTC))
        if o == 0:
            starts_at = datetime(2025, 7, 6, 22, 30, tzinfo=UTC)  # a Sunday, late evening
        if o == 1:
            starts_at = datetime(2025, 7, 7, 0, 15, tzinfo=UTC)  # the next Monday
        created_at = starts_at - timedelta(days=10)
        status = rng.choice(OUTING_STATUSES)
        rows.add(
            "raw_postgres.outings",
            LOAD_1,
            id=outing_id,
            group_id=group_id,
            created_by=members[group_id][0],
            title=f'Outing #{o}: "dîner" 🍝',
            category=CATEGORIES[o % len(CATEGORIES)],
            starts_at=starts_at,
            status=status,
            created_at=created_at,
            updated_at=created_at,
        )
        if o == 13:
            continue
        for user_id in members[group_id]:
            rsvp = rng.choice(RSVPS)
            rows.add(
                "raw_postgres.outing_participants",
                LOAD_1,
                outing_id=outing_id,
                user_id=user_id,
                rsvp=rsvp,
                updated_at=created_at + timedelta(hours=1),
            )
            if o == 2 and rsvp != "going":
                # Changed answer in the next load: the later one wins.
                rows.add(
                    "raw_postgres.outing_participants",
                    LOAD_2,
                    outing_id=outing_id,
                    user_id=user_id,
                    rsvp="going",
                    updated_at=created_at + timedelta(days=2),
                )

    # --- payments
    def add_payment(
        name: str,
        user_id: str,
        outing_id: str | None,
        amount: str,
        currency: str,
        status: str,
        paid_at: datetime | None,
        load_id: str = LOAD_1,
    ) -> None:
        created_at = (paid_at or datetime(2025, 8, 1, tzinfo=UTC)) - timedelta(minutes=5)
        rows.add(
            "raw_postgres.payments",
            load_id,
            id=stable_uuid(name),
            user_id=user_id,
            outing_id=outing_id,
            amount=Decimal(amount),
            currency=currency,
            status=status,
            paid_at=paid_at if status in ("succeeded", "refunded") else None,
            created_at=created_at,
            updated_at=(paid_at or created_at) + timedelta(days=1),
        )

    for p in range(70):
        outing_id, group_id = rng.choice(outings[:13])
        user_id = rng.choice(members[group_id])
        status = rng.choices(["succeeded", "refunded", "pending", "failed"], [60, 15, 10, 15])[0]
        paid_at = when(user_id)
        amount = f"{rng.randrange(500, 20000) / 100:.2f}"
        add_payment(
            f"payment-{p}",
            user_id,
            outing_id if p % 4 else None,
            amount,
            CURRENCIES[p % 4],
            status,
            paid_at,
        )
    heavy = users[0]
    # Pending in the first load, succeeded in the second: counts once, as succeeded.
    add_payment("payment-late-success", heavy, outings[0][0], "42.50", "USD", "pending", None)
    add_payment(
        "payment-late-success",
        heavy,
        outings[0][0],
        "42.50",
        "USD",
        "succeeded",
        datetime(2025, 9, 10, 11, tzinfo=UTC),
        LOAD_2,
    )
    # Succeeded, then refunded in the second load: not spent.
    add_payment(
        "payment-refunded-later",
        heavy,
        outings[0][0],
        "500.00",
        "GBP",
        "succeeded",
        datetime(2025, 8, 3, 9, tzinfo=UTC),
    )
    add_payment(
        "payment-refunded-later",
        heavy,
        outings[0][0],
        "500.00",
        "GBP",
        "refunded",
        datetime(2025, 8, 3, 9, tzinfo=UTC),
        LOAD_2,
    )
    # 23:30 UTC: the UTC date, whatever the session time zone.
    add_payment(
        "payment-near-midnight",
        users[2],
        outings[1][0],
        "19.99",
        "CHF",
        "succeeded",
        datetime(2025, 7, 14, 23, 30, tzinfo=UTC),
    )
    # Given with a +02:00 offset: 2025-08-01 01:30+02 is 2025-07-31 23:30 UTC.
    add_payment(
        "payment-offset",
        users[4],
        None,
        "10.01",
        "EUR",
        "succeeded",
        datetime(2025, 8, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
    )
    # Payment of a user PostgreSQL no longer has (orphan: relationship warns).
    add_payment(
        "payment-ghost",
        stable_uuid("user-ghost"),
        None,
        "12.34",
        "EUR",
        "succeeded",
        datetime(2025, 8, 20, 10, tzinfo=UTC),
    )
    # Soft-deleted user's payment before deletion: still money spent.
    add_payment(
        "payment-deleted-user",
        users[3],
        None,
        "7.77",
        "GBP",
        "succeeded",
        datetime(2025, 7, 2, 12, tzinfo=UTC),
    )

    # --- notifications (ids 1..300) and their states
    notif_ids: list[tuple[int, str]] = []
    for n in range(1, 301):
        user_id = some_user()
        created_at = when(user_id)
        outing_id, group_id = rng.choice(outings)
        kind = KINDS[n % len(KINDS)]
        rows.add(
            "raw_postgres.notifications",
            LOAD_1 if n <= 230 else LOAD_2,
            id=n,
            user_id=user_id,
            kind=kind,
            outing_id=outing_id if kind.startswith("outing") else None,
            group_id=group_id if kind == "group_invite" else None,
            created_at=created_at,
        )
        notif_ids.append((n, user_id))
        if n % 10 == 0:
            continue  # no state row at all
        status = STATE_STATUSES[n % len(STATE_STATUSES)]
        updated_at = created_at + timedelta(hours=n % 50)
        rows.add(
            "raw_cassandra.notification_states",
            LOAD_1,
            user_id=user_id,
            notification_id=n,
            status="UNSEEN" if n % 7 == 0 else status,
            updated_at=updated_at,
        )
        if n % 7 == 0:
            # Overwritten later: the second load's state wins.
            rows.add(
                "raw_cassandra.notification_states",
                LOAD_2,
                user_id=user_id,
                notification_id=n,
                status="CLICKED",
                updated_at=updated_at + timedelta(days=1),
            )
    # Orphan states: unknown notification ids, and a known id under another user.
    for orphan_id in (9001, 9002):
        rows.add(
            "raw_cassandra.notification_states",
            LOAD_1,
            user_id=users[0],
            notification_id=orphan_id,
            status="SEEN",
            updated_at=datetime(2025, 8, 1, tzinfo=UTC),
        )
    wrong_user = users[29] if notif_ids[0][1] != users[29] else users[28]
    rows.add(
        "raw_cassandra.notification_states",
        LOAD_1,
        user_id=wrong_user,
        notification_id=notif_ids[0][0],
        status="CLICKED",
        updated_at=datetime(2025, 8, 2, tzinfo=UTC),
    )

    # --- messages (append-only); one without sender; one loaded twice
    for m in range(320):
        group_id = rng.choice(groups)
        user_id = rng.choice(members[group_id])
        sent_at = when(user_id)
        if m == 0:
            sent_at = datetime(2025, 7, 6, 23, 59, 59, tzinfo=UTC)  # Sunday, last second
        message = {
            "group_id": group_id,
            "day": sent_at.astimezone(UTC).date(),
            "sent_at": sent_at,
            "message_id": stable_uuid(f"msg-{m}"),
            "user_id": None if m == 1 else user_id,
            "body": "Salut 👋 « ça va ? »\n'quoted' \"double\"" if m % 9 == 0 else f"message {m}",
        }
        rows.add("raw_cassandra.messages", LOAD_1, **message)
        if m == 5:
            rows.add("raw_cassandra.messages", LOAD_2, **message)

    # --- user events (append-only, heavy tail); one loaded twice
    for e in range(450):
        user_id = some_user()
        event_time = when(user_id)
        event = {
            "user_id": user_id,
            "day": event_time.astimezone(UTC).date(),
            "event_time": event_time,
            "event_id": stable_uuid(f"event-{e}"),
            "event_type": EVENT_TYPES[e % len(EVENT_TYPES)],
            "properties": json.dumps({"screen": f"s{e % 3}", "note": "é\"'"}),
        }
        rows.add("raw_cassandra.user_events", LOAD_1, **event)
        if e == 3:
            rows.add("raw_cassandra.user_events", LOAD_2, **event)

    # --- hard deletes, found by the second load (tombstones): an account created and erased
    # with nothing else, a succeeded payment, a membership, a notification state, a message
    # and an event. None of them may reach staging or gold.
    erased_at = datetime(2025, 9, 26, 23, tzinfo=UTC)
    created_at = datetime(2025, 9, 2, 8, tzinfo=UTC)
    erased = rows.add(
        "raw_postgres.users",
        LOAD_1,
        id=stable_uuid("user-erased"),
        username="erased",
        email="erased@example.org",
        city="Brest",
        created_at=created_at,
        updated_at=created_at,
    )
    rows.tombstone("raw_postgres.users", LOAD_2, erased, erased_at)
    generic_payments = {stable_uuid(f"payment-{p}") for p in range(70)}
    succeeded = [
        r
        for r in rows.data["raw_postgres.payments"]
        if r["status"] == "succeeded" and r["id"] in generic_payments
    ]
    rows.tombstone("raw_postgres.payments", LOAD_2, succeeded[-1], erased_at)
    members = [r for r in rows.data["raw_postgres.group_members"] if r["left_at"] is None]
    rows.tombstone("raw_postgres.group_members", LOAD_2, members[-1], erased_at)
    seen = [
        r
        for r in rows.data["raw_cassandra.notification_states"]
        if r["status"] in ("SEEN", "CLICKED") and 100 <= r["notification_id"] < 230
    ]
    rows.tombstone("raw_cassandra.notification_states", LOAD_2, seen[-1], erased_at)
    last = {table: table_rows[-1] for table, table_rows in rows.data.items()}
    rows.tombstone("raw_cassandra.messages", LOAD_2, last["raw_cassandra.messages"], erased_at)
    rows.tombstone("raw_cassandra.user_events", LOAD_2, last["raw_cassandra.user_events"], erased_at)
    return rows.data


def late_rows(base: RawData) -> RawData:
    """Rows of later loads for the incremental test: old business dates, new loads."""
    rows = _Rows()
    rows._n = sum(len(v) for v in base.values()) + 1000
    users = [stable_uuid(f"user-{i}") for i in range(N_USERS)]
    group_id = stable_uuid("group-0")
    # A message sent in July, extracted only now.
    sent_at = datetime(2025, 7, 15, 18, 0, tzinfo=UTC)
    rows.add(
        "raw_cassandra.messages",
        LOAD_LATE,
        group_id=group_id,
        day=sent_at.date(),
        sent_at=sent_at,
        message_id=stable_uuid("msg-late"),
        user_id=users[0],
        body="late 🐢",
    )
    # An event of a load that committed out of order (its id is older than the latest
    # processed load; it commits at LATE_COMMIT with the others).
    event_time = datetime(2025, 8, 9, 7, 0, tzinfo=UTC)
    rows.add(
        "raw_cassandra.user_events",
        LOAD_OUT_OF_ORDER,
        user_id=users[6],
        day=event_time.date(),
        event_time=event_time,
        event_id=stable_uuid("event-late"),
        event_type="search",
        properties=json.dumps({"q": "late"}),
    )
    # A state overwritten after the first dbt run, and a first state for a notification
    # that had none.
    notifications = {r["id"]: r for r in base["raw_postgres.notifications"]}
    rows.add(
        "raw_cassandra.notification_states",
        LOAD_LATE,
        user_id=notifications[1]["user_id"],
        notification_id=1,
        status="DELETED",
        updated_at=datetime(2025, 9, 27, 9, tzinfo=UTC),
    )
    ten = notifications[10]
    rows.add(
        "raw_cassandra.notification_states",
        LOAD_LATE,
        user_id=ten["user_id"],
        notification_id=10,
        status="CLICKED",
        updated_at=datetime(2025, 9, 27, 10, tzinfo=UTC),
    )
    # A payment refunded weeks after it succeeded.
    paid = next(
        r
        for r in base["raw_postgres.payments"]
        if r["status"] == "succeeded"
        and r["_dlt_load_id"] == LOAD_1
        and r["id"] != stable_uuid("payment-refunded-later")
    )
    refunded = dict(paid, status="refunded", updated_at=datetime(2025, 9, 27, 12, tzinfo=UTC))
    for column in ("_dlt_load_id", "_dlt_id", DELETED_AT):
        refunded.pop(column)
    rows.add("raw_postgres.payments", LOAD_LATE, **refunded)

    # New versions of rows of the other PostgreSQL tables: a user soft-deleted, a member who
    # left, an outing cancelled, an answer changed. Each replaces its row in staging and
    # reaches the marts (retention, features, engagement, outing summary).
    late = datetime(2025, 9, 27, 13, tzinfo=UTC)

    def later_version(table: str, key: dict[str, Any], **changes: Any) -> None:
        base_row = next(r for r in base[table] if all(r[k] == v for k, v in key.items()))
        row = {k: v for k, v in base_row.items() if not k.startswith("_dlt_") and k != DELETED_AT}
        rows.add(table, LOAD_LATE, **{**row, **changes, "updated_at": late})

    later_version("raw_postgres.users", {"id": users[2]}, deleted_at=late, city="Nantes")
    member = next(
        r for r in base["raw_postgres.group_members"] if r["left_at"] is None and r["role"] == "member"
    )
    later_version(
        "raw_postgres.group_members",
        {"group_id": member["group_id"], "user_id": member["user_id"]},
        left_at=late,
    )
    outing = next(r for r in base["raw_postgres.outings"] if r["status"] != "cancelled")
    later_version("raw_postgres.outings", {"id": outing["id"]}, status="cancelled")
    answer = next(r for r in base["raw_postgres.outing_participants"] if r["rsvp"] != "going")
    later_version(
        "raw_postgres.outing_participants",
        {"outing_id": answer["outing_id"], "user_id": answer["user_id"]},
        rsvp="going",
    )

    # Hard deletes found by the late load (tombstones): an active user (their payments,
    # messages and events stay, as orphans), a succeeded payment that was its user's only
    # activity that day (the day leaves gold), a membership, a successful notification
    # state, a message and an event.
    deleted_at = datetime(2025, 9, 27, 14, tzinfo=UTC)
    for table, row in deleted_by_late_load(base).items():
        rows.tombstone(table, LOAD_LATE, row, deleted_at)
    return {table: table_rows for table, table_rows in rows.data.items() if table_rows}


def _live(base: RawData, table: str) -> list[Row]:
    """Rows of `table` whose key has no tombstone in `base`."""
    deleted = {tuple(r[k] for k in KEYS[table]) for r in base[table] if r[DELETED_AT] is not None}
    return [r for r in base[table] if tuple(r[k] for k in KEYS[table]) not in deleted]


def deleted_by_late_load(base: RawData) -> dict[str, Row]:
    """The row of each table whose key the late load deletes (late_rows)."""
    users = [stable_uuid(f"user-{i}") for i in range(N_USERS)]
    generic_payments = {stable_uuid(f"payment-{p}") for p in range(70)}
    late_refund = next(
        r
        for r in base["raw_postgres.payments"]
        if r["status"] == "succeeded"
        and r["_dlt_load_id"] == LOAD_1
        and r["id"] != stable_uuid("payment-refunded-later")
    )
    busy_days: dict[tuple[Any, Any], int] = {}
    for table, when in (("raw_cassandra.messages", "sent_at"), ("raw_cassandra.user_events", "event_time")):
        for r in base[table]:
            if r[when] is not None and r["user_id"] is not None:
                day = (str(r["user_id"]), r[when].astimezone(UTC).date())
                busy_days[day] = busy_days.get(day, 0) + 1
    succeeded = [
        r
        for r in _live(base, "raw_postgres.payments")
        if r["status"] == "succeeded" and r["id"] in generic_payments and r["id"] != late_refund["id"]
    ]
    for r in succeeded:
        day = (str(r["user_id"]), r["paid_at"].astimezone(UTC).date())
        busy_days[day] = busy_days.get(day, 0) + 1
    payment = next(
        r for r in succeeded if busy_days[(str(r["user_id"]), r["paid_at"].astimezone(UTC).date())] == 1
    )
    member = next(r for r in _live(base, "raw_postgres.group_members") if r["role"] == "admin")
    state = next(
        r
        for r in _live(base, "raw_cassandra.notification_states")
        if r["status"] in ("SEEN", "CLICKED") and 20 <= r["notification_id"] < 100
    )
    return {
        "raw_postgres.users": next(r for r in base["raw_postgres.users"] if r["id"] == users[8]),
        "raw_postgres.payments": payment,
        "raw_postgres.group_members": member,
        "raw_cassandra.notification_states": state,
        "raw_cassandra.messages": next(
            r for r in base["raw_cassandra.messages"] if r["message_id"] == stable_uuid("msg-10")
        ),
        "raw_cassandra.user_events": next(
            r for r in base["raw_cassandra.user_events"] if r["event_id"] == stable_uuid("event-10")
        ),
    }


def uncommitted_rows(base: RawData) -> RawData:
    """Rows of a load killed before it committed: an event that no model may read yet, and
    the tombstone of another (EVENT_DELETED_UNCOMMITTED), which must not delete it yet."""
    rows = _Rows()
    rows._n = sum(len(v) for v in base.values()) + 2000
    event_time = datetime(2025, 9, 27, 23, 0, tzinfo=UTC)
    rows.add(
        "raw_cassandra.user_events",
        LOAD_UNCOMMITTED,
        user_id=stable_uuid("user-3"),
        day=event_time.date(),
        event_time=event_time,
        event_id=stable_uuid("event-uncommitted"),
        event_type="app_open",
        properties=json.dumps({}),
    )
    doomed = next(
        r
        for r in base["raw_cassandra.user_events"]
        if r["event_id"] == stable_uuid(EVENT_DELETED_UNCOMMITTED)
    )
    rows.tombstone("raw_cassandra.user_events", LOAD_UNCOMMITTED, doomed, event_time)
    return {table: table_rows for table, table_rows in rows.data.items() if table_rows}


def _register_load(con: duckdb.DuckDBPyConnection, schema: str, load_id: str, committed_at: datetime) -> None:
    con.execute(
        f"INSERT INTO {schema}._dlt_loads VALUES (?, ?, 0, ?, 'fixture')",
        [load_id, schema, committed_at],
    )


def commit_load(path: Path | str, schema: str, load_id: str, committed_at: datetime) -> None:
    """Register a load in ``<schema>._dlt_loads``, as dlt does when the load commits."""
    con = duckdb.connect(str(path))
    try:
        _register_load(con, schema, load_id, committed_at)
    finally:
        con.close()


# Loaded after the late loads: raw tables the loaders reload in full (dlt drops and rewrites
# them), without a key deleted in the source meanwhile, so without a tombstone for it.
LOAD_RELOAD = "1759024800.450000"  # 2025-09-28 02:00 UTC
RELOAD_COMMIT = LATE_COMMIT + timedelta(hours=1, minutes=30)
RELOADED_WITHOUT: dict[str, dict[str, Any]] = {
    "raw_postgres.notifications": {"id": 51},
    "raw_cassandra.notification_states": {"notification_id": 61},
}


def reloaded(data: RawData) -> RawData:
    """`data` (a warehouse's committed rows so far) after reload_in_full: each
    RELOADED_WITHOUT table holds, in one load (LOAD_RELOAD), the latest live row of each
    key, less the named key."""
    result = {table: list(rows) for table, rows in data.items()}
    for table, dropped in RELOADED_WITHOUT.items():
        live = [
            r
            for r in _latest(data[table], KEYS[table])
            if r[DELETED_AT] is None and any(r[k] != v for k, v in dropped.items())
        ]
        result[table] = [dict(r, _dlt_load_id=LOAD_RELOAD) for r in live]
    return result


def reload_in_full(path: Path | str, data: RawData) -> None:
    """Rewrite the RELOADED_WITHOUT tables of the warehouse as `reloaded(data)` says, and
    commit the load, as the loaders do when they reload a table in full."""
    rows = reloaded(data)
    con = duckdb.connect(str(path))
    try:
        for table in RELOADED_WITHOUT:
            con.execute(f"DELETE FROM {table}")
            names = [name for name, _ in TABLES[table]] + [name for name, _ in DLT_COLUMNS] + [DELETED_AT]
            con.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                [[row[name] for name in names] for row in rows[table]],
            )
            _register_load(con, table.split(".")[0], LOAD_RELOAD, RELOAD_COMMIT)
    finally:
        con.close()


def _latest(rows: list[Row], key: list[str]) -> list[Row]:
    """The row of the latest load of each key (the fixture has one row per key and load)."""
    best: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or Decimal(row["_dlt_load_id"]) > Decimal(best[k]["_dlt_load_id"]):
            best[k] = row
    return list(best.values())


def merge_raw(*datasets: RawData) -> RawData:
    """All rows of several datasets, table by table (raw keeps duplicates across loads)."""
    merged: RawData = {name: [] for name in TABLES}
    for data in datasets:
        for table, table_rows in data.items():
            merged[table].extend(table_rows)
    return merged


def _load_ids(data: RawData) -> dict[str, set[str]]:
    per_schema: dict[str, set[str]] = {"raw_postgres": set(), "raw_cassandra": set()}
    for table, table_rows in data.items():
        per_schema[table.split(".")[0]].update(r["_dlt_load_id"] for r in table_rows)
    return per_schema


def write_raw(
    path: Path | str,
    data: RawData,
    committed_at: datetime | None = None,
    commit: bool = True,
    tombstones: bool = True,
) -> None:
    """Create (if needed) the raw schemas and tables in a DuckDB file and append the rows.

    Each load is registered in the schema's ``_dlt_loads`` as dlt does when a load commits,
    at ``committed_at`` (default: the time in its load id). ``commit=False`` leaves the rows
    of a load that was killed before it committed (no ``_dlt_loads`` row).
    ``tombstones=False`` writes the layout of the loaders before they wrote tombstones (no
    ``_loader_deleted_at`` column; `data` must hold no tombstone); with True the column is
    added to tables that lack it, as dlt does when a load brings a new column.
    """
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, columns in TABLES.items():
            schema = table.split(".")[0]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            ddl = ", ".join(f'"{name}" {type_}' for name, type_ in columns + DLT_COLUMNS)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
            if tombstones:
                con.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {DELETED_AT} {TOMBSTONE_COLUMN[1]}"
                )
        for schema in ("raw_postgres", "raw_cassandra"):
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}._dlt_loads (load_id VARCHAR NOT NULL, "
                "schema_name VARCHAR, status BIGINT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, "
                "schema_version_hash VARCHAR)"
            )
        for table, table_rows in data.items():
            if not table_rows:
                continue
            names = [name for name, _ in TABLES[table]] + [name for name, _ in DLT_COLUMNS]
            if tombstones:
                names.append(DELETED_AT)
            elif any(row.get(DELETED_AT) is not None for row in table_rows):
                raise ValueError(f"{table}: tombstones need the {DELETED_AT} column")
            placeholders = ", ".join("?" for _ in names)
            con.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})",
                [[row[name] for name in names] for row in table_rows],
            )
        for schema, load_ids in _load_ids(data).items():
            for load_id in sorted(load_ids) if commit else []:
                _register_load(
                    con, schema, load_id, committed_at or datetime.fromtimestamp(float(load_id), UTC)
                )
    finally:
        con.close()


def read_raw(path: Path | str) -> RawData:
    """The raw tables of a warehouse as rows (timestamps as aware UTC datetimes, ids as text)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        data: RawData = {}
        for table, columns in TABLES.items():
            schema, table_name = table.split(".")
            has_tombstones = con.execute(
                "select count(*) from information_schema.columns "
                "where table_schema = ? and table_name = ? and column_name = ?",
                [schema, table_name, DELETED_AT],
            ).fetchone()[0]
            all_columns = columns + DLT_COLUMNS + ([TOMBSTONE_COLUMN] if has_tombstones else [])
            names = [name for name, _ in all_columns]
            select = ", ".join(
                f"CAST({n} AS VARCHAR) AS {n}" if t in ("JSON", "UUID") else n for n, t in all_columns
            )
            result = con.execute(f"SELECT {select} FROM {table}").fetchall()
            data[table] = [dict(zip(names, values, strict=False)) for values in result]
        return data
    finally:
        con.close()
