"""`datagen --continue`'s window: the next day after the data, never past now (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from datagen.incremental import continue_window
from datagen.timeline import DAY, MINUTE, SECOND, to_us

MIDNIGHT = to_us(datetime(2026, 12, 1, tzinfo=UTC))  # today, 00:00 UTC


def test_a_past_day_is_appended_whole() -> None:
    window = continue_window(latest=MIDNIGHT - 2 * DAY + 5 * SECOND, now=MIDNIGHT + 10 * 60 * MINUTE)
    assert window is not None and (window.start, window.end) == (MIDNIGHT - DAY, MIDNIGHT)


def test_today_is_cut_at_now() -> None:
    now = MIDNIGHT + 10 * 60 * MINUTE
    window = continue_window(latest=MIDNIGHT - SECOND, now=now)
    assert window is not None and (window.start, window.end) == (MIDNIGHT, now)


def test_within_today_the_rest_up_to_now() -> None:
    latest = MIDNIGHT + 3 * 60 * MINUTE + 123
    now = MIDNIGHT + 10 * 60 * MINUTE
    window = continue_window(latest=latest, now=now)
    assert window is not None
    assert latest < window.start <= latest + SECOND and window.end == now


def test_nothing_when_the_data_reaches_now() -> None:
    now = MIDNIGHT + 10 * 60 * MINUTE
    assert continue_window(latest=now - 30 * SECOND, now=now) is None
