"""The high-volume rows: payments, notifications and their states, messages, user events.

Each function streams rows (tuples in the column order of tables.py) so that
the writers can send them in chunks; only notifications are held (compactly,
in arrays) because ids follow creation time and states follow notifications.
"""

from __future__ import annotations

import random
import uuid
from array import array
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from datagen import text
from datagen.randomness import Picker, chance, new_uuid, pick_time, timeuuid, weighted
from datagen.timeline import DAY, HOUR, MINUTE, SECOND, Window
from datagen.world import Membership, Participation, World

A = TypeVar("A")
Part = tuple[int, int]  # (index, parts): the days index, index + parts, index + 2 * parts, …
WHOLE: Part = (0, 1)

CURRENCIES = ["EUR", "USD", "GBP", "CHF"]
BASE_AMOUNT = {
    "restaurant": 32,
    "bar": 18,
    "cinema": 12,
    "concert": 55,
    "sport": 14,
    "trip": 220,
    "other": 25,
}
NO_OUTING_SHARE = 0.12  # payments without an outing (a transfer between friends)
RECENT_PAYMENT = [("pending", 50), ("succeeded", 45), ("failed", 5)]
SETTLED_PAYMENT = [("succeeded", 80), ("refunded", 10), ("failed", 6), ("pending", 4)]

KINDS = ["outing_invite", "outing_reminder", "group_invite", "payment_request", "new_message"]
STATES = [("UNSEEN", 25), ("SEEN", 40), ("CLICKED", 25), ("DELETED", 10)]
STATE_DELAY_MEAN = {"UNSEEN": 10 * SECOND, "SEEN": 3 * HOUR, "CLICKED": 5 * HOUR, "DELETED": 2 * DAY}
NULL_STATUS_SHARE = 0.05
STATE_SHARE = 0.90
ID_GAP_SHARE = 0.03  # ids burnt by rolled-back inserts; their states are the orphans

EVENT_TYPES = Picker(
    ["view_outing", "view_group", "search", "share_outing", "app_open"], [30, 25, 18, 10, 17]
)
SCREENS = ["home", "feed", "groups", "outings", "profile", "settings"]
SHARE_CHANNELS = ["whatsapp", "sms", "link", "instagram", "e-mail ✉️"]

DATE_OFFSET = 2**31  # the driver sends an int `date` as-is: days since epoch + 2^31
MS_PER_DAY = 86_400_000


def home_currency(user_id: uuid.UUID) -> str:
    """A user's usual currency, a pure function of the id (so --continue agrees)."""
    bucket = user_id.int % 100
    return "EUR" if bucket < 70 else "USD" if bucket < 82 else "GBP" if bucket < 92 else "CHF"


# -- payments -------------------------------------------------------------------
def payment_lifecycle(rng: random.Random, created: int, now: int) -> tuple[str, int | None, int]:
    """(status, paid_at, updated_at) of a payment created at ``created``, as seen at ``now``."""
    last = now - 1
    status = weighted(rng, RECENT_PAYMENT if now - created < DAY else SETTLED_PAYMENT)
    if status == "pending":
        return status, None, created
    if status == "failed":
        return status, None, min(created + rng.randint(SECOND, 10 * MINUTE), last)
    paid = min(created + rng.randint(5 * SECOND, 2 * HOUR), last)
    if status == "refunded":
        if chance(rng, 0.7) and paid + 14 * DAY < now:  # late refund, weeks after the success
            return status, paid, pick_time(rng, paid + 14 * DAY, min(paid + 60 * DAY, now))
        if paid + HOUR < now:
            return status, paid, pick_time(rng, paid + HOUR, min(paid + 13 * DAY, now))
    return "succeeded", paid, paid


