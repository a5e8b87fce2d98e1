"""The job's `dbt build` arguments (unit tests skipped unless asked for) and its tests' scope."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

from loaders.job.command import TESTS_SCOPE_ENV, build_command, data_tests_scope_env
from loaders.job.dbt_runner import _environment

# the format macros/tests/loads_under_test.sql accepts (it refuses anything else)
MACRO_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+([+-][0-9:]+|Z)?")


def test_the_job_builds_without_unit_tests_by_default() -> None:
    assert build_command(full_refresh=False, unit_tests=False) == [
        "build",
        "--exclude-resource-type",
        "unit_test",
    ]
    assert build_command(full_refresh=True, unit_tests=False) == [
        "build",
        "--full-refresh",
        "--exclude-resource-type",
        "unit_test",
    ]


def test_unit_tests_flag_runs_them() -> None:
    assert build_command(full_refresh=False, unit_tests=True) == ["build"]
    assert build_command(full_refresh=True, unit_tests=True) == ["build", "--full-refresh"]


def test_tests_scope_is_a_timestamp_the_dbt_macro_accepts_or_unset() -> None:
    tested_through = datetime(2026, 11, 30, 8, 20, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    value = data_tests_scope_env(tested_through)[TESTS_SCOPE_ENV]
    assert value is not None and MACRO_TIMESTAMP.fullmatch(value)
    assert datetime.fromisoformat(value) == tested_through
    assert data_tests_scope_env(None) == {TESTS_SCOPE_ENV: None}


def test_the_scope_is_set_for_one_invocation_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(TESTS_SCOPE_ENV, "left by the user")
    with _environment(data_tests_scope_env(None)):
        assert TESTS_SCOPE_ENV not in os.environ  # a full refresh tests every row, whatever the shell says
    assert os.environ[TESTS_SCOPE_ENV] == "left by the user"
