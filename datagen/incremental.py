"""Continue mode: the next day of activity after the latest data, and in-place updates.

The day after the latest timestamp in PostgreSQL gets about 1/180 of the full
volume of new rows (users, groups, members, outings, participants, payments,
notifications and their states, messages, user events), and existing rows
change with an updated_at inside that day: pending payments settle, old
successful ones are refunded (weeks later, paid_at kept), past outings end,
upcoming ones are confirmed, RSVPs and notification states move on, a user
is soft-deleted, a member leaves. The random stream is seeded with the seed
and the day, and every query that feeds it is ordered: the same seed and the
same stores give the same changes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session
from psycopg2.extensions import connection

from datagen import activity, cassandra_store, entities, postgres_store, rows, text
from datagen.lifecycle import quiet_at
from datagen.progress import Progress
from datagen.randomness import pick_time, stream, weighted
from datagen.timeline import DAY, HOUR, MINUTE, SECOND, Window, day_of, day_start, pg_text, to_datetime, to_us
from datagen.volumes import BASE, Volumes
from datagen.world import Group, Membership, Outing, Participation, User, World
from loaders.errors import UserError

LOOKBACK_OUTINGS = 3 * DAY  # outings that can still get payments, reminders, RSVP changes
LOOKBACK_STATES = 14 * DAY  # notifications whose state may still change
LATE_REFUND_AGE = 14 * DAY

STATE_NEXT: dict[str | None, list[tuple[str, float]]] = {
    None: [("UNSEEN", 30), ("SEEN", 50), ("CLICKED", 20)],
    "UNSEEN": [("SEEN", 60), ("CLICKED", 25), ("DELETED", 15)],
    "SEEN": [("CLICKED", 60), ("DELETED", 40)],
    "CLICKED": [("DELETED", 1)],
}


def us(column: str) -> str:
    """SQL: a timestamptz column as epoch microseconds (exact)."""
    return f"(extract(epoch from {column}) * 1000000)::bigint"


def _fetch(conn: connection, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params or {})
        return cur.fetchall()


def latest_moment(conn: connection) -> int | None:
    """The latest change in PostgreSQL (updated_at bounds every other timestamp of a row)."""
    parts = [
        f"(select max({us('updated_at')}) from {table})"
        for table in ("users", "groups", "group_members", "outings", "outing_participants", "payments")
    ]
    parts.append(f"(select max({us('created_at')}) from notifications)")
    latest = _fetch(conn, f"select greatest({', '.join(parts)})")[0][0]
    return None if latest is None else int(latest)


def infer_scale(conn: connection) -> float:
    users = int(_fetch(conn, "select count(*) from users")[0][0])
    return max(0.0001, round(users / BASE["users"], 4))


# -- the world as it is ------------------------------------------------------------
@dataclass
class Loaded:
    world: World
    usernames: set[str]
    max_notification_id: int
    user_index: dict[uuid.UUID, int] = field(default_factory=dict)
    group_index: dict[uuid.UUID, int] = field(default_factory=dict)
    outing_index: dict[uuid.UUID, int] = field(default_factory=dict)


def load_world(conn: connection, window: Window) -> Loaded:
    """Users, groups, members, recent outings and their participants, with activity as weight."""
    world = World(window)
    params = {
        "since_outings": _ts(window.start - LOOKBACK_OUTINGS),
        "since_groups": _ts(window.start - 30 * DAY),
    }
    loaded = Loaded(world, set(), 0)
    for row in _fetch(
        conn,
        f"""
            select u.id, {us("u.created_at")}, {us("u.updated_at")}, {us("u.deleted_at")}, u.username,
                   1 + coalesce(p.n, 0) + coalesce(m.n, 0)
            from users u
            left join (select user_id, count(*) as n from outing_participants group by user_id) p on p.user_id = u.id
            left join (select user_id, count(*) as n from group_members group by user_id) m on m.user_id = u.id
            order by u.created_at, u.id""",
    ):
        user = User(len(world.users), uuid.UUID(row[0]), row[1], row[2], row[3], float(row[5]))
        user.quiet = quiet_at(user.id, user.created)
        loaded.user_index[user.id] = user.idx
        loaded.usernames.add(row[4])
        world.users.append(user)
    for row in _fetch(
        conn,
        f"""
            select g.id, g.owner_id, {us("g.created_at")}, {us("g.updated_at")}, {us("g.deleted_at")},
                   1 + coalesce(o.n, 0)
            from groups g
            left join (select group_id, count(*) as n from outings where created_at >= %(since_groups)s
                       group by group_id) o on o.group_id = g.id
            order by g.created_at, g.id""",
        params,
    ):
        group = Group(
            len(world.groups),
            uuid.UUID(row[0]),
            loaded.user_index[uuid.UUID(row[1])],
            row[2],
            row[3],
            row[4],
            weight=float(row[5]),
        )
        loaded.group_index[group.id] = group.idx
        world.groups.append(group)
    for row in _fetch(
        conn,
        f"""
            select group_id, user_id, role, {us("joined_at")}, {us("left_at")}, {us("updated_at")}
            from group_members order by group_id, user_id""",
    ):
        group = world.groups[loaded.group_index[uuid.UUID(row[0])]]
        group.members.append(
            Membership(group.idx, loaded.user_index[uuid.UUID(row[1])], row[2], row[3], row[4], row[5])
        )
    for row in _fetch(
        conn,
        f"""
            select id, group_id, created_by, {us("created_at")}, {us("starts_at")}, status, category, {us("updated_at")}
            from outings where starts_at >= %(since_outings)s order by created_at, id""",
        params,
    ):
        outing = Outing(
            len(world.outings),
            uuid.UUID(row[0]),
            loaded.group_index[uuid.UUID(row[1])],
            loaded.user_index[uuid.UUID(row[2])],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
        )
        loaded.outing_index[outing.id] = outing.idx
        world.outings.append(outing)
    for row in _fetch(
        conn,
        f"""
            select p.outing_id, p.user_id, p.rsvp, {us("p.updated_at")}
            from outing_participants p join outings o on o.id = p.outing_id
            where o.starts_at >= %(since_outings)s order by p.outing_id, p.user_id""",
        params,
    ):
        world.participations.append(
            Participation(
                loaded.outing_index[uuid.UUID(row[0])], loaded.user_index[uuid.UUID(row[1])], row[2], row[3]
            )
        )
    loaded.max_notification_id = _fetch(conn, "select coalesce(max(id), 0) from notifications")[0][0]
    world.invalidate()
    return loaded


def _ts(moment: int) -> str:
    return pg_text(moment)


# -- changes to existing rows -------------------------------------------------------
@dataclass
class Changes:
    payments: list[tuple[Any, ...]] = field(default_factory=list)  # id, status, paid_at, updated_at
    outings: list[tuple[Any, ...]] = field(default_factory=list)  # id, status, updated_at
    rsvps: list[tuple[Any, ...]] = field(default_factory=list)  # outing_id, user_id, rsvp, updated_at
    deletions: list[tuple[Any, ...]] = field(default_factory=list)  # id, deleted_at, updated_at
    cities: list[tuple[Any, ...]] = field(default_factory=list)  # id, city, updated_at
    renames: list[tuple[Any, ...]] = field(default_factory=list)  # id, name, updated_at
    departures: list[tuple[Any, ...]] = field(default_factory=list)  # group_id, user_id, left_at, updated_at
    states: list[tuple[Any, ...]] = field(
        default_factory=list
    )  # user_id, notification_id, status, updated_at ms


def plan_changes(
    conn: connection, session: Session, keyspace: str, loaded: Loaded, rng: random.Random, day: Volumes
) -> Changes:
    """Which existing rows change today, and how; the loaded world follows (deleted users stop acting)."""
    world = loaded.world
    lo, hi = world.window.start, world.window.end
    changes = Changes()
    params = {
        "day_start": _ts(lo),
        "day_end": _ts(hi),
        "refundable": _ts(lo - LATE_REFUND_AGE),
        "finished": _ts(hi - 2 * HOUR),
        "since_states": _ts(lo - LOOKBACK_STATES),
    }

    # Pending payments settle (the most recent first); old successful ones are refunded weeks later.
    for (payment_id,) in _fetch(
        conn,
        "select id from payments where status = 'pending' order by created_at desc, id limit %(n)s",
        {"n": max(1, round(day.payments * 0.5))},
    ):
        moment = pick_time(rng, lo, hi)
        if weighted(rng, [("succeeded", 85), ("failed", 15)]) == "succeeded":
            changes.payments.append((payment_id, "succeeded", moment, moment))
        else:
            changes.payments.append((payment_id, "failed", None, moment))
    refund = max(1, round(day.payments * 0.05))
    candidates = _fetch(
        conn,
        "select id from payments where status = 'succeeded' and paid_at < %(refundable)s "
        "order by paid_at desc, id limit %(n)s",
        {**params, "n": 20 * refund},
    )
    for (payment_id,) in rng.sample(candidates, min(refund, len(candidates))):
        changes.payments.append((payment_id, "refunded", None, pick_time(rng, lo, hi)))  # paid_at kept

    # Outings that took place end; some upcoming ones are confirmed or cancelled.
    for outing_id, starts in _fetch(
        conn,
        f"""
            select id, {us("starts_at")} from outings
            where status in ('planned', 'confirmed') and starts_at < %(finished)s order by starts_at, id limit %(n)s""",
        {**params, "n": max(1, round(day.outings * 1.5))},
    ):
        status = weighted(rng, [("done", 90), ("cancelled", 10)])
        changes.outings.append((outing_id, status, pick_time(rng, max(lo, starts + 2 * HOUR), hi)))
    upcoming = _fetch(
        conn,
        "select id from outings where status = 'planned' and starts_at >= %(day_end)s "
        "order by created_at desc, id limit %(n)s",
        {**params, "n": 10 * max(1, round(day.outings * 0.3))},
    )
    for (outing_id,) in rng.sample(upcoming, min(len(upcoming), max(1, round(day.outings * 0.3)))):
        status = weighted(rng, [("confirmed", 85), ("cancelled", 15)])
        changes.outings.append((outing_id, status, pick_time(rng, lo, hi)))
    changed_outings = {outing_id: status for outing_id, status, _ in changes.outings}
    for outing in world.outings:
        outing.status = changed_outings.get(str(outing.id), outing.status)

    # RSVPs of upcoming outings move on.
    answers = _fetch(
        conn,
        """
            select p.outing_id, p.user_id, p.rsvp from outing_participants p join outings o on o.id = p.outing_id
            where o.starts_at >= %(day_end)s and o.status in ('planned', 'confirmed') and p.rsvp in ('invited', 'maybe')
            order by p.outing_id, p.user_id""",
        params,
    )
    for outing_id, user_id, rsvp in rng.sample(
        answers, min(len(answers), max(1, round(day.outing_participants * 0.3)))
    ):
        options = (
            [("going", 60), ("declined", 25), ("maybe", 15)]
            if rsvp == "invited"
            else [("going", 60), ("declined", 40)]
        )
        changes.rsvps.append((outing_id, user_id, weighted(rng, options), pick_time(rng, lo, hi)))
    changed_rsvps = {(outing_id, user_id): rsvp for outing_id, user_id, rsvp, _ in changes.rsvps}
    for participation in world.participations:
        key = (str(world.outings[participation.outing].id), str(world.users[participation.user].id))
        participation.rsvp = changed_rsvps.get(key, participation.rsvp)

    # A user who paid leaves the app (soft delete); a few edit their profile.
    payers = [
        row[0]
        for row in _fetch(
            conn,
            """
            select u.id from users u where u.deleted_at is null
            and exists (select 1 from payments p where p.user_id = u.id) order by u.id""",
        )
    ]
    for user_id in rng.sample(payers, min(len(payers), max(1, round(day.users * 0.03)))):
        moment = pick_time(rng, lo, hi)
        changes.deletions.append((user_id, moment, moment))
        world.users[loaded.user_index[uuid.UUID(user_id)]].deleted = moment
    alive = [user for user in world.users if user.deleted is None]
    for user in rng.sample(alive, min(len(alive), max(1, round(day.users * 0.5)))):
        changes.cities.append((str(user.id), text.city(rng), pick_time(rng, lo, hi)))

    # A group is renamed; a member leaves a group.
    groups = [group for group in world.groups if group.deleted is None]
    if groups:
        group = rng.choice(groups)
        changes.renames.append((str(group.id), text.group_name(rng), pick_time(rng, lo, hi)))
    members = [
        member
        for group in groups
        for member in group.members
        if member.role != "owner" and member.left is None and world.users[member.user].deleted is None
    ]
    if members:
        member = rng.choice(members)
        member.left = pick_time(rng, lo, hi)
        changes.departures.append(
            (str(world.groups[member.group].id), str(world.users[member.user].id), member.left, member.left)
        )

    # Recent notifications are seen, clicked, deleted (or get their first state today).
    recent = _fetch(
        conn, "select user_id, id from notifications where created_at >= %(since_states)s order by id", params
    )
    picked = [
        (uuid.UUID(user_id), notification_id)
        for user_id, notification_id in rng.sample(
            recent, min(len(recent), max(1, round(day.notifications * 0.5)))
        )
    ]
    current = cassandra_store.read_states(session, keyspace, picked)
    for state_key in picked:
        state = current[state_key][0] if state_key in current else None
        if state == "DELETED":
            continue
        changes.states.append((*state_key, weighted(rng, STATE_NEXT[state]), pick_time(rng, lo, hi) // 1000))
    world.invalidate()
    return changes


# -- the day's new rows ---------------------------------------------------------------
def add_new_entities(loaded: Loaded, seed_day: tuple[int, str], day: Volumes) -> dict[str, list[Any]]:
    world = loaded.world
    seed, label = seed_day
    users = entities.add_users(
        world, stream(seed, "continue", label, "users"), day.users, taken=loaded.usernames, edited_share=0.0
    )
    groups_rng = stream(seed, "continue", label, "groups")
    groups = entities.add_groups(world, groups_rng, day.groups, front_loaded=False)
    members_rng = stream(seed, "continue", label, "group_members")
    members: list[Membership] = [group.members[0] for group in groups]
    for group in groups:
        members += entities.add_members(
            world, members_rng, group, entities.heavy_tailed_size(members_rng, 4, minimum=2) - 1
        )
        group.weight = float(len(group.members))
    joins = max(1, day.group_members - len(members))
    for _ in range(joins):
        picker = world.group_picker()
        if picker:
            members += entities.add_members(world, members_rng, picker.pick(members_rng), 1)
    outings = entities.add_outings(world, stream(seed, "continue", label, "outings"), day.outings)
    participants_rng = stream(seed, "continue", label, "outing_participants")
    participations: list[Participation] = []
    mean = BASE["outing_participants"] / BASE["outings"]
    for outing in outings:
        participations += entities.add_participants(
            world,
            participants_rng,
            outing,
            entities.heavy_tailed_size(participants_rng, mean, minimum=1, alpha=2.5),
        )
    return {
        "users": users,
        "groups": groups,
        "members": members,
        "outings": outings,
        "participations": participations,
    }


def continue_window(latest: int, now: int) -> Window | None:
    """What --continue appends after the data's ``latest`` moment, never past ``now``.

    The next UTC day after the latest data, cut at ``now`` when that day is today; when the
    data already reaches into today, the rest of today up to ``now``. None when less than a
    minute has passed since the latest data.
    """
    start = day_start(latest) + DAY
    if start >= now:
        start = latest - latest % SECOND + SECOND
    end = min(start + DAY, now)
    return Window(start, end) if end - start >= MINUTE else None


def generate(
    conn: connection,
    session: Session,
    keyspace: str,
    *,
    seed: int,
    scale: float | None,
    progress: Progress,
    concurrency: int,
    now: int | None = None,
) -> None:
    latest = latest_moment(conn)
    if latest is None:
        raise UserError(
            "nothing to continue: the stores hold no data; generate a history first, e.g. "
            "`datagen --scale 0.05`"
        )
    window = continue_window(latest, to_us(datetime.now(UTC)) if now is None else now)
    if window is None:
        progress.note(
            f"nothing to continue: the data already reaches {to_datetime(latest):%Y-%m-%d %H:%M:%S} UTC, "
            "less than a minute ago (no row is ever stamped after now)"
        )
        return
    start = window.start
    scale = infer_scale(conn) if scale is None else scale
    day = Volumes.one_day(scale * min(1.0, window.days))
    # the random streams are named after the window's start: its date for a whole day
    label = day_of(start).isoformat() if start % DAY == 0 else f"{to_datetime(start):%Y-%m-%dT%H:%M:%S}"
    progress.note(f"continuing with {window.describe()} at scale {scale:g}, seed {seed}")

    loaded = load_world(conn, window)
    world = loaded.world
    changes = plan_changes(conn, session, keyspace, loaded, stream(seed, "continue", label, "changes"), day)
    new = add_new_entities(loaded, (seed, label), day)

    postgres_store.copy_table(conn, "users", rows.users(new["users"]), progress)
    postgres_store.copy_table(conn, "groups", rows.groups(world, new["groups"]), progress)
    postgres_store.copy_table(conn, "group_members", rows.members(world, new["members"]), progress)
    postgres_store.copy_table(conn, "outings", rows.outings(world, new["outings"]), progress)
    postgres_store.copy_table(
        conn, "outing_participants", rows.participations(world, new["participations"]), progress
    )
    payments = activity.payment_rows(world, stream(seed, "continue", label, "payments"), day.payments)
    postgres_store.copy_table(conn, "payments", payments, progress)
    notifications = activity.notifications(
        world,
        stream(seed, "continue", label, "notifications"),
        day.notifications,
        first_id=loaded.max_notification_id + 1,
    )
    postgres_store.copy_table(conn, "notifications", notifications.rows(), progress)
    postgres_store.sync_notification_ids(conn)
    apply_changes(conn, changes, progress)

    writer = cassandra_store.CassandraWriter(session, keyspace, concurrency=concurrency)
    states = notifications.state_rows(stream(seed, "continue", label, "notification_states"))
    writer.write("notification_states", states, progress)
    writer.write("notification_states", iter(changes.states), progress, label="notification_states (updated)")
    writer.write(
        "messages",
        activity.message_rows(world, stream(seed, "continue", label, "messages"), day.messages),
        progress,
    )
    writer.write(
        "user_events",
        activity.event_rows(world, stream(seed, "continue", label, "user_events"), day.user_events),
        progress,
    )
    conn.commit()  # last: a failure above leaves PostgreSQL as it was, and a rerun redoes the same day


def apply_changes(conn: connection, changes: Changes, progress: Progress) -> None:
    update = postgres_store.update_rows
    update(
        conn,
        "payments",
        ("id",),
        ("status", "paid_at", "updated_at"),
        ("uuid", "text", "timestamptz", "timestamptz"),
        changes.payments,
        progress,
        keep_null=("paid_at",),
    )
    update(
        conn,
        "outings",
        ("id",),
        ("status", "updated_at"),
        ("uuid", "text", "timestamptz"),
        changes.outings,
        progress,
    )
    update(
        conn,
        "outing_participants",
        ("outing_id", "user_id"),
        ("rsvp", "updated_at"),
        ("uuid", "uuid", "text", "timestamptz"),
        changes.rsvps,
        progress,
    )
    update(
        conn,
        "users",
        ("id",),
        ("deleted_at", "updated_at"),
        ("uuid", "timestamptz", "timestamptz"),
        changes.deletions,
        progress,
        label="soft-deleted",
    )
    update(
        conn,
        "users",
        ("id",),
        ("city", "updated_at"),
        ("uuid", "text", "timestamptz"),
        changes.cities,
        progress,
        label="edited",
    )
    update(
        conn,
        "groups",
        ("id",),
        ("name", "updated_at"),
        ("uuid", "text", "timestamptz"),
        changes.renames,
        progress,
        label="renamed",
    )
    update(
        conn,
        "group_members",
        ("group_id", "user_id"),
        ("left_at", "updated_at"),
        ("uuid", "uuid", "timestamptz", "timestamptz"),
        changes.departures,
        progress,
        label="left",
    )
