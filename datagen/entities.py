"""Users, groups, memberships, outings and participations, created inside the world's window.

The same functions build a full history (a window of months, launch cohort,
heavy-tailed sizes) and one more day (``--continue``: a one-day window next
to entities loaded from PostgreSQL). Everything stays consistent: people act
only while they exist and belong to the group; times never reach "now".
"""

from __future__ import annotations

import random

from datagen import text
from datagen.lifecycle import quiet_at
from datagen.randomness import Picker, chance, new_uuid, pick_time, weighted
from datagen.timeline import DAY, HOUR, MINUTE, SECOND
from datagen.world import Group, Membership, Outing, Participation, User, World

CATEGORIES = [
    ("restaurant", 30),
    ("bar", 22),
    ("cinema", 12),
    ("concert", 8),
    ("sport", 12),
    ("trip", 5),
    ("other", 11),
]
RSVP = [("going", 55), ("maybe", 12), ("declined", 13), ("invited", 20)]
ATTENDING = ("going", "maybe")
CREATOR_TRIES = 5


def add_users(
    world: World,
    rng: random.Random,
    count: int,
    *,
    taken: set[str],
    weights: list[float] | None = None,
    launch_cohort: float = 0.0,
    deleted_share: float = 0.0,
    edited_share: float = 0.3,
) -> list[User]:
    """New users, in creation order; ``launch_cohort`` of them sign up in the first week."""
    window = world.window
    latest = max(window.start + 1, window.end - DAY) if window.days > 2 else window.end
    created = sorted(
        pick_time(rng, window.start, min(window.start + 7 * DAY, latest))
        if chance(rng, launch_cohort)
        else pick_time(rng, window.start, latest)
        for _ in range(count)
    )
    new: list[User] = []
    for position, moment in enumerate(created):
        idx = len(world.users)
        number = idx
        name = text.username(rng, number)
        while name in taken:  # only when the store holds names this generator did not make
            number += 1_000_003
            name = text.username(rng, number)
        taken.add(name)
        new_id = new_uuid(rng)
        user = User(
            idx=idx,
            id=new_id,
            created=moment,
            updated=moment,
            deleted=None,
            weight=weights[position] if weights else 1.0,
            username=name,
            email=text.email(rng, number),
            city=text.city(rng),
            quiet=quiet_at(new_id, moment),
        )
        if chance(rng, edited_share) and moment + SECOND < window.end:
            user.updated = pick_time(rng, moment + SECOND, window.end)  # changed city or e-mail since
        world.users.append(user)
        new.append(user)
    if deleted_share and new:
        # Soft-delete a few, the most active one included: its payments outlive it.
        heaviest = max(new, key=lambda user: user.weight)
        doomed = {
            heaviest.idx,
            *(user.idx for user in rng.sample(new, max(1, round(deleted_share * len(new))))),
        }
        for user in new:
            if user.idx in doomed:
                span = window.end - user.created
                user.deleted = user.created + int(span * rng.uniform(0.6, 0.97))
                user.updated = user.deleted  # the deletion is the last change
    world.invalidate()
    return new


def add_groups(
    world: World, rng: random.Random, count: int, *, front_loaded: bool, deleted_share: float = 0.0
) -> list[Group]:
    """New groups, each with its owner as first member."""
    window = world.window
    picker = world.user_picker()
    new: list[Group] = []
    for _ in range(count):
        for _attempt in range(100):
            owner = picker.pick(rng)
            lo, hi = window.clip(owner.created, owner.end)
            if lo < hi:
                break
        else:
            continue
        created = lo + int((hi - lo) * rng.random() ** 2) if front_loaded else pick_time(rng, lo, hi)
        group = Group(
            idx=len(world.groups),
            id=new_uuid(rng),
            owner=owner.idx,
            created=created,
            updated=created,
            deleted=None,
            name=text.group_name(rng),
        )
        if chance(rng, 0.1) and created + SECOND < window.end:
            group.updated = pick_time(rng, created + SECOND, window.end)  # renamed since
        if chance(rng, deleted_share):
            group.deleted = created + int((window.end - created) * rng.uniform(0.5, 0.95))
            group.updated = max(group.updated, group.deleted)
        group.members.append(Membership(group.idx, owner.idx, "owner", created, None, created))
        world.groups.append(group)
        new.append(group)
    world.invalidate_groups()
    return new


def add_members(
    world: World, rng: random.Random, group: Group, count: int, *, leave_share: float = 0.0
) -> list[Membership]:
    """Up to ``count`` new members, picked by activity; they join after the group and themselves exist."""
    window = world.window
    picker = world.user_picker()
    present = {member.user for member in group.members}
    new: list[Membership] = []
    attempts = 0
    while len(new) < count and attempts < 20 * count + 20:
        attempts += 1
        user = picker.pick(rng)
        if user.idx in present:
            continue
        lo, hi = window.clip(max(group.created, user.created), min(group.end, user.end))
        if lo >= hi:
            continue
        joined = lo + int(rng.expovariate(1 / (3 * DAY)))
        if joined >= hi:
            joined = pick_time(rng, lo, hi)
        member = Membership(
            group.idx, user.idx, "admin" if chance(rng, 0.1) else "member", joined, None, joined
        )
        if chance(rng, leave_share) and joined + SECOND < window.end:
            member.left = pick_time(rng, joined + SECOND, window.end)
            member.updated = member.left
        elif chance(rng, 0.05) and joined + SECOND < window.end:
            member.role = "admin"  # promoted since
            member.updated = pick_time(rng, joined + SECOND, window.end)
        group.members.append(member)
        present.add(user.idx)
        new.append(member)
    world.invalidate_groups()
    return new


