"""Run dbt in-process and summarise what it did."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.duckdb_memory import OUT_OF_MEMORY_TEXT
from loaders.errors import UserError, one_line
from loaders.settings import PROJECT_DIR

FAILED = frozenset({"error", "fail", "runtime error"})


@dataclass(frozen=True)
class NodeOutcome:
    resource: str  # model, test, seed, unit_test…
    name: str
    status: str
    message: str  # the first line of dbt's message
    out_of_memory: bool = False  # its message says DuckDB ran out of its memory limit

    @property
    def failed(self) -> bool:
        return self.status in FAILED


@dataclass
class DbtOutcome:
    command: str
    success: bool
    nodes: dict[str, NodeOutcome] = field(default_factory=dict)  # by unique_id
    errors: list[str] = field(default_factory=list)  # an invocation's own error, when no node says it

    @property
    def counts(self) -> Counter[str]:
        """Nodes per resource and status, e.g. {"model:success": 12, "test:warn": 2}."""
        return Counter(f"{n.resource}:{n.status}" for n in self.nodes.values())

    @property
    def failures(self) -> list[str]:
        """ "resource name: message" of the errors and failures."""
        failed = [f"{n.resource} {n.name}: {n.message}" for n in self.nodes.values() if n.failed]
        return failed or list(self.errors)

    @property
    def warnings(self) -> list[str]:
        return [f"{n.resource} {n.name}: {n.message}" for n in self.nodes.values() if n.status == "warn"]

    def merged(self, retry: DbtOutcome) -> DbtOutcome:
        """This outcome with the nodes ``retry`` (a ``dbt retry`` of it) ran again replaced by theirs."""
        return DbtOutcome(
            command=self.command,
            success=retry.success,
            nodes={**self.nodes, **retry.nodes},
            errors=retry.errors,
        )

    def line(self) -> str:
        tests: Counter[str] = Counter()
        for key, count in self.counts.items():
            resource, status = key.split(":", 1)
            if resource in {"test", "unit_test"}:
                tests[status] += count
        models = sum(v for k, v in self.counts.items() if k.startswith("model:"))
        seeds = sum(v for k, v in self.counts.items() if k.startswith("seed:"))
        parts = ", ".join(f"{n} {s}" for s, n in sorted(tests.items()))
        return f"dbt {self.command}: {models} models, {seeds} seeds, tests: {parts or 'none'}"


def dbt_args(command: list[str], target_path: Path | None = None) -> list[str]:
    args = [*command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    return args


def _runner_class() -> Any:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        from dbt.cli.main import dbtRunner
    except ImportError as exc:  # pragma: no cover - installation problem
        raise UserError(f"dbt is not installed ({exc}): run `make setup`") from exc
    return dbtRunner


def _with_vars(args: list[str], vars_yaml: str | None) -> list[str]:
    return [*args, "--vars", vars_yaml] if vars_yaml else args


def parse_project(*, vars_yaml: str | None = None) -> Any | None:
    """Parse the project once (dbt's partial parsing applies); the manifest serves the job's next
    invocations, which then skip their own parse. None if parsing failed: the next invocation
    parses again and reports the error itself."""
    result = _runner_class()().invoke(_with_vars(dbt_args(["parse"]), vars_yaml))
    return result.result if result.success else None


def run_dbt(
    command: list[str],
    *,
    vars_yaml: str | None = None,
    env: dict[str, str | None] | None = None,
    manifest: Any | None = None,
) -> DbtOutcome:
    """Invoke dbt (``build``, ``docs generate``…) in this process and collect its node results.

    env: environment variables set (None: unset) for this invocation only.
    manifest: a manifest from parse_project (parsed with the same vars), or None to parse.
    """
    runner = _runner_class()(manifest=manifest)
    with _environment(env or {}):
        result = runner.invoke(_with_vars(dbt_args(command), vars_yaml))
    outcome = DbtOutcome(command=" ".join(command), success=bool(result.success))
    for node_result in _node_results(result.result):
        node = getattr(node_result, "node", None)
        text = str(getattr(node_result, "message", "") or "")
        unique_id = str(getattr(node, "unique_id", "") or f"node.{len(outcome.nodes)}")
        outcome.nodes[unique_id] = NodeOutcome(
            resource=str(getattr(node, "resource_type", "node")),
            name=str(getattr(node, "name", "?")),
            status=str(getattr(node_result, "status", "unknown")),
            message=" ".join(text.splitlines()[0:1]),
            out_of_memory=bool(OUT_OF_MEMORY_TEXT.search(text)),
        )
    if result.exception is not None:
        outcome.errors.append(one_line(result.exception) or type(result.exception).__name__)
    return outcome


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def release_dbt_database() -> None:
    """Close the DuckDB database that dbt-duckdb keeps open in this process after its invocations.

    dbt-duckdb holds one environment per process, and its connection stays open when dbt is done:
    the next ``duckdb.connect`` of the same file in this process then joins that database, with
    the table blocks it still holds (113 MB after a scale-0.5 build, 159 MB at scale 10). Closed,
    they are freed before the publish opens the file, which then reuses that memory instead of
    adding its own budget on top. A later dbt invocation opens a new environment."""
    module = sys.modules.get("dbt.adapters.duckdb.connections")
    manager = getattr(module, "DuckDBConnectionManager", None)
    environment = getattr(manager, "_ENV", None)
    if manager is None or environment is None:
        return
    environment.close()
    manager.close_all_connections()  # forgets the environment: the next invocation makes its own


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _node_results(result: object) -> list[object]:
    results = getattr(result, "results", None)
    return list(results) if results is not None else []
