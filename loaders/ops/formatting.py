"""How durations, lags and times read on the status page and in ``loaders status``."""

from __future__ import annotations

from datetime import datetime


def duration(seconds: float | None) -> str:
    """1.2 s, 4.0 min, 3.5 h, 31.0 d; '-' when unknown."""
    if seconds is None:
        return "-"
    value = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if value < 120:
        return f"{sign}{value:.1f} s"
    if value < 7200:
        return f"{sign}{value / 60:.1f} min"
    if value < 172800:
        return f"{sign}{value / 3600:.1f} h"
    return f"{sign}{value / 86400:.1f} d"


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


def count(value: float | int | None) -> str:
    return "-" if value is None else f"{int(value)}"
