"""Run one source's dlt pipeline, crash-safe: finish what an interrupted run left, then load.

Steps of ``run_source`` (the warehouse lock is held by the caller):

1. resume  a package left extracted or normalized by a killed run is
           normalized and loaded first (dlt keeps which jobs were done); if a
           job may have been applied twice (killed between DuckDB's commit and
           dlt's bookkeeping), the keys of its tables are de-duplicated.
2. sync    the local pipeline state must describe this warehouse: dlt adopts
           a newer state from the warehouse (or forgets a local one whose
           dataset is gone); a local state ahead of the warehouse (warehouse
           restored or replaced) is dropped and restored from the warehouse.
3. extract the source's tables (a consistent snapshot; see the sources),
4. normalize and load (parquet files, DuckDB).

dlt's working directory (``DLT_DATA_DIR``) must persist between runs.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loaders.errors import UserError
from loaders.load import testhooks
from loaders.load.config import duckdb_config, pipelines_dir
from loaders.load.errors import user_error
from loaders.load.raw import PipelineRaw, quote
from loaders.load.reconciliation import failure, load_checks
from loaders.load.redact import install_log_redaction
from loaders.load.results import SourceResult, TableFailure, TableResult
from loaders.ops.current_run import current_run_id
from loaders.ops.schema import SCHEMA as OPS_SCHEMA
from loaders.ops.schema import ensure_schema
from loaders.progress import Progress
from loaders.table_stats import RejectedRow, TableStats

log = logging.getLogger(__name__)


@dataclass
class Extract:
    """One dlt extract of a run: the source and whether its tables are dropped and recreated first."""

    source: Any
    refresh: str | None = None


# (pipeline, raw view, selected tables, tables to reload in full, stats by table, progress, deep check) -> extracts
Opener = Callable[
    [Any, PipelineRaw, list[str], set[str], dict[str, Any], Progress, bool],
    AbstractContextManager[list[Extract]],
]


@dataclass(frozen=True)
class SourceKind:
    key: str  # postgres | cassandra
    pipeline_name: str
    dataset_name: str
    schema_name: str  # dlt source (schema) name
    tables: Callable[[], tuple[str, ...]]
    open: Opener


def open_warehouse(warehouse: Path) -> Any:
    """One DuckDB connection for the whole run: dlt borrows cursors of it instead of opening and
    checkpointing the file at every step (that cost ~0.5 s per run); closed by the caller."""
    import duckdb

    return duckdb.connect(str(warehouse), config=duckdb_config())


def make_pipeline(kind: SourceKind, warehouse: Any) -> Any:
    """The source's dlt pipeline into ``warehouse`` (a path, or an open DuckDB connection)."""
    import dlt
    from dlt.destinations import duckdb as duckdb_destination
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    from loaders.load.dlt_tuning import tune_parquet_writer

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


def quarantine(connection: Any, source: str, rows: list[RejectedRow]) -> None:
    """Append the rows a source could not load to ``ops.rejected_rows`` (key, column, reason)."""
    ensure_schema(connection)
    now = datetime.now(UTC)
    connection.executemany(
        f"INSERT INTO {OPS_SCHEMA}.rejected_rows (run_id, rejected_at, source, table_name, row_key, column_name, "
        "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[current_run_id(), now, source, r.table, r.key, r.column, r.reason] for r in rows],
    )


def delete_completed_packages(pipeline: Any) -> int:
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


def _package_tables(pipeline: Any, load_id: str) -> set[str]:
    info = pipeline.get_load_package_info(load_id)
    tables: set[str] = set()
    for jobs in info.jobs.values():
        for job in jobs:
            name = job.job_file_info.table_name
            if not name.startswith("_dlt"):
                tables.add(name)
    return tables


def finish_pending(pipeline: Any, progress: Progress, discard: bool = False) -> tuple[int, set[str]]:
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
    pipeline.load()
    return len(extracted) + len(normalized), tables


def _remote_state_version(pipeline: Any, raw: PipelineRaw) -> int | None:
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


def reconcile_state(pipeline: Any, progress: Progress) -> Any:
    """Make the local state that of the warehouse; returns the (possibly re-created) pipeline."""
    pipeline.sync_destination()
    local = int(pipeline.state.get("_state_version", 0))
    with PipelineRaw(pipeline, "") as raw:
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


def _load_seconds(load_info: Any) -> dict[str, float]:
    """Per table, the time from its first load job's start to its last one's end (jobs run in parallel)."""
    spans: dict[str, list[Any]] = {}
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


def _extract_metrics(extract_info: Any) -> dict[str, tuple[int, float]]:
    """rows and seconds per table from dlt's extract metrics (sources that track nothing themselves)."""
    out: dict[str, tuple[int, float]] = {}
    try:
        for metrics in extract_info.metrics.values():
            for step in metrics:
                spans: dict[str, list[float]] = {}
                for job_id, m in step.get("job_metrics", {}).items():
                    table = job_id.split(".")[0]
                    spans.setdefault(table, []).extend([m.created, m.last_modified])
                for table, m in step.get("table_metrics", {}).items():
                    span = spans.get(table, [0.0, 0.0])
                    rows, secs = out.get(table, (0, 0.0))
                    out[table] = (rows + m.items_count, secs + max(span) - min(span))
    except (AttributeError, TypeError):
        log.debug("no extract metrics", exc_info=True)
    return out


def _detail(error: Exception) -> str:
    text = str(error)
    start = text.find("(")
    end = text.find("):", start)
    return text[start + 1 : end] if start >= 0 and end > start else text


