"""Time in the generator: integer microseconds since the Unix epoch, UTC.

A :class:`Window` is the half-open interval in which new rows are created;
its ``end`` is "now" for the generated world (statuses are decided relative
to it and no timestamp reaches it, except outings' future ``starts_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """A timezone-aware datetime as epoch microseconds."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


_DAY_TEXT: dict[int, str] = {}  # epoch day -> "YYYY-MM-DD"


def pg_text(us: int) -> str:
    """Timestamp literal for PostgreSQL COPY (timestamptz, UTC): ISO 8601 with microseconds.

    The date of each day is formatted once; the time of day by arithmetic (twice as fast as
    ``datetime.isoformat``, which the COPY of millions of rows feels).
    """
    day, rest = divmod(us, DAY)
    date_text = _DAY_TEXT.get(day)
    if date_text is None:
        date_text = _DAY_TEXT[day] = f"{EPOCH + timedelta(days=day):%Y-%m-%d}"
    seconds, micro = divmod(rest, SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{date_text}T{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}+00:00"


def day_start(us: int) -> int:
    return us - us % DAY


def day_of(us: int) -> date:
    return date(1970, 1, 1) + timedelta(days=us // DAY)


@dataclass(frozen=True)
class Window:
    start: int  # inclusive, epoch microseconds
    end: int  # exclusive: "now" of the generated world

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    def clip(self, lo: int, hi: int) -> tuple[int, int]:
        """The part of [lo, hi) inside the window (may be empty: lo >= hi)."""
        return max(lo, self.start), min(hi, self.end)

    def describe(self) -> str:
        last = to_datetime(self.end - SECOND)
        return f"{to_datetime(self.start):%Y-%m-%d %H:%M:%S} .. {last:%Y-%m-%d %H:%M:%S} UTC"
