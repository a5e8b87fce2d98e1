"""The job's `dbt build` arguments: unit tests are skipped unless asked for."""

from __future__ import annotations

from loaders.job.command import build_command


def test_the_job_builds_without_unit_tests_by_default() -> None:
    assert build_command(full_refresh=False, unit_tests=False) == [
        "build", "--exclude-resource-type", "unit_test",
    ]
    assert build_command(full_refresh=True, unit_tests=False) == [
        "build", "--full-refresh", "--exclude-resource-type", "unit_test",
    ]


def test_unit_tests_flag_runs_them() -> None:
    assert build_command(full_refresh=False, unit_tests=True) == ["build"]
    assert build_command(full_refresh=True, unit_tests=True) == ["build", "--full-refresh"]
