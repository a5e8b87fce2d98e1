"""Entity objects as PostgreSQL rows, in the column order of tables.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datagen.world import Group, Membership, Outing, Participation, User, World

Row = tuple[Any, ...]


def users(new: Iterable[User]) -> Iterator[Row]:
    for user in new:
        yield (user.id, user.username, user.email, user.city, user.created, user.updated, user.deleted)


def groups(world: World, new: Iterable[Group]) -> Iterator[Row]:
    for group in new:
        yield (group.id, group.name, world.users[group.owner].id, group.created, group.updated, group.deleted)


def members(world: World, new: Iterable[Membership]) -> Iterator[Row]:
    for member in new:
        yield (
            world.groups[member.group].id,
            world.users[member.user].id,
            member.role,
            member.joined,
            member.left,
            member.updated,
        )


def outings(world: World, new: Iterable[Outing]) -> Iterator[Row]:
    for outing in new:
        yield (
            outing.id,
            world.groups[outing.group].id,
            world.users[outing.created_by].id,
            outing.title,
            outing.category,
            outing.starts,
            outing.status,
            outing.created,
            outing.updated,
        )


def participations(world: World, new: Iterable[Participation]) -> Iterator[Row]:
    for participation in new:
        yield (
            world.outings[participation.outing].id,
            world.users[participation.user].id,
            participation.rsvp,
            participation.updated,
        )
