"""dbt run inside the job's process (loaders/job/dbt_runner.py), as `loaders run` runs it.

dbt-duckdb keeps its DuckDB database open in the process after an invocation: a connection of
the job to the same file joins that database, with the memory it holds. `release_dbt_database`
closes it before the publish. DuckDB refuses a second configuration for a file that is open in
the process, which tells whether dbt's database is still open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_runner import BuiltWarehouse, dbt_env

from loaders.job.dbt_runner import release_dbt_database, run_dbt


def _open_with_one_thread(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), config={"threads": 1}) as conn:
        row = conn.execute("select current_setting('threads')").fetchone()
    return str(row[0] if row else None)


def test_dbt_database_stays_open_after_dbt_until_released(
    built_warehouse: BuiltWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    for name, value in dbt_env(warehouse, tmp_path / "dbt").items():
        monkeypatch.setenv(name, value)
    built = run_dbt(["run", "--select", "stg_postgres__users", "--log-level", "none"])
    assert built.success and built.counts == {"model:success": 1}, built.failures

    with pytest.raises(duckdb.ConnectionException, match="different configuration"):
        _open_with_one_thread(warehouse)  # dbt's database, still open in this process
    release_dbt_database()
    assert _open_with_one_thread(warehouse) == "1"
    release_dbt_database()  # nothing open: nothing to do
