"""(d) sqlfluff (dialect duckdb, dbt templater, target lint) passes on every model."""

from __future__ import annotations

from dbt_runner import run_sqlfluff


def test_sqlfluff_lint_models(tmp_path) -> None:
    result = run_sqlfluff(["lint", "models", "--nocolor"], tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
