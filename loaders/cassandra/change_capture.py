"""Which rows a Cassandra load reads: the write-time cursor, the late-arrival window, the sweep (pure).

A Cassandra table has no commit log the loader can read, and the app's own times
(``event_time``, ``sent_at``, ``updated_at``) say when something happened on a phone, not
when it reached the server: a phone that syncs offline events days later writes rows whose
clustering time is days old. The loader therefore follows ``WRITETIME`` (microseconds, the
write's timestamp) and runs one of three modes per table:

- **full** (no state yet, ``--full-refresh``, raw table gone): every row, ``replace``.
- **incremental**: the partitions / rows of the late-arrival window only, filtered by the
  server (``day >= ?`` for messages and user_events, ``updated_at >= ?`` for
  notification_states, ``ALLOW FILTERING``), then kept when ``WRITETIME > cursor - lag``
  (or when the row has no write time at all: every regular cell null), minus rows already
  in raw unchanged; merged on the key.
- **sweep** (every run by default; every ``LOADERS_CASSANDRA_SWEEP_HOURS`` when set): every row of the table, the ones not
  in raw unchanged are merged, and keys in raw that the scan did not see become tombstones
  (hard deletes); the scan's row count is the source count of the reconciliation.

The guarantee by default (every run a sweep): every row written, changed or deleted before
the run's scan started is in that run, whatever its clustering time, and the run counts
the source. With ``LOADERS_CASSANDRA_SWEEP_HOURS`` > 0 (``W`` =
``LOADERS_CASSANDRA_LATE_WINDOW_DAYS``, default 7; ``C`` = the write-time cursor of the
previous run, ``lag`` = ``LOADERS_CURSOR_LAG_SECONDS``), the runs between sweeps guarantee:

- a row written after the previous run (write time > C - lag) whose clustering time is at
  most ``W`` days before its write time (for notification_states: its ``updated_at``) is in
  the **next run**, whatever the gap between runs: the window starts ``W`` days before
  ``C - lag`` (for day partitions, at the UTC date of that instant);
- any other row written since (later than ``W`` days, a null ``updated_at``, a write whose
  timestamp a client set in the past), and every hard delete, is in the **next sweep**:
  the first run at least ``LOADERS_CASSANDRA_SWEEP_HOURS`` after the previous sweep began.

The cursor is the greatest write time read, capped at the scan's start (rows written while
a scan runs may land in ranges already read) and never moving back; the lag re-reads
writes stamped by clocks behind the loader's and writes in flight. A state written by the
loader before write times (key ``cursor``: the greatest clustering time read, capped at its
scan's start) upgrades in place: the write-time cursor starts at that value, which is
earlier than any write of a later run, and the first run after the upgrade is a sweep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from loaders.errors import UserError
from loaders.settings import cursor_lag, setting, whole_number

WINDOW_ENV = "LOADERS_CASSANDRA_LATE_WINDOW_DAYS"
DEFAULT_WINDOW_DAYS = 7
SWEEP_ENV = "LOADERS_CASSANDRA_SWEEP_HOURS"
# 0: every run is a sweep, so every run finds hard deletes, counts the source and brings rows of any
# lateness. Its cost is one full read plus one set-based comparison with raw (raw_side): on 1 M events
# about the full load's time and 2-3x an incremental run's (bench/bench_cassandra_load.py), so the exact
# default stays. 156 (6.5 days) makes a daily job sweep every 7th run, with the bound below; that is a
# choice for tables too big to sweep daily.
DEFAULT_SWEEP_HOURS = 0
DELETES_ENV = "LOADERS_CASSANDRA_DETECT_DELETES"
CONSISTENCY_ENV = "LOADERS_CASSANDRA_CONSISTENCY"
DEFAULT_CONSISTENCY = "LOCAL_QUORUM"

STATE_WRITETIME = "writetime_cursor"  # int: microseconds since the epoch
STATE_LAST_SWEEP = "last_sweep"  # ISO-8601 UTC: the start of the last sweep (or full load)
STATE_OLD_CURSOR = "cursor"  # before write times: ISO-8601 UTC clustering time

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

FULL, INCREMENTAL, SWEEP = "full", "incremental", "sweep"


def window_days() -> int:
    return whole_number(WINDOW_ENV, DEFAULT_WINDOW_DAYS)


def sweep_interval() -> dt.timedelta:
    return dt.timedelta(hours=whole_number(SWEEP_ENV, DEFAULT_SWEEP_HOURS))


def detect_deletes() -> bool:
    raw = (setting(DELETES_ENV, "true") or "true").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise UserError(f"{DELETES_ENV}={raw!r} is not a boolean: set it to true or false, or unset it")
    return raw in ("true", "1", "yes", "on")


CONSISTENCY_LEVELS = ("ONE", "LOCAL_ONE", "TWO", "THREE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL")


def consistency_name() -> str:
    raw = (setting(CONSISTENCY_ENV, DEFAULT_CONSISTENCY) or DEFAULT_CONSISTENCY).strip().upper()
    if raw not in CONSISTENCY_LEVELS:
        raise UserError(
            f"{CONSISTENCY_ENV}={raw!r} is not a read consistency level: use one of "
            + ", ".join(CONSISTENCY_LEVELS)
        )
    return raw


@dataclass(frozen=True)
class CaptureSettings:
    lag: dt.timedelta
    window: dt.timedelta
    sweep_every: dt.timedelta
    deletes: bool = True

    @classmethod
    def from_env(cls, lag: dt.timedelta | None = None) -> CaptureSettings:
        return cls(
            lag=cursor_lag() if lag is None else lag,
            window=dt.timedelta(days=window_days()),
            sweep_every=sweep_interval(),
            deletes=detect_deletes(),
        )


def micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch (Cassandra's write-time unit)."""
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """What one run reads of one table."""

    mode: str  # full | incremental | sweep
    reason: str
    cursor: int | None  # the write-time cursor before the run (µs)
    since: int | None  # rows with write time > since are new (incremental; sweep: for late_rows)
    window_from: dt.datetime | None  # incremental: the window's first instant (server-side filter)
    last_sweep: dt.datetime | None

    @property
    def reads_everything(self) -> bool:
        return self.mode in (FULL, SWEEP)


