"""DuckDB's memory limit on a connection: read it, set it for a block, put it back exactly.

The loaders change the limit of the load's one connection for a step and restore it after: the
Cassandra diffs run under at most 128MB unless the load's is higher
(``loaders.cassandra.raw_side.diff_memory``), a merge that ran out of memory is retried under one
sized to its table (``loaders.load.merge_memory``): both with ``memory_limit_within``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_bytes(text: str) -> float:
    """DuckDB's spelling of a memory size ('122.0 MiB', '64MB') in bytes; infinity when not one."""
    number = text.strip().rstrip("BbIiKkMmGgTtYyEeSs ")
    unit = text.strip()[len(number) :].strip().upper()
    try:
        return float(number) * UNITS[unit]
    except (KeyError, ValueError):
        return float("inf")


def current_memory_limit(connection: Any) -> str:
    """The limit as DuckDB shows it ('122.0 MiB' for 128MB)."""
    return str(connection.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def restore_memory_limit(connection: Any, shown: str, configured: str | None) -> None:
    """Set the memory limit that DuckDB showed as ``shown``: ``configured`` or the default if either is it."""
    if configured is not None:
        connection.execute("SET memory_limit = ?", [configured])
        if current_memory_limit(connection) == shown:
            return
    connection.execute("RESET memory_limit")
    if current_memory_limit(connection) != shown:  # set by hand: the middle of what shows as ``shown``
        connection.execute("SET memory_limit = ?", [shown_middle(shown)])


def shown_middle(shown: str) -> str:
    """The middle of the sizes DuckDB shows as ``shown`` (it cuts to one decimal: '286.1 MiB' is
    286.1-286.2 MiB), in bytes: setting ``shown`` itself would show '286.0 MiB', a step down each time."""
    number = shown.strip().rstrip("BbIiKkMmGgTtYyEeSs ")
    unit = UNITS.get(shown.strip()[len(number) :].strip().upper())
    decimals = len(number.partition(".")[2])
    if unit is None or not number:
        return shown
    return f"{round((float(number) + 0.5 * 10**-decimals) * unit)}B"


@contextmanager
def memory_limit_within(
    connection: Any, configured: str | None, *, at_least: str | None = None, at_most: str | None = None
) -> Iterator[None]:
    """DuckDB's memory limit raised to ``at_least`` or lowered to ``at_most`` inside the block when it
    is outside them (left alone otherwise), then exactly the previous one (``configured``: the value
    the connection was opened with, see ``restore_memory_limit``)."""
    before = current_memory_limit(connection)
    shown = memory_bytes(before)
    target = None
    if at_most is not None and shown > memory_bytes(at_most):
        target = at_most
    elif at_least is not None and shown < memory_bytes(at_least):
        target = at_least
    if target is not None:
        connection.execute(f"SET memory_limit = '{target}'")
    try:
        yield
    finally:
        if target is not None:
            restore_memory_limit(connection, before, configured)
