"""The `same_keys_as` data test (macros/tests/same_keys_as.sql): the grain "one row per parent key".

On a built warehouse, gold_notif_impact_per_day is broken in each way the test exists for: a
notification's row deleted, a row duplicated, a row of a key the parent does not have. Each
must fail the test, and the compiled query (the exact difference, compiled only when the
fingerprints differ) must name the key with both counts. Untouched, the test passes and
compiles to the query of no rows: a passing check builds no hash table of the keys.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_runner import BuiltWarehouse, DbtResult, run_dbt

TEST_SELECTOR = "gold_notif_impact_per_day,test_name:same_keys_as"
MART = "gold.gold_notif_impact_per_day"


def _run_test(warehouse: Path, work: Path) -> tuple[DbtResult, str]:
    result = run_dbt(["test", "--select", TEST_SELECTOR], warehouse, work)
    compiled = list((work / "target" / "compiled").rglob("same_keys_as_gold_notif_impact*.sql"))
    assert len(compiled) == 1, (compiled, result.output[-3000:])
    return result, compiled[0].read_text(encoding="utf-8")


def _differences(warehouse: Path, compiled_sql: str) -> list[tuple[object, int, int]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [(key, int(m), int(p)) for key, m, p in con.execute(compiled_sql).fetchall()]


def _some_notification_id(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(f"select min(notification_id) from {MART}").fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def test_untouched_mart_passes_without_the_exact_query(built_warehouse: BuiltWarehouse, tmp_path) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    result, compiled = _run_test(warehouse, tmp_path / "dbt")
    assert result.returncode == 0, result.output[-3000:]
    assert list(result.statuses().values()) == ["pass"], result.statuses()
    assert "where false" in compiled and "group by" not in compiled, compiled


@pytest.mark.parametrize(
    ("breakage", "expected_counts"),
    [
        pytest.param("delete from {mart} where notification_id = {key}", (0, 1), id="row-missing"),
        pytest.param(
            "insert into {mart} select * from {mart} where notification_id = {key}", (2, 1), id="row-twice"
        ),
        pytest.param(
            "update {mart} set notification_id = -{key} where notification_id = {key}",
            None,
            id="unknown-key",
        ),
    ],
)
def test_broken_grain_fails_and_names_the_key(
    built_warehouse: BuiltWarehouse,
    tmp_path,
    breakage: str,
    expected_counts: tuple[int, int] | None,
) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    key = _some_notification_id(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(breakage.format(mart=MART, key=key))

    result, compiled = _run_test(warehouse, tmp_path / "dbt")

    assert result.returncode != 0, result.output[-3000:]
    assert list(result.statuses().values()) == ["fail"], result.statuses()
    differences = _differences(warehouse, compiled)
    if expected_counts is None:  # the key moved: its old value lacks a row, the new one has no parent
        assert sorted(differences) == sorted([(key, 0, 1), (-key, 1, 0)]), differences
    else:
        assert differences == [(key, *expected_counts)], differences
