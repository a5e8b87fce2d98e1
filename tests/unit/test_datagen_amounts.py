"""Payments a social outings app would see: tens of euros per person and outing, a few thousand a
half-year for the heaviest users, whatever the scale (pure: the generator's rows, no store)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import pytest

from datagen import activity, full
from datagen.command import DEFAULT_END, parse_end
from datagen.randomness import activity_weights, stream
from datagen.timeline import DAY, Window
from datagen.volumes import Volumes
from datagen.world import World

RATE_TO_EUR = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "CHF": 1.06}  # seeds/fx_rates.csv
DAYS = 184


def _world(scale: float) -> tuple[World, Volumes]:
    end = parse_end(DEFAULT_END)
    volumes = Volumes.full(scale)
    world = World(Window(end - DAYS * DAY, end))
    full.build_entities(world, 42, volumes)
    return world, volumes


@pytest.fixture(scope="module", params=[0.05, 0.2], ids=["scale 0.05", "scale 0.2"])
def payments(request: pytest.FixtureRequest) -> tuple[World, list[tuple[object, ...]]]:
    world, volumes = _world(request.param)
    return world, list(activity.payment_rows(world, stream(42, "payments"), volumes.payments))


def _eur(row: tuple[object, ...]) -> float:
    return float(str(row[3])) * RATE_TO_EUR[str(row[4])]


def test_a_payment_is_tens_of_euros_at_most_a_few_hundred(
    payments: tuple[World, list[tuple[object, ...]]],
) -> None:
    _, rows = payments
    amounts = sorted(_eur(row) for row in rows)
    assert min(amounts) >= 0.9
    assert 3 <= statistics.median(amounts) <= 40
    assert amounts[int(0.99 * len(amounts))] <= 300
    assert amounts[-1] <= 2_000


def test_what_a_person_pays_per_outing_is_an_outings_price(
    payments: tuple[World, list[tuple[object, ...]]],
) -> None:
    _, rows = payments
    per_share: defaultdict[tuple[object, object], float] = defaultdict(float)
    for row in rows:
        if row[2] is not None:
            per_share[(row[1], row[2])] += _eur(row)
    assert 15 <= statistics.median(per_share.values()) <= 80


def test_the_heaviest_spenders_pay_a_few_thousand_euros_a_half_year(
    payments: tuple[World, list[tuple[object, ...]]],
) -> None:
    _, rows = payments
    spent: defaultdict[object, float] = defaultdict(float)
    for row in rows:
        if row[5] == "succeeded":
            spent[row[1]] += _eur(row)
    totals = sorted(spent.values())
    assert totals[-1] <= 10_000  # was 1,054,485 EUR at scale 1 with 1/rank activity weights
    assert 20 <= statistics.median(totals) <= 500
    assert totals[-1] > 8 * statistics.median(totals)  # still heavy-tailed
    per_user = Counter(row[1] for row in rows)
    assert per_user.most_common(1)[0][1] <= 800  # was 33,507 at scale 1


def test_nobody_attends_two_outings_a_day_except_a_few_organisers() -> None:
    world, _ = _world(0.1)
    days: Counter[tuple[int, int]] = Counter()
    for participation in world.participations:
        if participation.rsvp in ("going", "maybe"):
            days[(participation.user, world.outings[participation.outing].starts // DAY)] += 1
    double = sum(1 for n in days.values() if n > 1)
    assert double <= 0.01 * len(days)


def test_activity_weights_do_not_grow_with_the_number_of_users() -> None:
    small = activity_weights(stream(1, "w"), 1_000)
    large = activity_weights(stream(1, "w"), 100_000)
    assert max(large) <= 25.0 and max(small) > 10
    assert 0.8 < statistics.median(large) < 1.25
    top_tenth = sorted(large, reverse=True)[: len(large) // 10]
    assert 0.4 < sum(top_tenth) / sum(large) < 0.6
