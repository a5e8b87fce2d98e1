"""Does the warehouse hold what the sources hold? Per table: source, raw and staging row counts.

- The source's count is taken inside the load's own read: PostgreSQL's in its snapshot
  (the key scan of delete detection, or the full read), Cassandra's per token range
  (see ``loaders.cassandra``). ``None``: not counted in this run.
- Raw's count is of its live rows (tombstones of deleted keys left out), after the load.
- Staging's count, after dbt's build, is of the table's staging model.

A difference the source explains (Cassandra rows written while the scan ran:
``in_flight_rows``) is allowed; any other fails the publish with one line naming the
table, the counts and the fix. The job stores every check in ``ops.reconciliation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from loaders.errors import UserError
from loaders.load.results import TableResult

OK, MISMATCH, NOT_COUNTED = "ok", "mismatch", "not_counted"


class ReconciliationFailed(UserError):
    """A table of the warehouse does not hold what its source holds: nothing is published."""


@dataclass(frozen=True)
class TableCheck:
    source: str
    table: str
    source_rows: int | None
    raw_rows: int | None
    staging_rows: int | None = None
    in_flight_rows: int = 0
    lost_rows: int = 0

    @property
    def difference(self) -> int | None:
        """raw (or staging, when it differs from raw) minus the source; None when not counted."""
        if self.source_rows is None or self.raw_rows is None:
            return None
        if self.staging_rows is not None and self.staging_rows != self.raw_rows:
            return self.staging_rows - self.source_rows
        return self.raw_rows - self.source_rows

    @property
    def status(self) -> str:
        if self.staging_rows is not None and self.raw_rows is not None and self.staging_rows != self.raw_rows:
            return MISMATCH  # staging reads raw's committed loads: nothing explains a difference
        difference = self.difference
        if difference is None:
            return NOT_COUNTED
        return OK if abs(difference) <= self.in_flight_rows and not self.lost_rows else MISMATCH

    def line(self) -> str:
        """One line: the table, its counts and the fix."""
        counts = f"source {_n(self.source_rows)}, raw {_n(self.raw_rows)}"
        if self.staging_rows is not None:
            counts += f", staging {_n(self.staging_rows)}"
        if self.staging_rows is not None and self.raw_rows is not None and self.staging_rows != self.raw_rows:
            fix = (
                f"rebuild it with `loaders run --full-refresh` (or `dbt build --full-refresh --select "
                f"stg_{self.source}__{self.table}+`)"
            )
        else:
            fix = f"the next `loaders load --source {self.source} --tables {self.table}` reloads it in full"
        return f"{self.source}.{self.table} does not match its source ({counts}): {fix}"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def load_checks(results: Iterable[TableResult]) -> list[TableCheck]:
    return [
        TableCheck(r.source, r.table, r.source_rows, r.rows_in_raw, None, r.in_flight_rows, r.lost_rows)
        for r in results
        if r.mode != "failed"
    ]


def with_staging(
    checks: Sequence[TableCheck], staging_rows: dict[tuple[str, str], int | None]
) -> list[TableCheck]:
    return [replace(c, staging_rows=staging_rows.get((c.source, c.table))) for c in checks]


@dataclass(frozen=True)
class Tally:
    """How a set of checks came out: for the one-line verdicts of the load summary and the job."""

    matching: int
    total: int
    mismatched: list[TableCheck]
    uncounted: list[str]  # source.table of the checks whose source was not counted


def tally(checks: Sequence[TableCheck]) -> Tally:
    mismatched = [c for c in checks if c.status == MISMATCH]
    uncounted = [f"{c.source}.{c.table}" for c in checks if c.status == NOT_COUNTED]
    return Tally(len(checks) - len(mismatched) - len(uncounted), len(checks), mismatched, uncounted)


def failure(checks: Sequence[TableCheck]) -> ReconciliationFailed | None:
    """One error naming every table that does not match (None: all match or were not counted)."""
    bad = tally(checks).mismatched
    if not bad:
        return None
    return ReconciliationFailed(
        "; ".join(c.line() for c in bad) + " (nothing published: readers keep the last good copy)"
    )
