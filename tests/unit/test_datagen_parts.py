"""The day-halves that writer processes generate are exactly the rows of the whole (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from datagen import activity, full
from datagen.command import DEFAULT_END, parse_end
from datagen.randomness import stream
from datagen.timeline import DAY, Window
from datagen.volumes import Volumes
from datagen.world import World

Rows = Callable[..., Iterator[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def world() -> tuple[World, Volumes]:
    end = parse_end(DEFAULT_END)
    volumes = Volumes.full(0.01)
    built = World(Window(end - 60 * DAY, end))
    full.build_entities(built, 3, volumes)
    return built, volumes


@pytest.mark.parametrize(
    ("name", "rows"), [("user_events", activity.event_rows), ("messages", activity.message_rows)]
)
@pytest.mark.parametrize("parts", [2, 3])
def test_the_parts_of_a_table_are_the_whole(
    world: tuple[World, Volumes], name: str, rows: Rows, parts: int
) -> None:
    built, volumes = world
    count = getattr(volumes, name)
    whole = list(rows(built, stream(3, name), count))
    split = [list(rows(built, stream(3, name), count, (index, parts))) for index in range(parts)]
    assert len(whole) == count
    assert sorted(map(repr, whole)) == sorted(repr(row) for part in split for row in part)
    assert all(split), "every part has rows"
    day = 1  # (key, day, ...): the day is the second column of both tables
    days = [{row[day] for row in part} for part in split]
    assert all(not (a & b) for i, a in enumerate(days) for b in days[i + 1 :]), "a day is in one part only"


def test_another_seed_gives_other_days(world: tuple[World, Volumes]) -> None:
    built, volumes = world
    first = list(activity.event_rows(built, stream(3, "user_events"), volumes.user_events, (0, 2)))
    other = list(activity.event_rows(built, stream(4, "user_events"), volumes.user_events, (0, 2)))
    assert first != other