def amount_text(rng: random.Random, category: str | None, instalments: float = 1.0) -> str:
    """One payment: a person's share of an outing of ``category`` (or a payment without outing),
    split in ``instalments`` payments on average (deposit, tickets, the bill), at least 1.00."""
    share = BASE_AMOUNT.get(category or "other", 25) * rng.lognormvariate(0, 0.5)
    cents = max(100, round(share * 100 / instalments))
    return f"{cents // 100}.{cents % 100:02d}"


def payment_rows(world: World, rng: random.Random, count: int) -> Iterator[tuple[Any, ...]]:
    """Mostly for outings the payer takes part in, some without an outing (null outing_id)."""
    window = world.window
    now = window.end
    candidates: list[tuple[Participation, int, int]] = []
    for participation in world.participations:
        if participation.rsvp in ("going", "maybe"):
            outing = world.outings[participation.outing]
            user = world.users[participation.user]
            lo, hi = window.clip(outing.created, min(outing.starts + 3 * DAY, user.end))
            if lo < hi:
                candidates.append((participation, lo, hi))
    users = world.user_picker()
    # a participant pays their share of an outing in a few payments: the amounts are split so
    # that what a person pays per outing does not depend on how many payments the volume asks for
    instalments = max(1.0, count * (1 - NO_OUTING_SHARE) / max(1, len(candidates)))
    for _ in range(count):
        if candidates and not chance(rng, NO_OUTING_SHARE):
            participation, lo, hi = candidates[rng.randrange(len(candidates))]
            user = world.users[participation.user]
            outing = world.outings[participation.outing]
            outing_id, category = outing.id, outing.category
        else:
            user = users.pick(rng)
            lo, hi = world.user_span(user)
            outing_id, category = None, None
        created = pick_time(rng, lo, hi)
        currency = home_currency(user.id) if chance(rng, 0.95) else rng.choice(CURRENCIES)
        status, paid, updated = payment_lifecycle(rng, created, now)
        yield (
            new_uuid(rng),
            user.id,
            outing_id,
            amount_text(rng, category, instalments if outing_id is not None else 1.0),
            currency,
            status,
            paid,
            created,
            updated,
        )