def previous_cursor(state: MutableMapping[str, Any]) -> tuple[int | None, bool]:
    """(the write-time cursor in µs, whether it comes from a pre-write-time ``cursor``)."""
    value = state.get(STATE_WRITETIME)
    if value is not None:
        return int(value), False
    old = _parse_time(state.get(STATE_OLD_CURSOR))
    return (micros(old), True) if old is not None else (None, False)


def plan(
    state: MutableMapping[str, Any],
    settings: CaptureSettings,
    now: dt.datetime,
    full: bool,
    raw_table_exists: bool,
) -> Plan:
    """Decide the mode of one table from its dlt resource state."""
    cursor, upgraded = (None, False) if full else previous_cursor(state)
    last_sweep = _parse_time(state.get(STATE_LAST_SWEEP))
    if full:
        return Plan(FULL, "reloaded in full", None, None, None, last_sweep)
    if cursor is None:
        return Plan(FULL, "first load", None, None, None, last_sweep)
    if not raw_table_exists:
        return Plan(FULL, "raw table missing: reloaded", None, None, None, last_sweep)
    since = cursor - settings.lag // dt.timedelta(microseconds=1)
    if upgraded:
        return Plan(SWEEP, "first run with write times", cursor, since, None, last_sweep)
    if last_sweep is None or now - last_sweep >= settings.sweep_every:
        reason = "no sweep yet" if last_sweep is None else f"last sweep {last_sweep:%Y-%m-%d %H:%M} UTC"
        return Plan(SWEEP, reason, cursor, since, None, last_sweep)
    window_from = from_micros(since) - settings.window
    return Plan(INCREMENTAL, "incremental", cursor, since, window_from, last_sweep)


def next_cursor(previous: int | None, max_seen: int | None, scan_started: dt.datetime) -> int | None:
    """The write-time cursor after a scan: the greatest write time read, capped at the scan's start,
    never moving back."""
    if max_seen is None:
        return previous
    candidate = min(max_seen, micros(scan_started))
    return candidate if previous is None else max(previous, candidate)


def save(
    state: MutableMapping[str, Any], the_plan: Plan, cursor: int | None, scan_started: dt.datetime
) -> None:
    """Write the table's state after a complete scan (committed with the load package by dlt)."""
    if cursor is not None:
        state[STATE_WRITETIME] = int(cursor)
    state.pop(STATE_OLD_CURSOR, None)
    if the_plan.reads_everything:
        state[STATE_LAST_SWEEP] = scan_started.isoformat()


def window_value(window_from: dt.datetime, column_type: str) -> Any:
    """The bound of the server-side window filter: a date for ``day``, a timestamp otherwise."""
    return window_from.date() if column_type == "date" else window_from


def describe_cursor(value: int | None) -> str | None:
    return None if value is None else from_micros(value).isoformat()
