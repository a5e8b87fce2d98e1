"""What a load did: per source and per table (the summary, the reconciliation, ``ops.table_loads``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from loaders.errors import UserError


@dataclass
class TableResult:
    """What one run did to one raw table (the summary, ``ops.table_loads`` and the reconciliation)."""

    source: str
    table: str
    mode: str = ""
    rows_extracted: int = 0
    rows_in_raw: int | None = None
    seconds: float = 0.0
    # rows of the table in the source, counted inside the load's own snapshot (None: not counted)
    source_rows: int | None = None
    in_flight_rows: int = 0  # a source/raw difference the source explains (writes during a non-snapshot scan)
    deleted_rows: int = 0  # keys gone from the source since the last load, deleted from raw (tombstoned)
    rejected_rows: int = 0  # rows quarantined in ops.rejected_rows (bad cells), not loaded
    bytes_extracted: int | None = None
    cursor_before: str | None = None  # the table's incremental position before and after this run (text)
    cursor_after: str | None = None
    lost_rows: int = 0
    late_rows: int = 0
    future_rows: int = 0


@dataclass
class SourceResult:
    source: str
    pipeline: str
    tables: list[TableResult] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    resumed_packages: int = 0
    repaired_rows: int = 0
    error: UserError | None = None