def heavy_tailed_size(rng: random.Random, mean: float, *, minimum: int, alpha: float = 1.8) -> int:
    """A Pareto-distributed count with the given mean (before the minimum)."""
    pareto_mean = alpha / (alpha - 1)
    return max(minimum, round(mean * rng.paretovariate(alpha) / pareto_mean))


def outing_status(rng: random.Random, created: int, starts: int, now: int) -> tuple[str, int]:
    """Status and last update of an outing as seen at ``now``."""
    last = now - 1
    if starts < now:
        status = weighted(rng, [("done", 78), ("cancelled", 12), ("confirmed", 6), ("planned", 4)])
        if status == "done":
            return status, min(starts + rng.randint(2 * HOUR, 6 * HOUR), last)
        if status == "planned":
            return status, created
        return status, pick_time(rng, created, max(created + 1, min(starts, now)))
    status = weighted(rng, [("planned", 55), ("confirmed", 35), ("cancelled", 10)])
    if status == "planned":
        return status, created
    return status, pick_time(rng, created, max(created + 1, now))


def add_outings(world: World, rng: random.Random, count: int) -> list[Outing]:
    """New outings in active groups, created by a member while a member, rarely one already out that day."""
    groups = world.group_picker()
    now = world.window.end
    new: list[Outing] = []
    if not groups:
        return new
    for _ in range(count):
        for _attempt in range(CREATOR_TRIES):  # a creator already out that day lets another organise
            group = groups.pick(rng)
            member, lo, hi = world.member_picker(group).pick(rng)
            created = pick_time(rng, lo, hi)
            starts = created + rng.randint(2 * HOUR, 21 * DAY)
            starts -= starts % (15 * MINUTE)
            starts = max(starts, created + 15 * MINUTE)
            if starts // DAY not in world.going_days.get(member.user, ()):
                break
        world.going_days.setdefault(member.user, set()).add(starts // DAY)
        category = weighted(rng, CATEGORIES)
        status, updated = outing_status(rng, created, starts, now)
        outing = Outing(
            idx=len(world.outings),
            id=new_uuid(rng),
            group=group.idx,
            created_by=member.user,
            created=created,
            starts=starts,
            status=status,
            category=category,
            updated=max(updated, created),
            title=text.outing_title(rng, category),
        )
        world.outings.append(outing)
        new.append(outing)
    return new


def rsvp_update(rng: random.Random, outing: Outing, now: int) -> tuple[str, int]:
    rsvp = weighted(rng, RSVP)
    if rsvp == "invited":
        return rsvp, min(outing.created + rng.randint(SECOND, MINUTE), now - 1)
    return rsvp, pick_time(rng, outing.created, max(outing.created + 1, min(outing.starts, now)))


def add_participants(world: World, rng: random.Random, outing: Outing, count: int) -> list[Participation]:
    """The creator (going) and up to ``count - 1`` others: mostly group members, a few outsiders.

    Nobody attends two outings starting the same UTC day: a second "going" or "maybe" that day
    becomes "declined" (heavy users are in many groups, but an evening has room for one outing).
    """
    now = world.window.end
    creator_update = min(outing.created + rng.randint(0, SECOND), now - 1)
    new = [Participation(outing.idx, outing.created_by, "going", creator_update)]
    day = outing.starts // DAY
    world.going_days.setdefault(outing.created_by, set()).add(day)
    group = world.groups[outing.group]
    members = [
        member
        for member in group.members
        if member.user != outing.created_by
        and member.joined <= outing.created < min(member.left or now, world.users[member.user].end)
    ]
    # attendance is less skewed than app use: the square root of the activity weight
    picker = Picker(members, [world.users[member.user].weight ** 0.5 for member in members])
    present = {outing.created_by}
    attempts = 0
    while len(new) < count and attempts < 10 * count:
        attempts += 1
        if picker and not chance(rng, 0.1):
            user_idx = picker.pick(rng).user
        else:
            outsider = world.random_alive_user(rng, outing.created, tries=10)
            if outsider is None:
                continue
            user_idx = outsider.idx
        if user_idx in present:
            continue
        present.add(user_idx)
        rsvp, updated = rsvp_update(rng, outing, now)
        if rsvp in ATTENDING:  # one outing a day per person: the others of that day are declined
            days = world.going_days.setdefault(user_idx, set())
            if day in days:
                rsvp = "declined"
            days.add(day)
        new.append(Participation(outing.idx, user_idx, rsvp, updated))
    world.participations.extend(new)
    return new
