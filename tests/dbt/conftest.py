"""Fixtures of the dbt project's tests: one warehouse built from the raw fixture per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dbt_raw_fixture import build_raw_dataset, write_raw
from dbt_runner import BuiltWarehouse, run_dbt


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    """The raw fixture written to a fresh DuckDB file, then `dbt build` (seeds, models, tests)."""
    work_dir = tmp_path_factory.mktemp("dbt_build")
    warehouse = work_dir / "warehouse.duckdb"
    raw = build_raw_dataset()
    write_raw(warehouse, raw)
    build = run_dbt(["build"], warehouse, work_dir)
    yield BuiltWarehouse(warehouse, raw, build, work_dir)
