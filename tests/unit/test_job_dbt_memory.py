"""The build's second chance when dbt's DuckDB ran out of memory, and where its limit comes from.

The retry through real dbt and DuckDB is tested end to end in
tests/integration/test_job_end_to_end.py; here the decisions, with the outcomes dbt would give."""

from __future__ import annotations

import re

import pytest

from loaders.duckdb_memory import memory_bytes
from loaders.job.command import TESTS_SCOPE_ENV
from loaders.job.dbt_memory import (
    DBT_MEMORY_LIMIT_SETTING,
    RETRY_ALONE,
    MemoryRetry,
    build_with_memory_retry,
    dbt_memory_limit,
    invocation_label,
    out_of_memory_nodes,
    profile_default_memory_limit,
)
from loaders.job.dbt_runner import DbtOutcome, NodeOutcome
from loaders.settings import PROJECT_DIR

BUILD = ["build", "--exclude-resource-type", "unit_test"]


def node(name: str, status: str, message: str = "", out_of_memory: bool = False) -> NodeOutcome:
    return NodeOutcome("model", name, status, message, out_of_memory)


def outcome(*nodes: NodeOutcome, command: str = "build") -> DbtOutcome:
    return DbtOutcome(
        command=command,
        success=not any(n.failed for n in nodes),
        nodes={f"model.outings.{n.name}": n for n in nodes},
    )


class FakeDbt:
    """The dbt invocations the build asks for, answered from a list, and what each was given."""

    def __init__(self, *answers: DbtOutcome) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[str], dict[str, str | None]]] = []

    def __call__(self, command: list[str], env: dict[str, str | None]) -> DbtOutcome:
        self.calls.append((command, env))
        return self.answers.pop(0)


@pytest.fixture
def limit_192(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DBT_MEMORY_LIMIT_SETTING, "192MB")


def test_the_profiles_default_is_one_duckdb_size_for_every_target() -> None:
    text = (PROJECT_DIR / "profiles.yml").read_text()
    defaults = set(re.findall(r"env_var\('DBT_DUCKDB_MEMORY_LIMIT', '([^']+)'\)", text))
    assert len(defaults) == 1, defaults
    default = profile_default_memory_limit(text)
    assert default is not None and default in defaults and memory_bytes(default) < float("inf")


def test_the_setting_wins_over_the_profiles_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DBT_MEMORY_LIMIT_SETTING, raising=False)
    assert dbt_memory_limit() == profile_default_memory_limit((PROJECT_DIR / "profiles.yml").read_text())
    monkeypatch.setenv(DBT_MEMORY_LIMIT_SETTING, "1GB")
    assert dbt_memory_limit() == "1GB"


@pytest.mark.usefixtures("limit_192")
def test_nodes_out_of_memory_are_built_again_alone_under_the_same_limit() -> None:
    oom = "Runtime Error in model stg_cassandra__user_events"
    dbt = FakeDbt(
        outcome(
            node("stg_postgres__users", "success"),
            node("stg_cassandra__user_events", "error", oom, out_of_memory=True),
            node("int_user_activity_daily", "skipped"),
        ),
        outcome(
            node("stg_cassandra__user_events", "success"),
            node("int_user_activity_daily", "success"),
            command="retry",
        ),
    )
    said: list[str] = []
    scope: dict[str, str | None] = {TESTS_SCOPE_ENV: "2026-12-04T00:00:00+00:00"}
    build, retries = build_with_memory_retry(BUILD, dbt, scope, said.append)

    assert retries == [MemoryRetry(("stg_cassandra__user_events",), "192MB")]
    assert [command for command, _ in dbt.calls] == [BUILD, RETRY_ALONE]
    assert RETRY_ALONE == ["retry", "--threads", "1"]
    assert dbt.calls[0][1] == scope and dbt.calls[1][1] == scope  # the same limit
    assert build.success and build.failures == []
    assert build.counts == {"model:success": 3}
    assert build.command == "build"
    assert len(said) == 1
    assert "stg_cassandra__user_events" in said[0] and "192MB" in said[0] and "one at a time" in said[0]
    assert retries[0].line() == "1 node(s) rebuilt alone under 192MB: stg_cassandra__user_events"


