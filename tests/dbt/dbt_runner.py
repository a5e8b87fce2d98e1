"""Run the dbt project (and sqlfluff) in a subprocess against a given DuckDB warehouse.

Each call gets its own target and log directories, so parallel test runs do not clash, and
runs with a non-UTC TZ so that any time-zone dependence of the models shows up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# UTC+14: a timestamp's local date differs from its UTC date for 14 hours of each day.
TEST_TZ = "Pacific/Kiritimati"


@dataclass
class DbtResult:
    returncode: int
    output: str
    run_results: dict[str, Any]  # run_results.json, or sources.json for source freshness

    def statuses(self) -> dict[str, str]:
        """unique_id -> status (success, pass, warn, error, fail, skipped)."""
        return {r["unique_id"]: r["status"] for r in self.run_results.get("results", [])}

    def by_status(self, *statuses: str) -> list[str]:
        return sorted(uid for uid, status in self.statuses().items() if status in statuses)


def dbt_env(warehouse: Path, work_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WAREHOUSE_PATH=str(warehouse),
        DBT_TARGET_PATH=str(work_dir / "target"),
        DBT_LOG_PATH=str(work_dir / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_TARGET="ci",
        TZ=TEST_TZ,
    )
    return env


def run_dbt(
    args: list[str],
    warehouse: Path,
    work_dir: Path,
    timeout: int = 540,
    extra_env: dict[str, str] | None = None,
    project_dir: Path = REPO,
) -> DbtResult:
    """`dbt <args>` on the project; returns its exit code, output and run_results.json."""
    work_dir.mkdir(parents=True, exist_ok=True)
    # `dbt source freshness` writes sources.json instead of run_results.json.
    results_files = [work_dir / "target" / name for name in ("run_results.json", "sources.json")]
    for results_file in results_files:
        results_file.unlink(missing_ok=True)
    cmd = [
        str(BIN / "dbt"),
        *args,
        "--no-use-colors",
        "--profiles-dir",
        str(REPO),
        "--project-dir",
        str(project_dir),
    ]
    proc = subprocess.run(
        cmd,
        cwd=work_dir,
        env={**dbt_env(warehouse, work_dir), **(extra_env or {})},
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    run_results: dict[str, Any] = {}
    for results_file in results_files:
        if results_file.exists():
            run_results = json.loads(results_file.read_text(encoding="utf-8"))
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, run_results)


@dataclass
class IncrementalAndFull:
    """One warehouse built incrementally and a copy of it (same raw data) rebuilt in full."""

    incremental: Path
    incremental_run: DbtResult
    full: Path
    full_run: DbtResult


def build_incremental_and_full(incremental: Path, work: Path, project_dir: Path = REPO) -> IncrementalAndFull:
    """`dbt build` on `incremental` and `dbt build --full-refresh` on a copy of it taken first:
    what the incremental models make of new raw rows, and what a full refresh makes of them."""
    full = work / "full.duckdb"
    shutil.copyfile(incremental, full)
    incremental_run = run_dbt(["build"], incremental, work / "inc", project_dir=project_dir)
    full_run = run_dbt(["build", "--full-refresh"], full, work / "full", project_dir=project_dir)
    return IncrementalAndFull(incremental, incremental_run, full, full_run)


def run_sqlfluff(args: list[str], work_dir: Path, timeout: int = 540) -> subprocess.CompletedProcess[str]:
    """`sqlfluff <args>` from the repository root (where .sqlfluff lives)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = dbt_env(work_dir / "unused.duckdb", work_dir)
    env.pop("DBT_TARGET")  # .sqlfluff picks the `lint` target
    return subprocess.run(
        [str(BIN / "sqlfluff"), *args],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class BuiltWarehouse:
    path: Path
    raw: dict[str, list[dict[str, Any]]]  # dbt_raw_fixture.RawData
    build: DbtResult
    work_dir: Path

    def copy_to(self, target: Path) -> Path:
        """A private copy of the built warehouse, for tests that change it."""
        shutil.copyfile(self.path, target)
        return target