# -- notifications and their states -----------------------------------------------
class Notifications:
    """Notifications of one run, sorted by creation time, with increasing ids (and a few gaps)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.created = array("q")
        self.user = array("l")
        self.kind = array("b")
        self.outing = array("l")
        self.group = array("l")
        self.ids = array("q")  # by position in creation order
        self.order: list[int] = []
        self.gaps: list[tuple[int, int]] = []  # (burnt id, position of the next notification)

    def __len__(self) -> int:
        return len(self.order)

    def add(self, created: int, user: int, kind: int, outing: int = -1, group: int = -1) -> None:
        self.created.append(created)
        self.user.append(user)
        self.kind.append(kind)
        self.outing.append(outing)
        self.group.append(group)

    def number(self, rng: random.Random, first_id: int) -> None:
        """Sort by time; identity ids in that order, a few burnt by rolled-back transactions."""
        self.order = sorted(range(len(self.created)), key=self.created.__getitem__)
        next_id = first_id
        for position in range(len(self.order)):
            while chance(rng, ID_GAP_SHARE):
                self.gaps.append((next_id, position))
                next_id += 1
            self.ids.append(next_id)
            next_id += 1

    def rows(self) -> Iterator[tuple[Any, ...]]:
        users, outings, groups = self.world.users, self.world.outings, self.world.groups
        for position, i in enumerate(self.order):
            outing, group = self.outing[i], self.group[i]
            yield (
                self.ids[position],
                users[self.user[i]].id,
                KINDS[self.kind[i]],
                outings[outing].id if outing >= 0 else None,
                groups[group].id if group >= 0 else None,
                self.created[i],
            )

    def state_rows(self, rng: random.Random) -> Iterator[tuple[Any, ...]]:
        """notification_states rows (user_id, notification_id, status, updated_at ms); None = null status."""
        users = self.world.users
        now = self.world.window.end
        gaps = iter(self.gaps)
        gap = next(gaps, None)
        for position, i in enumerate(self.order):
            created = self.created[i]
            while gap is not None and gap[1] == position:  # orphan: PostgreSQL never kept this id
                orphan_user = self.world.user_picker().pick(rng)
                status, updated = state_at(rng, created, now)
                yield (orphan_user.id, gap[0], status, updated // 1000)
                gap = next(gaps, None)
            if not chance(rng, STATE_SHARE):
                continue
            if chance(rng, NULL_STATUS_SHARE):
                yield (users[self.user[i]].id, self.ids[position], None, created // 1000)
                continue
            status, updated = state_at(rng, created, now)
            yield (users[self.user[i]].id, self.ids[position], status, updated // 1000)


def state_at(rng: random.Random, created: int, now: int) -> tuple[str, int]:
    status = weighted(rng, STATES)
    updated = created + SECOND + int(rng.expovariate(1 / STATE_DELAY_MEAN[status]))
    if updated >= now:
        return "UNSEEN", min(created + SECOND, now - 1)
    return status, updated


def notifications(world: World, rng: random.Random, count: int, first_id: int) -> Notifications:
    """Notifications that follow the world's events (invites, reminders, payment requests, messages)."""
    window = world.window
    invites, reminders, requests = [], [], []
    for participation in world.participations:
        outing = world.outings[participation.outing]
        user_end = world.users[participation.user].end
        if participation.user != outing.created_by:
            lo, hi = window.clip(outing.created, min(outing.created + HOUR, user_end))
            if lo < hi:
                invites.append((participation, lo, hi))
        if outing.status != "cancelled" and participation.rsvp in ("going", "maybe"):
            lo, hi = window.clip(
                max(outing.starts - DAY, outing.created), min(outing.starts - DAY + 2 * HOUR, user_end)
            )
            if lo < hi:
                reminders.append((participation, lo, hi))
        if participation.rsvp == "going":
            lo, hi = window.clip(outing.created + HOUR, min(outing.starts, user_end))
            if lo < hi:
                requests.append((participation, lo, hi))
    group_invites = []
    for group in world.groups:
        for member in group.members:
            if member.role != "owner":
                user = world.users[member.user]
                lo, hi = window.clip(
                    max(member.joined - 2 * DAY, group.created, user.created), min(member.joined, user.end)
                )
                if lo < hi:
                    group_invites.append((member, lo, hi))
    groups = world.group_picker()
    users = world.user_picker()
    choices = [
        ("outing_invite", 20 if invites else 0),
        ("outing_reminder", 14 if reminders else 0),
        ("payment_request", 14 if requests else 0),
        ("group_invite", 10 if group_invites else 0),
        ("new_message", 38 if groups else 0),
        ("direct_message", 4 if users else 0),
    ]
    result = Notifications(world)
    for _ in range(count):
        kind = weighted(rng, choices)
        if kind in ("outing_invite", "outing_reminder", "payment_request"):
            candidates = (
                invites if kind == "outing_invite" else reminders if kind == "outing_reminder" else requests
            )
            participation, lo, hi = candidates[rng.randrange(len(candidates))]
            outing = world.outings[participation.outing]
            group_idx = -1 if kind == "payment_request" else outing.group
            result.add(pick_time(rng, lo, hi), participation.user, KINDS.index(kind), outing.idx, group_idx)
        elif kind == "group_invite":
            member, lo, hi = group_invites[rng.randrange(len(group_invites))]
            result.add(pick_time(rng, lo, hi), member.user, KINDS.index(kind), -1, member.group)
        elif kind == "new_message":
            group = groups.pick(rng)
            member, lo, hi = world.member_picker(group).pick(rng)
            result.add(pick_time(rng, lo, hi), member.user, KINDS.index(kind), -1, group.idx)
        else:  # a direct message: neither outing nor group
            user = users.pick(rng)
            lo, hi = world.user_span(user)
            result.add(pick_time(rng, lo, hi), user.idx, KINDS.index("new_message"))
    result.number(rng, first_id)
    return result


