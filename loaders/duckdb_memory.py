"""DuckDB's memory limit on a connection: read it, set it for a block, put it back exactly; know
when DuckDB ran out of it, and say so in one line.

The loaders change the limit of the load's one connection for a step and restore it after: the
Cassandra diffs run under at most 128MB unless the load's is higher
(``loaders.cassandra.raw_side.diff_memory``), and a diff statement or a merge that ran out of memory
is retried once under a raised one (``RawTable.run``, ``loaders.load.merge_memory``): all with
``memory_limit_within``. When the retry runs out too, ``out_of_memory_message`` names the table, the
step and the setting to raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loaders.settings import setting

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
    """Set the memory limit that DuckDB showed as ``shown``: ``configured`` if it is that, else the
    middle of what shows as ``shown`` (DuckDB's default, or a limit set by hand).

    Never ``RESET memory_limit``: DuckDB 1.5.5 then shows its default but keeps the lower limit in
    force (a 2MB limit reset still runs out at 1.9 MiB; tests/unit/test_cassandra_raw_side.py)."""
    if configured is not None:
        connection.execute("SET memory_limit = ?", [configured])
        if current_memory_limit(connection) == shown:
            return
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


MEMORY_LIMIT_SETTING = "LOADERS_DUCKDB_MEMORY_LIMIT"
LOAD_MEMORY_LIMIT = "128MB"  # the load's DuckDB limit when the setting is unset


def load_memory_limit() -> str:
    """DuckDB's memory limit of a load (``MEMORY_LIMIT_SETTING``, else ``LOAD_MEMORY_LIMIT``)."""
    return setting(MEMORY_LIMIT_SETTING, LOAD_MEMORY_LIMIT) or LOAD_MEMORY_LIMIT


def doubled(size: str) -> str | None:
    """'128MB' -> '256MB' (DuckDB's spelling of a size), None when it is not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*", size, re.IGNORECASE)
    if not match:
        return None
    number = float(match.group(1)) * 2
    return f"{number:g}{match.group(2)}"


# DuckDB's words when its memory limit is reached: an OutOfMemoryException says the first; a commit
# that could not get memory is a TransactionException ("Failed to commit: failed to pin block …")
OUT_OF_MEMORY_TEXT = re.compile(
    r"Out of Memory Error|failed to pin block|could not allocate block|failed to allocate data"
)


def is_out_of_memory(exc: BaseException) -> bool:
    """``exc`` itself is DuckDB saying it ran out of its memory limit."""
    if not (type(exc).__module__ or "").startswith(("duckdb", "_duckdb")):
        return False
    return type(exc).__name__ == "OutOfMemoryException" or bool(OUT_OF_MEMORY_TEXT.search(str(exc)))


def out_of_memory_message(
    text: str, step: str, pipeline: str, table: str | None, retried_under: str | None = None
) -> str:
    """DuckDB's memory limit was too small for one statement (a merge of a very large change, say);
    ``retried_under``: the raised limit a second attempt also ran out of (``loaders.load.merge_memory``)."""
    used = re.search(r"\(([^()]*used)\)", text)
    limit = load_memory_limit()
    bigger = doubled(retried_under or limit)
    example = f"e.g. {MEMORY_LIMIT_SETTING}={bigger} " if bigger else ""
    where = f"{pipeline}.{table}" if table else pipeline
    retried = f", and again when retried under {retried_under}" if retried_under else ""
    return (
        f"{where}: DuckDB ran out of its memory limit during {step}{f' ({used.group(1)})' if used else ''}"
        f"{retried}: rerun with a larger {MEMORY_LIMIT_SETTING} (now {limit}; {example}for that one run); "
        "nothing is lost: the rerun finishes or redoes this load"
    )


def mib(size: float) -> str:
    """A size in bytes as DuckDB's whole MiB ('256MiB'), as the messages about its limit spell it."""
    return f"{size / 2**20:.0f}MiB"
