"""dbt's DuckDB memory limit: what it is, and the build's second chance when a node ran out of it.

The build runs under ``DBT_DUCKDB_MEMORY_LIMIT`` (profiles.yml's default when unset), low enough
that the job's process stays within its memory budget. A model or test that needs more (a window
or a join over a table grown larger than the limit can spill) fails with DuckDB's "Out of Memory
Error". Then ``build_with_memory_retry`` builds those nodes, and the ones they skipped, once more
with ``dbt retry`` under twice the limit, after a one-line warning that names them: the job
finishes, and the warning says which setting to raise so that the next runs do not pay twice.
If the retry runs out too, the build fails as any build does (nothing is published).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from loaders.duckdb_memory import doubled
from loaders.job.dbt_runner import DbtOutcome
from loaders.settings import PROJECT_DIR, setting

DBT_MEMORY_LIMIT_SETTING = "DBT_DUCKDB_MEMORY_LIMIT"
# profiles.yml's own default for it, where dbt reads it: env_var('DBT_DUCKDB_MEMORY_LIMIT', '192MB')
_PROFILE_DEFAULT = re.compile(r"env_var\(\s*'" + DBT_MEMORY_LIMIT_SETTING + r"'\s*,\s*'([^']+)'\s*\)")

RunDbt = Callable[[list[str], dict[str, str | None]], DbtOutcome]  # (command, environment)


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
) -> tuple[DbtOutcome, list[str]]:
    """``run(command, env)``, then, if nodes ran out of memory, ``run(["retry"], env)`` under twice
    the limit: (the build's outcome with the retried nodes' results, the nodes out of memory)."""
    build = run(command, env)
    short = out_of_memory_nodes(build)
    if not short:
        return build, []
    limit = dbt_memory_limit()
    raised = doubled(limit) if limit else None
    if raised is None:
        return build, []
    say(
        f"  dbt: {len(short)} node(s) ran out of DuckDB's {limit} ({', '.join(short[:5])}"
        f"{', …' if len(short) > 5 else ''}): building them and the nodes they skipped again under {raised}; "
        f"set {DBT_MEMORY_LIMIT_SETTING}={raised} so that the next runs do not build them twice"
    )
    retry = run(["retry"], {**env, DBT_MEMORY_LIMIT_SETTING: raised})
    return build.merged(retry), short