# -- messages and user events (append-only, Cassandra) -------------------------------
# Generated day by day, so that the rows of a partition ((group, day) or (user, day)) come
# together and the writer can batch them; the volume of a day follows who is active then.
WEEKDAY_FACTOR = [1.0, 0.95, 1.0, 1.05, 1.25, 1.35, 1.15]  # Monday .. Sunday


def _weekday(moment: int) -> int:
    return (moment // DAY + 3) % 7  # 1970-01-01 was a Thursday


def days_of(window: Window) -> list[tuple[int, int]]:
    """The UTC days (clipped to the window) that the window touches."""
    first = window.start - window.start % DAY
    return [(max(day, window.start), min(day + DAY, window.end)) for day in range(first, window.end, DAY)]


def allocate(total: int, shares: list[float]) -> list[int]:
    """Split ``total`` proportionally to ``shares`` into integers that sum to ``total``."""
    mass = sum(shares)
    if mass <= 0:
        return [0] * len(shares)
    counts, running, given = [], 0.0, 0
    for share in shares:
        running += total * share / mass
        counts.append(round(running) - given)
        given += counts[-1]
    return counts


class DailyActors(Generic[A]):
    """Actors with an activity span and weight; per day, the ones active that day."""

    def __init__(self, window: Window, actors: list[tuple[A, int, int, float]]) -> None:
        self.days = days_of(window)
        self.first = window.start - window.start % DAY
        self.actors = sorted(actors, key=lambda actor: actor[1])
        change = [0.0] * (len(self.days) + 1)
        for _, lo, hi, weight in self.actors:
            change[self._index(lo)] += weight
            change[self._index(hi - 1) + 1] -= weight
        self.capacity: list[float] = []
        level = 0.0
        for day, (lo, _) in enumerate(self.days):
            level += change[day]
            self.capacity.append(max(level, 0.0) * WEEKDAY_FACTOR[_weekday(lo)])

    def _index(self, moment: int) -> int:
        return max(0, min(len(self.days) - 1, (moment - self.first) // DAY))

    def each_day(
        self, total: int, rng: random.Random, part: Part = WHOLE
    ) -> Iterator[tuple[random.Random, int, int, int, list[tuple[A, int, int, float]]]]:
        """(the day's own random stream, day start, day end, count, active actors clipped to the day)
        for the days with a count, of ``part`` only.

        Every day draws from a stream of its own, seeded from ``rng`` for all the days at once, so a
        day's rows are the same whichever part (process) generates it.
        """
        counts = allocate(total, self.capacity)
        seeds = [rng.getrandbits(64) for _ in self.days]
        index, parts = part
        active: list[tuple[A, int, int, float]] = []
        upcoming = iter(self.actors)
        pending = next(upcoming, None)
        for day, ((day_lo, day_hi), count) in enumerate(zip(self.days, counts, strict=True)):
            while pending is not None and pending[1] < day_hi:
                active.append(pending)
                pending = next(upcoming, None)
            active = [actor for actor in active if actor[2] > day_lo]
            if count > 0 and active and day % parts == index:
                yield (
                    random.Random(seeds[day]),
                    day_lo,
                    day_hi,
                    count,
                    [(actor, max(lo, day_lo), min(hi, day_hi), weight) for actor, lo, hi, weight in active],
                )


def message_rows(
    world: World, days_rng: random.Random, count: int, part: Part = WHOLE
) -> Iterator[tuple[Any, ...]]:
    """Conversations: bursts of messages by members of a group, while they are members.

    ``days_rng`` seeds one stream per day; ``part`` (index, parts): only the days ``index``,
    ``index + parts``, … (the rows of a day do not depend on the split)."""
    users = world.users
    spans: list[tuple[Membership, int, int, float]] = []
    for group in world.groups:
        picker = world.member_picker(group)
        for member, lo, hi in picker.items:
            spans.append((member, lo, hi, group.weight * users[member.user].weight / picker.total))
    for rng, _day_lo, _day_hi, day_count, active in DailyActors(world.window, spans).each_day(
        count, days_rng, part
    ):
        anyone = Picker(active, [weight for *_, weight in active])
        by_group: dict[int, list[tuple[Membership, int, int, float]]] = {}
        for actor in active:
            by_group.setdefault(actor[0].group, []).append(actor)
        group_pickers: dict[int, Picker[tuple[Membership, int, int, float]]] = {}
        produced = 0
        while produced < day_count:
            member, lo, hi, _ = anyone.pick(rng)
            group = world.groups[member.group]
            members = group_pickers.get(group.idx)
            if members is None:
                candidates = by_group[group.idx]
                members = group_pickers[group.idx] = Picker(candidates, [weight for *_, weight in candidates])
            moment = pick_time(rng, lo, hi)
            for turn in range(min(day_count - produced, 1 + int(rng.expovariate(1 / 3)))):
                if turn:
                    moment += SECOND + int(rng.expovariate(1 / (2 * MINUTE)))
                    other, other_lo, other_hi, _ = members.pick(rng)
                    if other_lo <= moment < other_hi:
                        member, hi = other, other_hi
                    elif moment >= hi:
                        break
                ms = moment // 1000
                yield (
                    group.id,
                    ms // MS_PER_DAY + DATE_OFFSET,
                    ms,
                    timeuuid(rng, ms),
                    users[member.user].id,
                    text.message_body(rng),
                )
                produced += 1


def event_properties(rng: random.Random, event_type: str, world: World, moment: int) -> dict[str, str] | None:
    """A few keys per event type; null/empty for some (the app omits them)."""
    if chance(rng, 0.08):
        return None if chance(rng, 0.7) else {}
    if event_type == "app_open":
        return {"screen": rng.choice(SCREENS)} if chance(rng, 0.6) else None
    if event_type == "search":
        return {"query": text.search_query(rng), "screen": "search"}
    if event_type == "view_group":
        if world.groups:
            group = world.groups[rng.randrange(len(world.groups))]
            if group.created <= moment:
                return {"group_id": str(group.id), "screen": "group"}
        return {"screen": "group"}
    properties = {"screen": "outing"}
    if world.outings:
        outing = world.outings[rng.randrange(len(world.outings))]
        if outing.created <= moment:
            properties["outing_id"] = str(outing.id)
    if event_type == "share_outing":
        properties["channel"] = rng.choice(SHARE_CHANNELS)
    return properties


def event_rows(
    world: World, days_rng: random.Random, count: int, part: Part = WHOLE
) -> Iterator[tuple[Any, ...]]:
    """Sessions: an app_open then a few views, searches and shares, while the user exists.

    ``part``: some days only, as message_rows."""
    spans = [(user, *world.user_span(user), user.weight) for user in world.users]
    spans = [span for span in spans if span[1] < span[2]]
    for rng, _, _, day_count, active in DailyActors(world.window, spans).each_day(count, days_rng, part):
        users = Picker(active, [weight for *_, weight in active])
        produced = 0
        while produced < day_count:
            user, lo, hi, _ = users.pick(rng)
            moment = pick_time(rng, lo, hi)
            for step in range(min(day_count - produced, 1 + int(rng.expovariate(1 / 3)))):
                if step:
                    moment += SECOND + int(rng.expovariate(1 / (40 * SECOND)))
                    if moment >= hi:
                        break
                event_type = "app_open" if step == 0 and chance(rng, 0.8) else EVENT_TYPES.pick(rng)
                ms = moment // 1000
                yield (
                    user.id,
                    ms // MS_PER_DAY + DATE_OFFSET,
                    ms,
                    timeuuid(rng, ms),
                    event_type,
                    event_properties(rng, event_type, world, moment),
                )
                produced += 1
