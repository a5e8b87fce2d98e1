"""What a source reports about each table it extracted, read by the load runner without guessing.

Both sources (``loaders.postgres``, ``loaders.cassandra``) fill one ``TableStats`` per
table while their dlt resource runs; the runner turns them into the run's
``TableResult`` rows (summary, ``ops.table_loads``, reconciliation) and writes the
rejected rows to ``ops.rejected_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlt.common.schema.typing import TDeleteInsertStrategyDict

# a raw row with this column set is a tombstone: its key was deleted in the source
DELETED_AT_COLUMN = "_loader_deleted_at"
ROW_KEY_COLUMN = "_dlt_id"

# dlt column hints of the two columns every raw table carries besides the source's own
TOMBSTONE_HINT: dict[str, str | bool] = {
    "name": DELETED_AT_COLUMN,
    "data_type": "timestamp",
    "timezone": True,
    "nullable": True,
}
ROW_KEY_HINT: dict[str, str | bool] = {
    "name": ROW_KEY_COLUMN,
    "data_type": "text",
    "nullable": False,
    "unique": True,
    "row_key": True,
}

# dlt's write disposition of every incremental load (both sources): delete the raw rows whose key
# the package holds, insert the package's rows. ``deduplicated``: a package holds each key at most
# once, so dlt inserts its rows as they are instead of numbering them by key first (a window over
# every staged row and column, which needs memory with the change: a package of 2 M changed
# user_events ran out of the load's 128MB in it, and a rerun of that package failed the same way).
# Why a key is there once: PostgreSQL rows are read in one snapshot, by disjoint key or ctid
# ranges; Cassandra's by token ranges covering the ring once; the tombstones of both are keys the
# source no longer has, so none is also a changed row. Were a key there twice, raw would hold one
# more live row than the source: the reconciliation fails the load, and the repair after an
# interrupted load keeps one row per key.
MERGE_DISPOSITION: TDeleteInsertStrategyDict = {
    "disposition": "merge",
    "strategy": "delete-insert",
    "deduplicated": True,
}


@dataclass(frozen=True)
class RejectedRow:
    """A source row that could not be loaded (a bad cell): quarantined with its key and the reason."""

    table: str
    key: str  # the row's primary key as JSON text
    column: str
    reason: str


@dataclass
class TableStats:
    table: str
    mode: str = ""  # full | incremental | sweep
    rows_read: int = 0  # rows read from the source
    rows_extracted: int = 0  # rows handed to dlt (after dropping the ones already in raw)
    seconds: float = 0.0
    done: bool = False  # the resource ran to its end (the counts are complete)
    source_rows: int | None = None  # rows in the source, counted in the load's snapshot
    in_flight_rows: int = 0  # a difference the source explains (writes during a non-snapshot scan)
    deleted_rows: int = 0  # tombstones written for keys gone from the source
    lost_rows: int = 0  # source rows raw lacked without a reason (reported; the next run reloads the table)
    late_rows: int = (
        0  # rows changed behind the app's clock (stamped before the cursor) found by change capture
    )
    future_rows: int = 0  # rows stamped after the snapshot's clock (loaded, never moving the cursor)
    bytes_extracted: int | None = None
    cursor_before: str | None = None
    cursor_after: str | None = None
    rejected: list[RejectedRow] = field(default_factory=list)
