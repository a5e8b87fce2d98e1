"""The two analyses of marts.md, answered in plain Python from the raw rows.

Independent of the dbt models on purpose: no SQL, only the contracts (sources.md, marts.md)
applied to raw rows as the loaders write them (``dbt_raw_fixture.RawData``: dicts keyed
"<schema>.<table>", with ``_dlt_load_id`` / ``_dlt_id``). An end-to-end test can feed it the
rows of a real warehouse (``dbt_raw_fixture.read_raw``) and reuse ``check_top_n``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

Row = dict[str, Any]
RawData = Mapping[str, Sequence[Row]]

# marts.md: the rates of the seed fx_rates, written here again on purpose.
RATES_TO_EUR = {
    "EUR": Decimal("1.00"),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.06"),
}
SUCCESS_STATES = {"SEEN", "CLICKED"}
CENT = Decimal("0.01")


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def utc_date(value: datetime) -> date:
    return value.astimezone(UTC).date()


# Set on a tombstone: the key was deleted in the source (sources.md keys, hard deletes).
DELETED_AT = "_loader_deleted_at"


def latest_per_key(rows: Iterable[Row], key: Sequence[str], tie_breakers: Sequence[str] = ()) -> list[Row]:
    """One row per key: the latest load wins (inside a load a live row before a tombstone,
    then later tie_breakers, then _dlt_id); a key whose latest row is a tombstone (a hard
    delete) is left out."""

    def rank(row: Row) -> tuple[Any, ...]:
        extra = tuple((row[c] is not None, row[c]) for c in tie_breakers)
        return (Decimal(row["_dlt_load_id"]), row.get(DELETED_AT) is None, *extra, row["_dlt_id"])

    best: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in best or rank(row) > rank(best[k]):
            best[k] = row
    return [row for row in best.values() if row.get(DELETED_AT) is None]


def _uid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def notif_success_by_day(raw: RawData) -> list[Row]:
    """Every notification day with seen, total and success_rate (exact, rounded half up)."""
    notifications = latest_per_key(raw["raw_postgres.notifications"], ["id"])
    states = latest_per_key(
        raw["raw_cassandra.notification_states"], ["user_id", "notification_id"], ["updated_at"]
    )
    status = {(_uid(s["user_id"]), int(s["notification_id"])): s["status"] for s in states}
    seen: dict[date, int] = defaultdict(int)
    total: dict[date, int] = defaultdict(int)
    for n in notifications:
        day = utc_date(n["created_at"])
        total[day] += 1
        if status.get((_uid(n["user_id"]), int(n["id"]))) in SUCCESS_STATES:
            seen[day] += 1
    return [
        {
            "notif_date": day,
            "seen": seen[day],
            "total": total[day],
            "success_rate": round_cents(Decimal(100 * seen[day]) / Decimal(total[day])),
        }
        for day in sorted(total)
    ]


def user_activity_days(raw: RawData) -> dict[tuple[uuid.UUID, date], Decimal]:
    """(user, UTC day) of every active day -> EUR spend of that day, rounded to cents."""
    spend: dict[tuple[uuid.UUID, date], Decimal] = defaultdict(Decimal)
    payments = latest_per_key(raw["raw_postgres.payments"], ["id"], ["updated_at"])
    for p in payments:
        if p["status"] == "succeeded" and p["paid_at"] is not None:
            key = (_uid(p["user_id"]), utc_date(p["paid_at"]))
            spend[key] += Decimal(p["amount"]) * RATES_TO_EUR[p["currency"].strip()]
    messages = latest_per_key(raw["raw_cassandra.messages"], ["group_id", "day", "sent_at", "message_id"])
    for m in messages:
        if m["user_id"] is not None:
            spend[(_uid(m["user_id"]), utc_date(m["sent_at"]))] += 0
    events = latest_per_key(raw["raw_cassandra.user_events"], ["user_id", "day", "event_time", "event_id"])
    for e in events:
        spend[(_uid(e["user_id"]), utc_date(e["event_time"]))] += 0
    return {key: round_cents(value) for key, value in spend.items()}


def top_spenders(raw: RawData) -> list[Row]:
    """Every active user with total_spent, active_days and the exact avg_spent_per_day."""
    total: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    days: dict[uuid.UUID, int] = defaultdict(int)
    for (user_id, _day), amount in user_activity_days(raw).items():
        total[user_id] += amount
        days[user_id] += 1
    return [
        {
            "user_id": user_id,
            "total_spent": total[user_id],
            "active_days": days[user_id],
            "avg_spent_per_day": total[user_id] / days[user_id],
        }
        for user_id in sorted(total, key=str)
    ]


def rounded_matches(actual: float | Decimal, exact: Decimal) -> bool:
    """`actual` is `exact` rounded to cents (either neighbour on an exact half cent)."""
    a = Decimal(str(actual))
    cents = exact * 100
    floor = cents.to_integral_value(rounding=ROUND_FLOOR)
    candidates = [floor / 100, (floor + 1) / 100] if cents - floor == Decimal("0.5") else [round_cents(exact)]
    return any(abs(a - c) < Decimal("1e-9") for c in candidates)


def check_top_n(
    actual: Sequence[Row],
    expected_all: Sequence[Row],
    key: str,
    sort_column: str,
    n: int,
    same_row: Callable[[Row, Row], list[str]],
) -> list[str]:
    """Problems with `actual` as the answer of `ORDER BY sort_column DESC LIMIT n`.

    Ties at the cut make several answers valid: the sorted values must be the n largest
    expected ones, and each returned row must be the expected row of its key.
    """
    problems: list[str] = []
    expected_by_key = {row[key]: row for row in expected_all}
    want_values = sorted((row[sort_column] for row in expected_all), reverse=True)[:n]
    got_values = [row[sort_column] for row in actual]
    if len(actual) != len(want_values):
        problems.append(f"{len(actual)} rows, expected {len(want_values)}")
    for got, want in zip(got_values, want_values, strict=False):
        if abs(Decimal(str(got)) - Decimal(str(want))) > Decimal("1e-9"):
            problems.append(f"{sort_column} sequence {got_values} != expected {want_values}")
            break
    for row in actual:
        expected = expected_by_key.get(row[key])
        if expected is None:
            problems.append(f"unexpected {key} {row[key]}")
            continue
        problems.extend(f"{key} {row[key]}: {p}" for p in same_row(row, expected))
    return problems


def same_notif_day(actual: Row, expected: Row) -> list[str]:
    problems = [f"{c} {actual[c]} != {expected[c]}" for c in ("seen", "total") if actual[c] != expected[c]]
    if abs(Decimal(str(actual["success_rate"])) - expected["success_rate"]) > Decimal("1e-9"):
        problems.append(f"success_rate {actual['success_rate']} != {expected['success_rate']}")
    return problems


def same_spender(actual: Row, expected: Row) -> list[str]:
    problems = []
    if Decimal(actual["total_spent"]) != expected["total_spent"]:
        problems.append(f"total_spent {actual['total_spent']} != {expected['total_spent']}")
    if actual["active_days"] != expected["active_days"]:
        problems.append(f"active_days {actual['active_days']} != {expected['active_days']}")
    if not rounded_matches(actual["avg_spent_per_day"], expected["avg_spent_per_day"]):
        problems.append(
            f"avg_spent_per_day {actual['avg_spent_per_day']} is not "
            f"{expected['avg_spent_per_day']} rounded to cents"
        )
    return problems
