"""Run one source's dlt pipeline, crash-safe: finish what an interrupted run left, then load.

``run_source`` runs these phases in order, one function each (the warehouse lock is held by
the caller); an error names the phase it came from:

1. start     open the warehouse (one DuckDB connection for the run) and the dlt pipeline;
2. resume    a package left extracted or normalized by a killed run is normalized and
             loaded first (dlt keeps which jobs were done);
3. sync      the local pipeline state must describe this warehouse: dlt adopts a newer
             state from the warehouse (or forgets a local one whose dataset is gone); a
             local state ahead of the warehouse (warehouse restored or replaced) is dropped
             and restored from the warehouse. If a resumed job may have been applied twice
             (killed between DuckDB's commit and dlt's bookkeeping), the keys of its tables
             are de-duplicated;
4. extract   the source's tables (``open_extracts`` of the source package: a consistent read);
5. normalize and
6. load      (parquet files, DuckDB; the package is committed with the tables' state);
7. count     raw's live rows per table;
8. summary   one ``TableResult`` per table from the source's ``TableStats``; rejected rows
             to ``ops.rejected_rows``;
9. verify    the tables the source could not load, and the reconciliation of counts.

dlt's working directory (``DLT_DATA_DIR``) must persist between runs.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loaders.errors import UserError
from loaders.extracts import ExtractRequest, TableReports
from loaders.load import testhooks
from loaders.load.config import duckdb_config, pipelines_dir
from loaders.load.errors import LoadFailed, user_error
from loaders.load.merge_memory import load_package
from loaders.load.raw import PipelineRaw, quote
from loaders.load.reconciliation import failure, load_checks
from loaders.load.redact import install_log_redaction
from loaders.load.results import SourceResult, TableResult
from loaders.load.sources import SourceKind
from loaders.ops.current_run import current_run_id
from loaders.ops.schema import SCHEMA as OPS_SCHEMA
from loaders.ops.schema import ensure_schema
from loaders.progress import Progress
from loaders.table_stats import RejectedRow, TableStats

if TYPE_CHECKING:  # dlt and duckdb are imported when a run starts, not for --help
    import duckdb
    from dlt import Pipeline
    from dlt.common.pipeline import LoadInfo

log = logging.getLogger(__name__)


def open_warehouse(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """One DuckDB connection for the whole run: dlt borrows cursors of it instead of opening and
    checkpointing the file at every step (that cost ~0.5 s per run); closed by the caller."""
    import duckdb

    return duckdb.connect(str(warehouse), config=duckdb_config())


def make_pipeline(kind: SourceKind, warehouse: Path | duckdb.DuckDBPyConnection) -> Pipeline:
    """The source's dlt pipeline into ``warehouse`` (a path, or an open DuckDB connection)."""
    import dlt
    from dlt.destinations import duckdb as duckdb_destination
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    from loaders.load.dlt_tuning import tune_parquet_writer
    from loaders.malloc_tuning import use_system_memory_pool

    use_system_memory_pool()  # before the source's first buffer: see loaders/malloc_tuning.py
    tune_parquet_writer()
    if isinstance(warehouse, Path):
        credentials = DuckDbCredentials(str(warehouse), global_config=duckdb_config())
    else:
        credentials = DuckDbCredentials(warehouse)
    pipeline = dlt.pipeline(
        pipeline_name=kind.pipeline_name,
        pipelines_dir=str(pipelines_dir()),
        destination=duckdb_destination(credentials=credentials),
        dataset_name=kind.dataset_name,
    )
    install_log_redaction()
    return pipeline


def quarantine(connection: duckdb.DuckDBPyConnection, source: str, rows: list[RejectedRow]) -> None:
    """Append the rows a source could not load to ``ops.rejected_rows`` (key, column, reason)."""
    ensure_schema(connection)
    now = datetime.now(UTC)
    connection.executemany(
        f"INSERT INTO {OPS_SCHEMA}.rejected_rows (run_id, rejected_at, source, table_name, row_key, column_name, "
        "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[current_run_id(), now, source, r.table, r.key, r.column, r.reason] for r in rows],
    )


def delete_completed_packages(pipeline: Pipeline) -> int:
    """Delete the load packages dlt keeps after loading them (copies of the rows, personal data
    included); what an interrupted run needs (extracted, normalized packages) is never touched."""
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    deleted = 0
    for load_id in pipeline.list_completed_load_packages():
        package = loaded / load_id
        if package.is_dir():
            shutil.rmtree(package)
            deleted += 1
    return deleted


