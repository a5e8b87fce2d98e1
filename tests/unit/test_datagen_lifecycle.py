"""Users' lifecycles in the demo data: a realistic share goes quiet (pure, in memory).

The churn label is computed as gold_ml_user_features defines it (marts.md): users created by
the cutoff (as_of_date - 30 days) and not soft-deleted then, churned when active on no day
after the cutoff; "active" is a succeeded payment paid, a message sent or an app event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from itertools import pairwise

import pytest

from datagen import activity, full
from datagen.command import parse_end
from datagen.lifecycle import LOYAL_SHARE, quiet_at
from datagen.randomness import stream
from datagen.timeline import DAY, HOUR, Window, day_of
from datagen.volumes import Volumes
from datagen.world import FOREVER, World

DEMO_SCALE, SEED = 0.05, 42  # what `make demo` generates
MIN_PER_CLASS = 4  # examples/train_churn.py


@pytest.fixture(scope="module")
def demo() -> tuple[World, dict[uuid.UUID, set[date]]]:
    end = parse_end("2026-11-29T23:59:59Z")
    volumes = Volumes.full(DEMO_SCALE)
    world = World(Window(end - 184 * DAY, end))
    full.build_entities(world, SEED, volumes)
    active: dict[uuid.UUID, set[date]] = defaultdict(set)
    for row in activity.event_rows(world, stream(SEED, "user_events"), volumes.user_events):
        active[row[0]].add(day_of(row[2] * 1000))
    for row in activity.message_rows(world, stream(SEED, "messages"), volumes.messages):
        active[row[4]].add(day_of(row[2] * 1000))
    for row in activity.payment_rows(world, stream(SEED, "payments"), volumes.payments):
        if row[5] == "succeeded":
            active[row[1]].add(day_of(row[6]))
    return world, active


def test_the_churn_example_gets_both_classes(demo: tuple[World, dict[uuid.UUID, set[date]]]) -> None:
    world, active = demo
    as_of = max(day for days in active.values() for day in days)
    cutoff = as_of - timedelta(days=30)
    eligible = [
        user
        for user in world.users
        if day_of(user.created) <= cutoff and (user.deleted is None or day_of(user.deleted) > cutoff)
    ]
    churned = [user for user in eligible if not any(cutoff < day <= as_of for day in active.get(user.id, ()))]
    share = len(churned) / len(eligible)
    assert min(len(churned), len(eligible) - len(churned)) >= 10 * MIN_PER_CLASS
    assert 0.2 <= share <= 0.75, share


def test_a_realistic_share_of_monthly_actives_goes_quiet(
    demo: tuple[World, dict[uuid.UUID, set[date]]],
) -> None:
    _, active = demo
    by_month: dict[tuple[int, int], set[uuid.UUID]] = defaultdict(set)
    for user_id, days in active.items():
        for day in days:
            by_month[(day.year, day.month)].add(user_id)
    months = sorted(by_month)[1:-1]  # whole months only
    shares = [len(by_month[a] - by_month[b]) / len(by_month[a]) for a, b in pairwise(months)]
    assert shares and 0.15 <= sum(shares) / len(shares) <= 0.40, shares


def test_users_act_only_until_they_go_quiet(demo: tuple[World, dict[uuid.UUID, set[date]]]) -> None:
    world, active = demo
    quiet = [user for user in world.users if user.quiet < world.window.end]
    assert quiet
    for user in quiet:
        # a payment started before may still be paid up to two hours later (activity.payment_lifecycle)
        last_day = day_of(user.quiet + 2 * HOUR)
        assert all(day <= last_day for day in active.get(user.id, ())), user.id


def test_quiet_at_is_a_pure_function_of_the_user() -> None:
    """--continue recomputes it from PostgreSQL's rows: the same id and sign-up give the same moment."""
    ids = [uuid.UUID(int=i * 0x9E3779B97F4A7C15_F39CC0605CEDC835 % (1 << 128)) for i in range(1, 2001)]
    moments = [quiet_at(user_id, 0) for user_id in ids]
    assert moments == [quiet_at(user_id, 0) for user_id in ids]
    loyal = sum(moment == FOREVER for moment in moments) / len(moments)
    assert abs(loyal - LOYAL_SHARE) < 0.05
    assert all(moment == FOREVER or moment >= 3 * DAY for moment in moments)
