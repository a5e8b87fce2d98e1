"""The data tests that group keys by a 64-bit hash first and count only repeated hashes exactly.

`unique_combination_of_columns` (macros/tests/unique_combination_of_columns.sql): on a built
warehouse, a staged user event stored twice must still fail it, and the compiled query must return
that grain with its two rows; rows that share all but one grain column are no duplicate.
`distinct_keys_match_source` (macros/tests/distinct_keys_match_source.sql): a staged user event
lost fails it with both counts; the raw table's repeated keys (a later version, a tombstone) are
counted once (tests/dbt/test_dbt_incremental.py builds with them).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from dbt_runner import BuiltWarehouse, DbtResult, run_dbt

MODEL = "staging.stg_cassandra__user_events"
TEST_SELECTOR = "stg_cassandra__user_events,test_name:unique_combination_of_columns"
RECONCILIATION_SELECTOR = "stg_cassandra__user_events,test_name:distinct_keys_match_source"


def _run_test(warehouse: Path, work: Path, selector: str = TEST_SELECTOR) -> tuple[DbtResult, str]:
    result = run_dbt(["test", "--select", selector], warehouse, work)
    name = selector.rpartition(":")[2]
    compiled = list((work / "target" / "compiled").rglob(f"{name}_*.sql"))
    assert len(compiled) == 1, (compiled, result.output[-3000:])
    return result, compiled[0].read_text(encoding="utf-8")


def _failing_rows(warehouse: Path, work: Path, selector: str = TEST_SELECTOR) -> list[tuple[object, ...]]:
    """Run the test, which must fail, and return the rows of its compiled query."""
    result, compiled = _run_test(warehouse, work, selector)
    assert result.returncode != 0, result.output[-3000:]
    assert list(result.statuses().values()) == ["fail"], result.statuses()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(compiled).fetchall()


def test_untouched_grain_passes(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as con:  # same user, day and time, another event id
        con.execute(
            f"insert into {MODEL} select * replace (uuid() as event_id) from {MODEL} "
            "order by event_id limit 1"
        )
    result, _ = _run_test(warehouse, tmp_path / "dbt")
    assert result.returncode == 0, result.output[-3000:]
    assert list(result.statuses().values()) == ["pass"], result.statuses()


def _first_event_and_count(warehouse: Path) -> tuple[object, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(f"select min(event_id), count(*) from {MODEL}").fetchone()
    assert row is not None
    return row[0], int(row[1])


def test_a_row_stored_twice_fails_and_the_query_names_it(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    event_id, _ = _first_event_and_count(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"insert into {MODEL} select * from {MODEL} where event_id = ?", [event_id])

    found = _failing_rows(warehouse, tmp_path / "dbt")
    assert [(r[3], r[4]) for r in found] == [(event_id, 2)], found


def test_a_staged_key_lost_fails_the_reconciliation_with_both_counts(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    warehouse = built_warehouse.copy_to(tmp_path / "warehouse.duckdb")
    event_id, staged_before = _first_event_and_count(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"delete from {MODEL} where event_id = ?", [event_id])

    found = _failing_rows(warehouse, tmp_path / "dbt", RECONCILIATION_SELECTOR)
    assert found == [(staged_before, staged_before - 1)], found
