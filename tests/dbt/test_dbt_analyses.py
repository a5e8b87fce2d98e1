"""(b) The two analyses of marts.md, run unchanged against gold, give the answers computed
independently in Python from the raw rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from dbt_expected import (
    check_top_n,
    notif_success_by_day,
    same_notif_day,
    same_spender,
    top_spenders,
)
from dbt_raw_fixture import read_raw
from dbt_runner import REPO, BuiltWarehouse

ANALYSES = REPO / "analyses"


def run_analysis(warehouse: Path, name: str) -> list[dict[str, Any]]:
    sql = (ANALYSES / f"{name}.sql").read_text(encoding="utf-8")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=False)) for row in cursor.fetchall()]
    finally:
        con.close()


def test_notif_success_rate_top_days(built_warehouse: BuiltWarehouse) -> None:
    assert built_warehouse.build.returncode == 0
    actual = run_analysis(built_warehouse.path, "notif_success_rate_top_days")
    expected = notif_success_by_day(built_warehouse.raw)
    assert len(expected) > 10
    problems = check_top_n(actual, expected, "notif_date", "success_rate", 10, same_notif_day)
    assert not problems, problems


def test_top_spenders(built_warehouse: BuiltWarehouse) -> None:
    assert built_warehouse.build.returncode == 0
    actual = run_analysis(built_warehouse.path, "top_spenders")
    expected = top_spenders(built_warehouse.raw)
    assert len(expected) > 20
    problems = check_top_n(actual, expected, "user_id", "total_spent", 20, same_spender)
    assert not problems, problems


def test_expected_answers_from_rows_read_back(built_warehouse: BuiltWarehouse) -> None:
    """The raw rows read back from the warehouse give the same answers as the fixture's
    rows (so an end-to-end test can compute its expectations from a real warehouse)."""
    read_back = read_raw(built_warehouse.path)
    assert notif_success_by_day(read_back) == notif_success_by_day(built_warehouse.raw)
    assert top_spenders(read_back) == top_spenders(built_warehouse.raw)
