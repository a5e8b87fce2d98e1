"""The entities the generator keeps in memory to keep rows consistent.

Users, groups, memberships, outings and participations are small next to the
event tables (tens of thousands of rows at scale 1) and are what the other
rows refer to; everything else is generated and written in chunks.
Times are epoch microseconds (see timeline.py); indexes are list positions.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from datagen.randomness import Picker
from datagen.timeline import Window

FOREVER = 1 << 62


@dataclass(slots=True)
class User:
    idx: int
    id: uuid.UUID
    created: int
    updated: int
    deleted: int | None
    weight: float
    # Only for users created by this run (rows to insert):
    username: str = ""
    email: str = ""
    city: str | None = None
    # when the user stops acting (datagen.lifecycle); never written to a store
    quiet: int = FOREVER

    @property
    def end(self) -> int:
        """When the user stops acting: soft-deleted or gone quiet, whichever comes first."""
        return min(self.quiet, FOREVER if self.deleted is None else self.deleted)


@dataclass(slots=True)
class Membership:
    group: int
    user: int
    role: str
    joined: int
    left: int | None
    updated: int


@dataclass(slots=True)
class Group:
    idx: int
    id: uuid.UUID
    owner: int
    created: int
    updated: int
    deleted: int | None
    weight: float = 1.0
    name: str = ""
    members: list[Membership] = field(default_factory=list)

    @property
    def end(self) -> int:
        return FOREVER if self.deleted is None else self.deleted


@dataclass(slots=True)
class Outing:
    idx: int
    id: uuid.UUID
    group: int
    created_by: int
    created: int
    starts: int
    status: str
    category: str
    updated: int
    title: str = ""


@dataclass(slots=True)
class Participation:
    outing: int
    user: int
    rsvp: str
    updated: int


@dataclass
class World:
    """Entities known to this run: loaded from the stores (--continue) and/or created now."""

    window: Window
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    outings: list[Outing] = field(default_factory=list)
    participations: list[Participation] = field(default_factory=list)
    # user index -> UTC days (epoch day numbers) of the outings they attend (going or maybe)
    going_days: dict[int, set[int]] = field(default_factory=dict)
    _user_picker: Picker[User] | None = None
    _group_picker: Picker[Group] | None = None
    _member_pickers: dict[int, Picker[tuple[Membership, int, int]]] = field(default_factory=dict)

    # -- intervals -------------------------------------------------------------
    def membership_span(self, member: Membership) -> tuple[int, int]:
        """When the member can act in the group, clipped to the window (empty if lo >= hi)."""
        user = self.users[member.user]
        group = self.groups[member.group]
        hi = min(member.left if member.left is not None else FOREVER, user.end, group.end)
        return self.window.clip(member.joined, hi)

    def user_span(self, user: User) -> tuple[int, int]:
        return self.window.clip(user.created, user.end)

    # -- weighted choices (built lazily, reset when entities change) -----------
    def invalidate(self) -> None:
        """Forget every weighted choice (users, groups or memberships changed)."""
        self._user_picker = None
        self.invalidate_groups()

    def invalidate_groups(self) -> None:
        """Forget the group and member choices (groups or memberships changed)."""
        self._group_picker = None
        self._member_pickers.clear()

    def user_picker(self) -> Picker[User]:
        if self._user_picker is None:
            alive = [user for user in self.users if self._nonempty(self.user_span(user))]
            self._user_picker = Picker(alive, [user.weight for user in alive])
        return self._user_picker

    def member_picker(self, group: Group) -> Picker[tuple[Membership, int, int]]:
        """Members who can act in the window, weighted by their activity, with their span."""
        picker = self._member_pickers.get(group.idx)
        if picker is None:
            spans = [(member, *self.membership_span(member)) for member in group.members]
            spans = [span for span in spans if span[1] < span[2]]
            picker = Picker(spans, [self.users[member.user].weight for member, _, _ in spans])
            self._member_pickers[group.idx] = picker
        return picker

    def group_picker(self) -> Picker[Group]:
        """Groups with someone able to act in the window, weighted by activity."""
        if self._group_picker is None:
            active = [group for group in self.groups if self.member_picker(group)]
            self._group_picker = Picker(active, [group.weight for group in active])
        return self._group_picker

    def random_alive_user(self, rng: random.Random, moment: int, tries: int = 50) -> User | None:
        """A user (by weight) who exists at ``moment``."""
        picker = self.user_picker()
        for _ in range(tries):
            user = picker.pick(rng)
            if user.created <= moment < user.end:
                return user
        return None

    @staticmethod
    def _nonempty(span: tuple[int, int]) -> bool:
        return span[0] < span[1]
