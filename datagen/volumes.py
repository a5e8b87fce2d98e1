"""How many rows each table gets: linear in ``--scale``."""

from __future__ import annotations

from dataclasses import dataclass

# Scale 1: the full history (about six months) of a mid-sized app.
BASE: dict[str, int] = {
    "users": 10_000,
    "groups": 1_000,
    "group_members": 10_000,
    "outings": 20_000,
    "outing_participants": 100_000,
    "payments": 200_000,
    "notifications": 500_000,
    "messages": 1_000_000,
    "user_events": 2_000_000,
}

# `--continue` appends one day of activity: this fraction of the full volume.
DAY_FRACTION = 1 / 180


@dataclass(frozen=True)
class Volumes:
    users: int
    groups: int
    group_members: int
    outings: int
    outing_participants: int
    payments: int
    notifications: int
    messages: int
    user_events: int

    @classmethod
    def full(cls, scale: float) -> Volumes:
        """Targets of a full history; a few tables never go below a workable minimum."""
        minimum = {"users": 20, "groups": 3, "outings": 5}
        return cls(**{name: max(minimum.get(name, 1), round(base * scale)) for name, base in BASE.items()})

    @classmethod
    def one_day(cls, scale: float) -> Volumes:
        """Targets of one more day: every table gets at least one new row."""
        return cls(**{name: max(1, round(base * scale * DAY_FRACTION)) for name, base in BASE.items()})
