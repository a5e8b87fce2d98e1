"""Data tests scoped to the loads under test (OUTINGS_TEST_LOADS_AFTER).

The job sets the variable to the commit time of the newest load of the published (fully
tested) warehouse; staging tests then read only the rows of later loads. Here a built
warehouse receives the late loads of the incremental test and, after them, a load whose
payment has a status the contract does not know. The status test must fail when that
load is in scope (scoped or not), and only then; the reconciliation test, whose raw side
follows the scope, must pass in every scope.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from dbt_raw_fixture import LATE_COMMIT, late_rows, stable_uuid, write_raw
from dbt_runner import BuiltWarehouse, DbtResult, run_dbt

from loaders.job.command import TESTS_SCOPE_ENV as SCOPE_ENV

LOAD_BAD = "1759028400.500000"  # 2025-09-28 03:00 UTC
BAD_COMMIT = LATE_COMMIT + timedelta(hours=2)
STATUS_TEST = "test.outings.accepted_values_stg_postgres__payments_status"
RECONCILIATION_TEST = "test.outings.distinct_keys_match_source_stg_postgres__payments"


def _bad_payment(built: BuiltWarehouse) -> dict[str, list[dict]]:
    paid = dict(next(r for r in built.raw["raw_postgres.payments"] if r["status"] == "succeeded"))
    paid.update(
        id=stable_uuid("payment-chargeback"),
        status="chargeback",
        _dlt_load_id=LOAD_BAD,
        _dlt_id=stable_uuid("dlt-chargeback"),
    )
    return {"raw_postgres.payments": [paid]}


@pytest.fixture(scope="module")
def warehouse(built_warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert built_warehouse.build.returncode == 0, built_warehouse.build.output[-3000:]
    work = tmp_path_factory.mktemp("dbt_test_scope")
    path = built_warehouse.copy_to(work / "scoped.duckdb")
    write_raw(path, late_rows(built_warehouse.raw), committed_at=LATE_COMMIT)
    write_raw(path, _bad_payment(built_warehouse), committed_at=BAD_COMMIT)
    run = run_dbt(["run", "--select", "stg_postgres__payments"], path, work / "run")
    assert run.returncode == 0, run.output[-5000:]
    return path


def _test_payments(warehouse: Path, work: Path, after: str | None) -> DbtResult:
    env = {SCOPE_ENV: after} if after is not None else {}
    return run_dbt(["test", "--select", "stg_postgres__payments"], warehouse, work, extra_env=env)


def _status_of(result: DbtResult, prefix: str) -> str:
    matches = [status for uid, status in result.statuses().items() if uid.startswith(prefix)]
    assert len(matches) == 1, (prefix, result.statuses())
    return matches[0]


def test_a_bad_row_in_a_new_load_fails_the_scoped_test(warehouse: Path, tmp_path: Path) -> None:
    result = _test_payments(warehouse, tmp_path, (LATE_COMMIT - timedelta(minutes=1)).isoformat())
    assert result.returncode != 0
    assert _status_of(result, STATUS_TEST) == "fail"
    assert _status_of(result, RECONCILIATION_TEST) == "pass"
    compiled = [
        r.get("compiled_code") or ""
        for r in result.run_results["results"]
        if r["unique_id"].startswith(STATUS_TEST)
    ]
    assert "inserted_at > cast('2025-09-28T00:59:00+00:00' as timestamptz)" in compiled[0]


def test_rows_of_tested_loads_are_not_read_again(warehouse: Path, tmp_path: Path) -> None:
    result = _test_payments(warehouse, tmp_path, (BAD_COMMIT + timedelta(minutes=1)).isoformat())
    assert result.returncode == 0, result.output[-5000:]
    assert _status_of(result, STATUS_TEST) == "pass"
    assert _status_of(result, RECONCILIATION_TEST) == "pass"


def test_without_a_scope_every_row_is_tested(warehouse: Path, tmp_path: Path) -> None:
    result = _test_payments(warehouse, tmp_path, None)
    assert _status_of(result, STATUS_TEST) == "fail"
    assert _status_of(result, RECONCILIATION_TEST) == "pass"


def test_a_malformed_scope_is_refused_with_the_fix(warehouse: Path, tmp_path: Path) -> None:
    result = _test_payments(warehouse, tmp_path, "yesterday; drop table x")
    assert result.returncode != 0
    assert "OUTINGS_TEST_LOADS_AFTER must be an ISO timestamp" in result.output
