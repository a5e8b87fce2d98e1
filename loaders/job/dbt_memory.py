"""dbt's DuckDB memory limit: what it is, and the build's second chances when a node ran out of it.

The build runs under ``DBT_DUCKDB_MEMORY_LIMIT`` (profiles.yml's default when unset), low enough
that the job's process stays within its memory budget. Its two dbt threads share that one limit:
a big spilling query beside another can leave the other too little, and the one that asks at the
wrong moment fails with DuckDB's "Out of Memory Error". So ``build_with_memory_retry`` gives
those nodes, and the ones they skipped, two more chances with ``dbt retry``:

1. alone: one dbt thread, under the same limit. A node that only lost the race for memory
   passes, and the job's memory stays where the limit puts it;
2. still out of memory: one dbt thread under twice the limit, after a one-line warning that
   names the nodes and the setting to raise so that the next runs do not pay again.

If the second retry runs out too, the build fails as any build does (nothing is published).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from loaders.duckdb_memory import doubled
from loaders.job.dbt_runner import DbtOutcome
from loaders.settings import PROJECT_DIR, setting

DBT_MEMORY_LIMIT_SETTING = "DBT_DUCKDB_MEMORY_LIMIT"
# profiles.yml's own default for it, where dbt reads it: env_var('DBT_DUCKDB_MEMORY_LIMIT', '192MB')
_PROFILE_DEFAULT = re.compile(r"env_var\(\s*'" + DBT_MEMORY_LIMIT_SETTING + r"'\s*,\s*'([^']+)'\s*\)")
RETRY_ALONE = ["retry", "--threads", "1"]  # dbt retry takes --threads from its command line

RunDbt = Callable[[list[str], dict[str, str | None]], DbtOutcome]  # (command, environment)


def _names(nodes: list[str]) -> str:
    return ", ".join(nodes[:5]) + (", …" if len(nodes) > 5 else "")


@dataclass(frozen=True)
class MemoryRetry:
    """One retry of the nodes that ran out: which, under which limit."""

    nodes: tuple[str, ...]
    limit: str

    def line(self) -> str:
        """The retry, for ops and the run summary: ``2 node(s) rebuilt alone under 192MB: a, b``."""
        return f"{len(self.nodes)} node(s) rebuilt alone under {self.limit}: {_names(list(self.nodes))}"


def invocation_label(command: list[str], env: dict[str, str | None]) -> str:
    """What ``ops.dbt_results.command`` says gave a node its result: ``build``, ``retry --threads 1``,
    or ``retry --threads 1 under 384MB`` (the retry under a raised limit)."""
    if not command or command[0] != "retry":
        return command[0] if command else "build"
    raised = env.get(DBT_MEMORY_LIMIT_SETTING)
    return " ".join(command) + (f" under {raised}" if raised else "")


def profile_default_memory_limit(profiles_text: str) -> str | None:
    """The default of ``DBT_MEMORY_LIMIT_SETTING`` written in a profiles.yml (None: none there)."""
    match = _PROFILE_DEFAULT.search(profiles_text)
    return match.group(1) if match else None


def dbt_memory_limit() -> str | None:
    """The limit dbt's DuckDB runs under: the setting, else profiles.yml's default for it."""
    configured = setting(DBT_MEMORY_LIMIT_SETTING, "")
    if configured:
        return configured
    try:
        return profile_default_memory_limit((PROJECT_DIR / "profiles.yml").read_text())
    except OSError:
        return None


def out_of_memory_nodes(outcome: DbtOutcome) -> list[str]:
    """The nodes of ``outcome`` that failed because DuckDB ran out of its memory limit."""
    return [node.name for node in outcome.nodes.values() if node.failed and node.out_of_memory]


def build_with_memory_retry(
    command: list[str], run: RunDbt, env: dict[str, str | None], say: Callable[[str], None] = print
) -> tuple[DbtOutcome, list[MemoryRetry]]:
    """``run(command, env)``, then, while nodes ran out of memory, ``dbt retry`` on one thread:
    first under the same limit, then under twice it. Returns the build's outcome with the retried
    nodes' final results, and the retries it made (none when no node ran out)."""
    build = run(command, env)
    short = out_of_memory_nodes(build)
    if not short:
        return build, []
    limit = dbt_memory_limit()
    if limit is None:
        return build, []
    say(
        f"  dbt: {len(short)} node(s) ran out of DuckDB's {limit} beside the other thread's work "
        f"({_names(short)}): building them and the nodes they skipped again, one at a time"
    )
    retries = [MemoryRetry(tuple(short), limit)]
    build = build.merged(run(RETRY_ALONE, env))
    short = out_of_memory_nodes(build)
    raised = doubled(limit)
    if not short or raised is None:
        return build, retries
    say(
        f"  dbt: {len(short)} node(s) ran out of DuckDB's {limit} even alone ({_names(short)}): "
        f"building them again under {raised}; set {DBT_MEMORY_LIMIT_SETTING}={raised} so that the "
        "next runs do not build them three times"
    )
    retries.append(MemoryRetry(tuple(short), raised))
    return build.merged(run(RETRY_ALONE, {**env, DBT_MEMORY_LIMIT_SETTING: raised})), retries
