"""A load that ran out of DuckDB's memory is loaded again once, under a limit sized to its table.

dlt merges an incremental package into raw with one ``DELETE … WHERE EXISTS`` (the rows whose key
the package holds) and one ``INSERT``, in one transaction. DuckDB keeps a deletion's versions in
memory per vector of 2,048 rows it touches, whatever the number of rows deleted: a change spread
over a whole raw table (a sweep's tombstones, updates all over it) needs about 8 bytes per row of
the table. Measured here, a delete of 0.1 % of the rows, spread evenly: 10 M rows ran in 96MB (not
in 64MB), 20 M rows in 176MB (not in 160MB). The load's 128MB therefore fits such a change on a
table of up to about 10 M rows; beyond, the package's load runs out of memory, and rerunning it
under the same limit would fail the same way.

So when a load job runs out of memory, the package is loaded again at once (dlt kept it, with the
jobs already done) under ``retry_limit``: twice the limit that failed, and at least
``BYTES_PER_ROW`` per row of the job's raw table plus ``BASE_BYTES``. The limit is raised for that
one load and then restored; a second failure is the one-line error naming the limit to set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from loaders.duckdb_memory import (
    OUT_OF_MEMORY_TEXT,
    current_memory_limit,
    memory_bytes,
    memory_limit_within,
    mib,
    out_of_memory_message,
)
from loaders.errors import UserError
from loaders.load.errors import failed_job_table, out_of_memory
from loaders.progress import Progress
from loaders.raw_sql import count_of, quote

if TYPE_CHECKING:
    from dlt.common.pipeline import LoadInfo
    from dlt.pipeline.pipeline import Pipeline

BYTES_PER_ROW = 9  # above the 8 measured per row of the table (see above)
BASE_BYTES = 32 * 2**20  # the rest of the merge: its join, the insert's buffers


class OutOfMemoryLogFilter(logging.Filter):
    """Drops dlt's log records of a job that ran out of DuckDB's memory (a traceback each, several
    per job as dlt retries it) and its warning that the package was left unfinished:
    ``load_package`` reports either, in one line (the retry, or the error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and out_of_memory(error) is not None:
            return False
        text = record.getMessage()
        return not (OUT_OF_MEMORY_TEXT.search(text) or UNFINISHED_PACKAGE in text)


UNFINISHED_PACKAGE = "was not fully loaded"


@contextmanager
def _dlt_quiet_on_out_of_memory() -> Iterator[None]:
    logger, quiet = logging.getLogger("dlt"), OutOfMemoryLogFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def retry_limit(failed_bytes: float, table_rows: int) -> int:
    """The memory limit of the second attempt: double the one that failed, at least the table's need."""
    return int(max(2 * failed_bytes, BASE_BYTES + BYTES_PER_ROW * table_rows))


def _table_rows(connection: Any, dataset: str, table: str | None) -> int:
    if table is None:
        return 0
    try:
        return count_of(connection, f"SELECT count(*) FROM {quote(dataset)}.{quote(table)}")
    except Exception:  # the table does not exist yet: its size cannot be what ran out
        return 0


def load_package(pipeline: Pipeline, connection: Any, progress: Progress, configured: str | None) -> LoadInfo:
    """``pipeline.load()``; after an out-of-memory, once more under ``retry_limit`` (see the module)."""
    with _dlt_quiet_on_out_of_memory():
        return _load_or_retry(pipeline, connection, progress, configured)


def _load_or_retry(
    pipeline: Pipeline, connection: Any, progress: Progress, configured: str | None
) -> LoadInfo:
    try:
        return pipeline.load()
    except Exception as exc:
        if connection is None or out_of_memory(exc) is None:
            raise
        failed = memory_bytes(current_memory_limit(connection))
        table = failed_job_table(exc)
        rows = _table_rows(connection, pipeline.dataset_name, table)
        limit = retry_limit(failed, rows)
        where = f"{pipeline.dataset_name}.{table}" if table else pipeline.dataset_name
        progress.step(
            f"{where}: DuckDB ran out of its {mib(failed)} loading the package ({rows:,} rows in the "
            f"raw table); loading it again under {mib(limit)}"
        )
        try:
            with memory_limit_within(connection, configured, at_least=f"{limit}B"):
                return pipeline.load()
        except Exception as again:
            still = out_of_memory(again)
            if still is None:
                raise
            raise UserError(
                out_of_memory_message(str(still), "load", pipeline.dataset_name, table, mib(limit))
            ) from again
