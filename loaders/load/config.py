"""The loaders' settings (environment, with defaults) and dlt's configuration.

Environment variables (all optional):
  DLT_DATA_DIR                  dlt's working dir; pipelines live in DLT_DATA_DIR/pipelines
                                (default .dlt-work/ in the project). It must persist between
                                runs: it holds the state of interrupted loads.
  LOADERS_DUCKDB_MEMORY_LIMIT   DuckDB's memory limit while loading (default 128MB)
  LOADERS_DUCKDB_THREADS        DuckDB's threads while loading (default: the number of CPUs)

The sources read their own settings (``loaders.postgres.extracts``, ``loaders.cassandra.extracts``;
LOADERS_CURSOR_LAG_SECONDS, shared by both, in ``loaders.settings.cursor_lag``).

dlt reads its own settings from the environment too (``SECTION__KEY``); the
defaults below are set only when the variable is unset, so any can be overridden.
"""

from __future__ import annotations

import os
from pathlib import Path

from loaders.duckdb_memory import load_memory_limit
from loaders.settings import PROJECT_DIR, cpu_count, setting, whole_number

# dlt settings the loaders rely on; each can still be overridden from the environment.
DLT_DEFAULTS: dict[str, str] = {
    # never phone home (only 127.0.0.1 and the package registries are reachable anyway)
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    # raw tables carry _dlt_load_id (added at extract, a dictionary column: free)
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    # _dlt_id is made by the sources (dlt's own would rewrite every parquet file in normalize)
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "false",
    # local intermediate files: compressing them costs more CPU than the disk it saves
    "DATA_WRITER__COMPRESSION": "none",
    "NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION": "true",
    # bounded files: one load job per file, so DuckDB's insert works on bounded input
    "DATA_WRITER__FILE_MAX_ITEMS": "2000000",
    "DATA_WRITER__BUFFER_MAX_ITEMS": "5000",
    # one table at a time: bounded memory, and one COPY per connection
    "EXTRACT__NEXT_ITEM_MODE": "fifo",
    # one load job at a time: DuckDB parallelises each insert itself (its `threads`), and jobs run
    # side by side share one memory_limit: the scale-10 full load (20 M user_events in 10 files)
    # failed with 45 Out of Memory errors of 128MB among dlt's 20 parallel load threads
    "LOAD__WORKERS": "1",
    # Arrow files are imported as is: no worker processes needed
    "NORMALIZE__WORKERS": "1",
    # not "true": dlt 1.31 then creates the staging schema without its version table, and a later
    # drop of tables (full refresh) fails on it; the staging tables only hold the last increment
    "LOAD__TRUNCATE_STAGING_DATASET": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
    # a loaded job's file is a copy of its rows: deleted once loaded (the runner then deletes the package)
    "LOAD__DELETE_COMPLETED_JOBS": "true",
}


def apply_dlt_defaults(verbose: bool = False) -> None:
    os.environ.setdefault("DLT_DATA_DIR", str(dlt_data_dir()))
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if verbose:
        os.environ["RUNTIME__LOG_LEVEL"] = "INFO"


def dlt_data_dir() -> Path:
    return Path(setting("DLT_DATA_DIR", str(PROJECT_DIR / ".dlt-work")) or str(PROJECT_DIR / ".dlt-work"))


def pipelines_dir() -> Path:
    return dlt_data_dir() / "pipelines"


def duckdb_config() -> dict[str, str | bool | int | float | list[str]]:
    return {
        # raw rows have no order; keeping the insertion order doubles the insert time and the file
        "preserve_insertion_order": False,
        "memory_limit": load_memory_limit(),
        "threads": whole_number("LOADERS_DUCKDB_THREADS", cpu_count(), minimum=1),
    }