def _package_tables(pipeline: Pipeline, load_id: str) -> set[str]:
    info = pipeline.get_load_package_info(load_id)
    tables: set[str] = set()
    for jobs in info.jobs.values():
        for job in jobs:
            name = job.job_file_info.table_name
            if not name.startswith("_dlt"):
                tables.add(name)
    return tables


def finish_pending(
    pipeline: Pipeline,
    progress: Progress,
    discard: bool = False,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> tuple[int, set[str]]:
    """Normalize and load the packages an interrupted run left; (packages, their tables).

    With ``discard`` they are deleted instead: the state sync then restores the cursors of
    the last completed load from the warehouse, so their rows are read again.
    """
    extracted = list(pipeline.list_extracted_load_packages())
    normalized = list(pipeline.list_normalized_load_packages())
    if not extracted and not normalized:
        return 0, set()
    tables: set[str] = set()
    for load_id in extracted + normalized:
        tables |= _package_tables(pipeline, load_id)
    if discard:
        progress.step(
            f"discarding {len(extracted) + len(normalized)} pending load package(s) (--discard-pending); "
            f"reloading in full: {', '.join(sorted(tables)) or 'nothing'}"
        )
        try:
            pipeline.abort_packages()
        except Exception as exc:
            if "abort" not in f"{type(exc).__name__} {exc}".lower():
                raise
        return 0, tables
    progress.step(
        f"finishing {len(extracted) + len(normalized)} load package(s) of an interrupted run "
        f"({', '.join(sorted(tables)) or 'state only'})"
    )
    if extracted:
        pipeline.normalize()
    load_package(pipeline, connection, progress, _configured_memory_limit())
    return len(extracted) + len(normalized), tables


def _configured_memory_limit() -> str:
    return str(duckdb_config()["memory_limit"])


def _remote_state_version(pipeline: Pipeline, raw: PipelineRaw) -> int | None:
    if "_dlt_pipeline_state" not in raw.raw_tables() or "_dlt_loads" not in raw.raw_tables():
        return None
    ds = quote(raw.dataset)
    row = (
        raw._connection()
        .execute(
            f"SELECT max(s.version) FROM {ds}._dlt_pipeline_state s JOIN {ds}._dlt_loads l "
            f"ON l.load_id = s._dlt_load_id WHERE s.pipeline_name = ? AND l.status = 0",
            [pipeline.pipeline_name],
        )
        .fetchone()
    )
    return None if row is None or row[0] is None else int(row[0])


def reconcile_state(
    pipeline: Pipeline, progress: Progress, warehouse: duckdb.DuckDBPyConnection | None = None
) -> Pipeline:
    """Make the local state that of the warehouse; returns the (possibly re-created) pipeline."""
    pipeline.sync_destination()
    local = int(pipeline.state.get("_state_version", 0))
    with PipelineRaw(pipeline, "", warehouse) as raw:
        remote = _remote_state_version(pipeline, raw)
    if local > (remote or 0) and pipeline.state.get("sources"):
        progress.step(
            f"the local state (v{local}) is ahead of the warehouse (v{remote or 0}): "
            "restoring it from the warehouse (tables without state are reloaded in full)"
        )
        pipeline = pipeline.drop()
        pipeline.sync_destination()
    return pipeline


def _repair(raw: PipelineRaw, tables: set[str], progress: Progress) -> int:
    removed = 0
    existing = raw.raw_tables()
    for table in sorted(tables & existing):
        key = raw.primary_key(table)
        if key and raw.duplicate_keys(table, key):
            n = raw.remove_duplicate_keys(table, key)
            progress.step(f"{table}: removed {n:,} duplicate row(s) left by the interrupted run")
            removed += n
    return removed


def _load_seconds(load_info: LoadInfo | None) -> dict[str, float]:
    """Per table, the time from its first load job's start to its last one's end (jobs run in parallel)."""
    spans: dict[str, list[datetime]] = {}
    if load_info is None:
        return {}
    try:
        for metrics in load_info.metrics.values():
            for step in metrics:
                for job in step.get("job_metrics", {}).values():
                    if job.finished_at and job.started_at:
                        span = spans.setdefault(job.table_name, [job.started_at, job.finished_at])
                        span[0] = min(span[0], job.started_at)
                        span[1] = max(span[1], job.finished_at)
    except (AttributeError, TypeError):  # metrics are informative only
        log.debug("no load job metrics", exc_info=True)
    return {table: (end - start).total_seconds() for table, (start, end) in spans.items()}


def _detail(error: Exception) -> str:
    text = str(error)
    start = text.find("(")
    end = text.find("):", start)
    return text[start + 1 : end] if start >= 0 and end > start else text


def _table_result(
    kind: SourceKind, stats: TableStats, rows_in_raw: int | None, load_seconds: float
) -> TableResult:
    """One table's result, from the report its source filled while extracting it."""
    return TableResult(
        kind.key,
        stats.table,
        stats.mode,
        stats.rows_extracted,
        rows_in_raw,
        stats.seconds + load_seconds,
        source_rows=stats.source_rows,
        in_flight_rows=stats.in_flight_rows,
        deleted_rows=stats.deleted_rows,
        rejected_rows=len(stats.rejected),
        bytes_extracted=stats.bytes_extracted,
        cursor_before=stats.cursor_before,
        cursor_after=stats.cursor_after,
        lost_rows=stats.lost_rows,
        late_rows=stats.late_rows,
        future_rows=stats.future_rows,
    )


def _release_memory() -> None:
    """Give the Arrow buffers of the extract back to the system before DuckDB needs memory."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:
        log.debug("could not release Arrow memory", exc_info=True)


def rows_reporter(progress: Progress) -> Callable[[str, int], None]:
    """The sources' per-batch callback: progress, and the crash tests' "extract" pause after the first batch."""
    first_rows: list[bool] = []

    def on_rows(table: str, rows: int) -> None:
        progress.rows(table, rows)
        if not first_rows:
            first_rows.append(True)
            testhooks.pause("extract")

    return on_rows


@dataclass
class SourceRun:
    """One run of one source: what its phases hand each other."""

    kind: SourceKind
    tables: list[str]
    full_refresh: bool
    warehouse: Path
    progress: Progress
    discard_pending: bool
    deep: bool
    result: SourceResult
    connection: duckdb.DuckDBPyConnection | None = None  # the warehouse's, closed by run_source
    pipeline_or_none: Pipeline | None = None  # set by the start phase
    resume_started: float = 0.0
    resumed_tables: set[str] = field(default_factory=set)
    full_tables: frozenset[str] = frozenset()  # reloaded in full whatever their state
    reports: TableReports = field(default_factory=TableReports)
    load_info: LoadInfo | None = None
    rows_in_raw: dict[str, int | None] = field(default_factory=dict)

    @property
    def pipeline(self) -> Pipeline:
        """The run's dlt pipeline; the phases after start use it."""
        if self.pipeline_or_none is None:
            raise RuntimeError("the start phase has not opened the pipeline")
        return self.pipeline_or_none

    @pipeline.setter
    def pipeline(self, pipeline: Pipeline) -> None:
        self.pipeline_or_none = pipeline


def _start(run: SourceRun) -> None:
    testhooks.install()
    run.connection = open_warehouse(run.warehouse)
    run.pipeline = make_pipeline(run.kind, run.connection)


def _resume(run: SourceRun) -> None:
    run.resume_started = time.monotonic()
    run.result.resumed_packages, run.resumed_tables = finish_pending(
        run.pipeline, run.progress, run.discard_pending, run.connection
    )
    if run.full_refresh:
        run.full_tables = frozenset(run.tables)
    elif run.discard_pending:  # tables of discarded packages may be half loaded (a replace truncates first)
        run.full_tables = frozenset(set(run.tables) & run.resumed_tables)


def _sync(run: SourceRun) -> None:
    run.pipeline = reconcile_state(run.pipeline, run.progress, run.connection)
    if run.resumed_tables and not run.discard_pending:
        with PipelineRaw(run.pipeline, run.kind.schema_name, run.connection) as raw:
            run.result.repaired_rows = _repair(raw, run.resumed_tables, run.progress)
    if run.result.resumed_packages:
        run.result.phases["resume"] = time.monotonic() - run.resume_started


def _extract(run: SourceRun) -> None:
    run.progress.step(f"extract: {', '.join(run.tables)}")
    run.reports = TableReports(on_rows=rows_reporter(run.progress))
    with PipelineRaw(run.pipeline, run.kind.schema_name, run.connection) as raw:
        request = ExtractRequest(raw, run.tables, run.full_tables, run.progress, run.reports, run.deep)
        with run.kind.open_extracts(request) as extracts:
            for extract in extracts:
                run.pipeline.extract(extract.source, refresh=extract.refresh, loader_file_format="parquet")
    _release_memory()


def _normalize(run: SourceRun) -> None:
    run.progress.step("normalize")
    run.pipeline.normalize()


def _load(run: SourceRun) -> None:
    run.progress.step(f"load into {run.warehouse.name} schema {run.kind.dataset_name}")
    run.load_info = load_package(run.pipeline, run.connection, run.progress, _configured_memory_limit())
    delete_completed_packages(run.pipeline)


def _count(run: SourceRun) -> None:
    with PipelineRaw(run.pipeline, run.kind.schema_name, run.connection) as raw:
        run.rows_in_raw = raw.count_rows(run.tables)


def _summarize(run: SourceRun) -> None:
    load_seconds = _load_seconds(run.load_info)
    reports, kind = run.reports, run.kind
    for table in run.tables:
        stats = reports.stats.get(table)
        if table in reports.failures or stats is None or not stats.done:
            if table not in reports.failures:  # a source that does not report a table is a bug: say so
                reports.fail(
                    table, LoadFailed(f"{kind.pipeline_name}: the source did not report table {table}")
                )
            run.result.tables.append(
                TableResult(kind.key, table, "failed", 0, run.rows_in_raw.get(table), 0.0)
            )
            continue
        run.result.tables.append(
            _table_result(kind, stats, run.rows_in_raw.get(table), load_seconds.get(table, 0.0))
        )
    rejected = [row for stats in reports.stats.values() for row in stats.rejected]
    if rejected:
        if run.connection is None:
            raise RuntimeError("the start phase has not opened the warehouse")
        quarantine(run.connection, kind.key, rejected)


def _verify(run: SourceRun) -> None:
    failures = list(run.reports.failures.values())
    if failures:
        run.result.error = (
            failures[0] if len(failures) == 1 else UserError("; ".join(str(e) for e in failures))
        )
    else:
        run.result.error = failure(load_checks(run.result.tables))


PHASES: tuple[tuple[str, Callable[[SourceRun], None]], ...] = (
    ("start", _start),
    ("resume", _resume),
    ("sync", _sync),
    ("extract", _extract),
    ("normalize", _normalize),
    ("load", _load),
    ("count", _count),
    ("summary", _summarize),
    ("verify", _verify),
)
TIMED_PHASES = frozenset({"extract", "normalize", "load"})  # shown in the summary and ops.runs


def _phase_error(run: SourceRun, phase: str, exc: Exception) -> UserError:
    error = user_error(exc, phase, run.kind.pipeline_name, str(run.warehouse))
    if phase == "resume" and isinstance(error, LoadFailed):
        return LoadFailed(
            f"{run.kind.pipeline_name}: finishing the interrupted load failed ({_detail(error)}): "
            "rerun to retry; if it keeps failing, drop it with `loaders load --discard-pending` "
            "(its rows are read again from the source)"
        )
    return error


def run_source(
    kind: SourceKind,
    tables: list[str],
    full_refresh: bool,
    warehouse: Path,
    progress: Progress,
    discard_pending: bool = False,
    deep: bool = False,
) -> SourceResult:
    """Load ``tables`` of one source into its raw schema; errors come back as one-line UserErrors."""
    run = SourceRun(
        kind,
        tables,
        full_refresh,
        warehouse,
        progress,
        discard_pending,
        deep,
        SourceResult(kind.key, kind.pipeline_name),
    )
    try:
        for phase, step in PHASES:
            started = time.monotonic()
            try:
                step(run)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                log.debug("%s failed at %s", kind.pipeline_name, phase, exc_info=True)
                run.result.error = _phase_error(run, phase, exc)
                break
            if phase in TIMED_PHASES:
                run.result.phases[phase] = time.monotonic() - started
    finally:
        if run.connection is not None:
            try:
                run.connection.close()  # checkpoints the warehouse once
            except Exception:
                log.debug("closing the warehouse failed", exc_info=True)
    return run.result