def _mode_from_schema(pipeline: Any, schema_name: str, table: str) -> str:
    """full (replace) or incremental (merge, append), from the table's write disposition."""
    try:
        disposition = pipeline.schemas[schema_name].get_table(table).get("write_disposition")
    except (KeyError, AttributeError):
        return ""
    return {"replace": "full", "merge": "incremental", "append": "incremental"}.get(str(disposition), "")


def _table_result(
    kind: SourceKind,
    pipeline: Any,
    table: str,
    stat: TableStats | None,
    generic: dict[str, tuple[int, float]],
    rows_in_raw: int | None,
    load_seconds: float,
) -> TableResult:
    """One table's result: the source's own report when it ran to its end, else dlt's metrics."""
    rows, secs = generic.get(table, (0, 0.0))
    if stat is None or not stat.done:
        mode = (stat.mode if stat else "") or _mode_from_schema(pipeline, kind.schema_name, table)
        return TableResult(kind.key, table, mode, rows, rows_in_raw, secs + load_seconds)
    return TableResult(
        kind.key,
        table,
        stat.mode or _mode_from_schema(pipeline, kind.schema_name, table),
        stat.rows_extracted,
        rows_in_raw,
        stat.seconds + load_seconds,
        source_rows=stat.source_rows,
        in_flight_rows=stat.in_flight_rows,
        deleted_rows=stat.deleted_rows,
        rejected_rows=len(stat.rejected),
        bytes_extracted=stat.bytes_extracted,
        cursor_before=stat.cursor_before,
        cursor_after=stat.cursor_after,
        lost_rows=stat.lost_rows,
        late_rows=stat.late_rows,
        future_rows=stat.future_rows,
    )


def _release_memory() -> None:
    """Give the Arrow buffers of the extract back to the system before DuckDB needs memory."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:
        log.debug("could not release Arrow memory", exc_info=True)


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
    result = SourceResult(kind.key, kind.pipeline_name)
    step = "start"
    connection = None
    try:
        testhooks.install()
        connection = open_warehouse(warehouse)
        pipeline = make_pipeline(kind, connection)
        step = "resume"
        t = time.monotonic()
        result.resumed_packages, resumed_tables = finish_pending(pipeline, progress, discard_pending)
        # tables of discarded packages may be half loaded (a replace truncates first): reload them
        full_tables = (
            set(tables) if full_refresh else (set(tables) & resumed_tables if discard_pending else set())
        )
        step = "sync"
        pipeline = reconcile_state(pipeline, progress)
        if resumed_tables and not discard_pending:
            with PipelineRaw(pipeline, kind.schema_name) as raw:
                result.repaired_rows = _repair(raw, resumed_tables, progress)
        if result.resumed_packages:
            result.phases["resume"] = time.monotonic() - t

        step = "extract"
        t = time.monotonic()
        stats: dict[str, TableStats | TableFailure] = {}
        extract_infos = []
        progress.step(f"extract: {', '.join(tables)}")
        with (
            PipelineRaw(pipeline, kind.schema_name) as raw,
            kind.open(pipeline, raw, tables, full_tables, stats, progress, deep) as extracts,
        ):
            for extract in extracts:
                extract_infos.append(
                    pipeline.extract(extract.source, refresh=extract.refresh, loader_file_format="parquet")
                )
        result.phases["extract"] = time.monotonic() - t
        _release_memory()

        step = "normalize"
        t = time.monotonic()
        progress.step("normalize")
        pipeline.normalize()
        result.phases["normalize"] = time.monotonic() - t

        step = "load"
        t = time.monotonic()
        progress.step(f"load into {warehouse.name} schema {kind.dataset_name}")
        load_info = pipeline.load()
        result.phases["load"] = time.monotonic() - t
        delete_completed_packages(pipeline)

        step = "count"
        load_seconds = _load_seconds(load_info)
        generic: dict[str, tuple[int, float]] = {}
        for info in extract_infos:
            for table, (rows, secs) in _extract_metrics(info).items():
                prev = generic.get(table, (0, 0.0))
                generic[table] = (prev[0] + rows, prev[1] + secs)
        with PipelineRaw(pipeline, kind.schema_name) as raw:
            counts = raw.count_rows(tables)
        failures = [stat.error for stat in stats.values() if isinstance(stat, TableFailure)]
        if failures:
            result.error = (
                failures[0] if len(failures) == 1 else UserError("; ".join(str(e) for e in failures))
            )
        for table in tables:
            stat = stats.get(table)
            if isinstance(stat, TableFailure):
                result.tables.append(TableResult(kind.key, table, "failed", 0, counts.get(table), 0.0))
                continue
            result.tables.append(
                _table_result(
                    kind, pipeline, table, stat, generic, counts.get(table), load_seconds.get(table, 0.0)
                )
            )
        rejected = [row for stat in stats.values() if isinstance(stat, TableStats) for row in stat.rejected]
        if rejected:
            quarantine(connection, kind.key, rejected)
        if result.error is None:
            result.error = failure(load_checks(result.tables))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        log.debug("%s failed at %s", kind.pipeline_name, step, exc_info=True)
        result.error = user_error(exc, step, kind.pipeline_name, str(warehouse))
        if step == "resume" and type(result.error).__name__ == "LoadFailed":
            result.error = type(result.error)(
                f"{kind.pipeline_name}: finishing the interrupted load failed ({_detail(result.error)}): "
                "rerun to retry; if it keeps failing, drop it with `loaders load --discard-pending` "
                "(its rows are read again from the source)"
            )
    finally:
        if connection is not None:
            try:
                connection.close()  # checkpoints the warehouse once
            except Exception:
                log.debug("closing the warehouse failed", exc_info=True)
    return result
