"""The report runs analyses unchanged and prints them as readable tables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from loaders.job import report


def test_format_table_aligns_numbers_right_and_shows_nulls() -> None:
    text = report.format_table(
        ["user", "spent"], [("a", Decimal("12.50")), ("bb", None), ("c", Decimal("3.00"))]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["user", "spent"]
    assert lines[2].endswith("12.50") and lines[4].endswith(" 3.00")
    assert "null" in lines[3]


def test_run_analyses_reads_sql_files_read_only(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema gold; create table gold.t as select range as x from range(5)")
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    (analyses / "b_total.sql").write_text("select sum(x) as total from gold.t")
    (analyses / "a_count.sql").write_text("select count(*) as n from gold.t")
    results = report.run_analyses(warehouse, analyses)
    assert [r.name for r in results] == ["a_count", "b_total"]
    assert results[0].rows == [(5,)] and results[1].rows == [(10,)]
    assert "== b total (1 rows) ==" in report.render(results)


def test_dbt_outcome_line_sums_data_and_unit_tests() -> None:
    from loaders.job.dbt_runner import DbtOutcome, NodeOutcome

    counts = {"model:success": 19, "seed:success": 1, "test:pass": 205, "test:warn": 2, "unit_test:pass": 9}
    nodes = {
        f"{kind}.outings.{status}_{i}": NodeOutcome(kind, f"{status}_{i}", status, "")
        for key, count in counts.items()
        for kind, status in [key.split(":")]
        for i in range(count)
    }
    outcome = DbtOutcome("build", True, nodes)
    assert outcome.counts == counts
    assert outcome.line() == "dbt build: 19 models, 1 seeds, tests: 214 pass, 2 warn"