@pytest.mark.usefixtures("limit_192")
def test_nodes_out_of_memory_alone_are_built_again_under_twice_the_limit() -> None:
    dbt = FakeDbt(
        outcome(
            node("gold_ml_user_features", "error", "Runtime Error", out_of_memory=True),
            node("stg_postgres__users", "error", "Runtime Error", out_of_memory=True),
        ),
        outcome(
            node("gold_ml_user_features", "error", "Runtime Error alone", out_of_memory=True),
            node("stg_postgres__users", "success"),
            command="retry --threads 1",
        ),
        outcome(node("gold_ml_user_features", "success"), command="retry --threads 1"),
    )
    said: list[str] = []
    build, retries = build_with_memory_retry(BUILD, dbt, {}, said.append)

    assert retries == [
        MemoryRetry(("gold_ml_user_features", "stg_postgres__users"), "192MB"),
        MemoryRetry(("gold_ml_user_features",), "384MB"),
    ]
    assert [command for command, _ in dbt.calls] == [BUILD, RETRY_ALONE, RETRY_ALONE]
    assert dbt.calls[1][1] == {} and dbt.calls[2][1] == {DBT_MEMORY_LIMIT_SETTING: "384MB"}
    assert build.success and build.counts == {"model:success": 2}
    assert len(said) == 2
    assert "even alone (gold_ml_user_features)" in said[1] and f"{DBT_MEMORY_LIMIT_SETTING}=384MB" in said[1]


@pytest.mark.usefixtures("limit_192")
def test_a_node_that_runs_out_under_twice_the_limit_fails_the_build() -> None:
    dbt = FakeDbt(
        outcome(node("gold_ml_user_features", "error", "Runtime Error", out_of_memory=True)),
        outcome(node("gold_ml_user_features", "error", "Runtime Error alone", out_of_memory=True)),
        outcome(node("gold_ml_user_features", "error", "Runtime Error at 384MB", out_of_memory=True)),
    )
    build, retries = build_with_memory_retry(BUILD, dbt, {}, lambda _: None)
    assert [retry.limit for retry in retries] == ["192MB", "384MB"]
    assert len(dbt.calls) == 3
    assert not build.success
    assert build.failures == ["model gold_ml_user_features: Runtime Error at 384MB"]


@pytest.mark.usefixtures("limit_192")
def test_other_failures_are_not_retried() -> None:
    dbt = FakeDbt(outcome(node("stg_cassandra__notification_states", "error", "accepted_values failed")))
    said: list[str] = []
    build, retries = build_with_memory_retry(BUILD, dbt, {}, said.append)
    assert (retries, said, len(dbt.calls)) == ([], [], 1)
    assert not build.success
    assert out_of_memory_nodes(build) == []


def test_a_limit_that_is_not_a_size_is_retried_alone_but_not_doubled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DBT_MEMORY_LIMIT_SETTING, "lots")
    failed = node("stg_postgres__payments", "error", "Runtime Error", out_of_memory=True)
    dbt = FakeDbt(outcome(failed), outcome(failed))
    build, retries = build_with_memory_retry(BUILD, dbt, {}, lambda _: None)
    assert (retries, len(dbt.calls), build.success) == ([MemoryRetry((failed.name,), "lots")], 2, False)


def test_each_invocation_is_named_for_ops() -> None:
    assert invocation_label([*BUILD, "--select", "stg_x"], {}) == "build"
    assert (
        invocation_label(RETRY_ALONE, {TESTS_SCOPE_ENV: "2026-12-04T00:00:00+00:00"}) == "retry --threads 1"
    )
    assert (
        invocation_label(RETRY_ALONE, {DBT_MEMORY_LIMIT_SETTING: "384MB"}) == "retry --threads 1 under 384MB"
    )
