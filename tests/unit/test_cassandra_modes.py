"""The Cassandra loader's modes and write-time cursor (pure: no server)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from loaders.cassandra import change_capture as cc
from loaders.errors import UserError
from loaders.settings import CURSOR_LAG_ENV

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SETTINGS = cc.CaptureSettings(
    lag=dt.timedelta(minutes=10), window=dt.timedelta(days=7), sweep_every=dt.timedelta(hours=156)
)


def test_micros_round_trip_and_unit() -> None:
    moment = dt.datetime(2026, 11, 30, 23, 59, 59, 123456, tzinfo=UTC)
    assert cc.from_micros(cc.micros(moment)) == moment
    assert cc.micros(cc.EPOCH + dt.timedelta(seconds=1)) == 1_000_000


def test_first_load_and_full_refresh_are_full() -> None:
    assert cc.plan({}, SETTINGS, NOW, False, False).mode == cc.FULL
    state = {cc.STATE_WRITETIME: cc.micros(NOW), cc.STATE_LAST_SWEEP: NOW.isoformat()}
    assert cc.plan(state, SETTINGS, NOW, True, True).mode == cc.FULL
    missing = cc.plan(state, SETTINGS, NOW, False, False)
    assert missing.mode == cc.FULL and "raw table missing" in missing.reason


def test_incremental_window_starts_window_days_before_cursor_minus_lag() -> None:
    cursor = NOW - dt.timedelta(
        days=3
    )  # three days without a run: the window still reaches back from the cursor
    state = {
        cc.STATE_WRITETIME: cc.micros(cursor),
        cc.STATE_LAST_SWEEP: (NOW - dt.timedelta(days=2)).isoformat(),
    }
    plan = cc.plan(state, SETTINGS, NOW, False, True)
    assert plan.mode == cc.INCREMENTAL
    assert plan.since == cc.micros(cursor - dt.timedelta(minutes=10))
    assert plan.window_from == cursor - dt.timedelta(minutes=10) - dt.timedelta(days=7)
    assert cc.window_value(plan.window_from, "date") == dt.date(2026, 11, 21)
    # a row written after the cursor, clustered 7 days before its write, is inside the window
    write = cursor + dt.timedelta(seconds=1)
    assert (write - dt.timedelta(days=7)).date() >= cc.window_value(plan.window_from, "date")


def test_sweep_when_due_or_never_done() -> None:
    cursor = cc.micros(NOW - dt.timedelta(hours=1))
    assert cc.plan({cc.STATE_WRITETIME: cursor}, SETTINGS, NOW, False, True).mode == cc.SWEEP
    due = {cc.STATE_WRITETIME: cursor, cc.STATE_LAST_SWEEP: (NOW - dt.timedelta(hours=156)).isoformat()}
    assert cc.plan(due, SETTINGS, NOW, False, True).mode == cc.SWEEP
    not_due = {cc.STATE_WRITETIME: cursor, cc.STATE_LAST_SWEEP: (NOW - dt.timedelta(hours=155)).isoformat()}
    assert cc.plan(not_due, SETTINGS, NOW, False, True).mode == cc.INCREMENTAL
    every_run = cc.CaptureSettings(SETTINGS.lag, SETTINGS.window, dt.timedelta(0))
    assert cc.plan(not_due, every_run, NOW, False, True).mode == cc.SWEEP


def test_state_of_the_clustering_time_cursor_upgrades_without_a_full_load() -> None:
    old = NOW - dt.timedelta(days=1)
    state: dict[str, Any] = {cc.STATE_OLD_CURSOR: old.isoformat()}
    plan = cc.plan(state, SETTINGS, NOW, False, True)
    assert plan.mode == cc.SWEEP and plan.cursor == cc.micros(old) and "write times" in plan.reason
    cc.save(state, plan, cc.next_cursor(plan.cursor, cc.micros(NOW), NOW), NOW)
    assert cc.STATE_OLD_CURSOR not in state
    assert state[cc.STATE_WRITETIME] == cc.micros(NOW) and state[cc.STATE_LAST_SWEEP] == NOW.isoformat()
    assert cc.plan(state, SETTINGS, NOW + dt.timedelta(hours=1), False, True).mode == cc.INCREMENTAL


def test_cursor_capped_at_scan_start_and_never_moves_back() -> None:
    start = NOW
    ahead = cc.micros(NOW + dt.timedelta(days=365))  # a client clock a year ahead
    assert cc.next_cursor(None, ahead, start) == cc.micros(start)
    previous = cc.micros(NOW - dt.timedelta(hours=1))
    assert cc.next_cursor(previous, previous - 5, start) == previous
    assert cc.next_cursor(previous, None, start) == previous
    assert cc.next_cursor(previous, previous + 7, start) == previous + 7


def test_incremental_save_keeps_the_last_sweep() -> None:
    state = {cc.STATE_WRITETIME: 5, cc.STATE_LAST_SWEEP: "2026-11-30T00:00:00+00:00"}
    plan = cc.Plan(cc.INCREMENTAL, "incremental", 5, 0, NOW, None)
    cc.save(state, plan, 9, NOW)
    assert state == {cc.STATE_WRITETIME: 9, cc.STATE_LAST_SWEEP: "2026-11-30T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        (cc.WINDOW_ENV, "a week", "whole number"),
        (cc.SWEEP_ENV, "-1", "whole number"),
        (CURSOR_LAG_ENV, "10m", "whole number"),  # the one parser of the lag, shared with PostgreSQL
        (cc.DELETES_ENV, "maybe", "true or false"),
        (cc.CONSISTENCY_ENV, "MOST", "LOCAL_QUORUM"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fix: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as caught:
        cc.CaptureSettings.from_env()
        cc.consistency_name()
    message = str(caught.value)
    assert name in message and fix in message and "\n" not in message


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (cc.WINDOW_ENV, cc.SWEEP_ENV, cc.DELETES_ENV, cc.CONSISTENCY_ENV, CURSOR_LAG_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(cc, "setting", lambda name, default=None: default)
    settings = cc.CaptureSettings.from_env()
    assert settings.window >= dt.timedelta(days=7)
    assert settings.sweep_every == dt.timedelta(0) and settings.deletes  # every run sweeps by default
    assert settings.lag == dt.timedelta(seconds=600) and cc.consistency_name() == "LOCAL_QUORUM"


def test_the_window_bound_is_a_date_for_day_partitions_and_the_instant_otherwise() -> None:
    from loaders.cassandra.tables import spec_for

    moment = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
    assert spec_for("user_events").window_bound(moment) == dt.date(2026, 11, 21)
    assert spec_for("messages").window_bound(moment) == dt.date(2026, 11, 21)
    assert spec_for("notification_states").window_bound(moment) == moment
