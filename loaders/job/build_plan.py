"""What a scheduled build rebuilds: the models and tests fed by the raw tables its loads changed.

Every row of the published warehouse was built and tested from the loads committed up to
its ``tested_through`` (loaders/job/publish.py). A model whose raw tables have no load
committed since then would be rebuilt from the same rows into the same rows: the job leaves
it alone and runs ``dbt build --select source:<raw table>+ …`` for the raw tables that
changed (a new row, a changed row, a tombstone: each is a raw row of the new load). With no
change at all, dbt is not started.

Every model is built, as before this plan existed, whenever that reasoning does not hold:
  * no published warehouse to compare with, or a --full-refresh / --test-every-row run;
  * the project differs from the published one (loaders/job/project_fingerprint.py: SQL,
    macros, seeds, vars, engine versions), or the published copy predates the fingerprint;
  * a model or seed of the project has no table in the build warehouse (a new model, a
    replaced or deleted build warehouse), or its raw schemas hold no load as new as the
    published warehouse's (a build warehouse restored from an older copy);
  * dbt could not parse the project (dbt then reports why);
  * every raw table changed (the selection would be the whole project but the seeds).
A raw table with no rows at all counts as changed (a source table emptied and reloaded in
full leaves no row to show it), and so does one the build warehouse does not have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from loaders.raw_sql import quote

# dlt's own tables in each raw schema: every staging model reads `_dlt_loads`, so it never selects
DLT_TABLE_PREFIX = "_dlt_"
BUILT_KINDS = frozenset({"model", "seed", "snapshot"})
LOAD_ID = re.compile(r"[0-9]+(\.[0-9]+)?")  # dlt's load id: unix seconds as text


@dataclass(frozen=True, order=True)
class RawSource:
    """A dbt source over a raw table: its selector name and where it is."""

    source_name: str
    name: str
    schema: str
    identifier: str

    @property
    def selector(self) -> str:
        return f"source:{self.source_name}.{self.name}+"


@dataclass(frozen=True)
class BuildPlan:
    """Every model (``everything_because`` says why), or those downstream of ``changed``."""

    everything_because: str | None
    changed: tuple[RawSource, ...] = ()
    unchanged: int = 0

    @property
    def nothing_to_build(self) -> bool:
        return self.everything_because is None and not self.changed

    def select_arguments(self) -> list[str]:
        """``dbt build`` arguments choosing the plan's nodes (none: the whole project)."""
        if self.everything_because is not None or not self.changed:
            return []
        return ["--select", *(source.selector for source in self.changed)]

    def line(self) -> str:
        if self.everything_because is not None:
            return f"build plan: every model ({self.everything_because})"
        if not self.changed:
            return (
                f"build plan: nothing to build, none of the {self.unchanged} raw tables changed since the "
                "published warehouse (dbt not started)"
            )
        names = ", ".join(f"{s.source_name}.{s.name}" for s in self.changed)
        return (
            f"build plan: what {len(self.changed)} changed raw tables feed ({names}); "
            f"{self.unchanged} unchanged tables' models are left as published"
        )


@dataclass(frozen=True)
class ProjectTables:
    """What the plan needs of a parsed project: its raw sources and the tables its build writes."""

    sources: tuple[RawSource, ...]
    built: tuple[tuple[str, str], ...]  # (schema, table) of every model and seed, lower case

    @classmethod
    def from_manifest(cls, manifest: Any) -> ProjectTables:
        """From dbt's in-process Manifest (loaders.job.dbt_runner.parse_project)."""
        sources = [(s.source_name, s.name, s.schema, s.identifier) for s in manifest.sources.values()]
        nodes = [
            (
                getattr(n.resource_type, "value", n.resource_type),
                n.config.materialized,
                n.schema,
                n.alias or n.name,
            )
            for n in manifest.nodes.values()
        ]
        return cls._of(sources, nodes)

    @classmethod
    def from_manifest_file(cls, path: Path) -> ProjectTables:
        """From a ``manifest.json`` that dbt wrote (the benchmarks run dbt in a process of its own)."""
        document = json.loads(path.read_text(encoding="utf-8"))
        sources = [
            (s["source_name"], s["name"], s["schema"], s["identifier"]) for s in document["sources"].values()
        ]
        nodes = [
            (n["resource_type"], n["config"].get("materialized"), n["schema"], n.get("alias") or n["name"])
            for n in document["nodes"].values()
        ]
        return cls._of(sources, nodes)

    @classmethod
    def _of(
        cls, sources: Iterable[tuple[str, str, str, str]], nodes: Iterable[tuple[str, str | None, str, str]]
    ) -> ProjectTables:
        raw = sorted(
            RawSource(source_name, name, schema.lower(), identifier.lower())
            for source_name, name, schema, identifier in sources
            if not identifier.startswith(DLT_TABLE_PREFIX)
        )
        built = sorted(
            {
                (schema.lower(), name.lower())
                for kind, materialized, schema, name in nodes
                if kind in BUILT_KINDS and materialized != "ephemeral"
            }
        )
        return cls(tuple(raw), tuple(built))


def plan_build(
    build_warehouse: Path,
    project: ProjectTables | None,
    *,
    tested_through: datetime | None,
    published_fingerprint: str | None,
    fingerprint: str,
) -> BuildPlan:
    """The plan of this run's build (the module docstring says when it is every model)."""
    if tested_through is None:
        return BuildPlan("no published warehouse to compare with, or every row is tested")
    if project is None:
        return BuildPlan("the project did not parse")
    if published_fingerprint is None:
        return BuildPlan("the published warehouse does not record which project built it")
    if published_fingerprint != fingerprint:
        return BuildPlan("the project, its vars or the engines changed since the published build")
    with duckdb.connect(str(build_warehouse), read_only=True) as conn:
        existing = _existing_tables(conn)
        missing = [f"{schema}.{name}" for schema, name in project.built if (schema, name) not in existing]
        if missing:
            return BuildPlan(f"{len(missing)} models or seeds not in the build warehouse, e.g. {missing[0]}")
        newest = _newest_commit(conn, {s.schema for s in project.sources}, existing)
        if newest is None or newest < tested_through:
            return BuildPlan("the build warehouse holds no load as new as the published warehouse's")
        loads_after = {
            schema: _loads_committed_after(conn, schema, tested_through)
            for schema in {s.schema for s in project.sources}
            if (schema, "_dlt_loads") in existing
        }
        changed = tuple(s for s in project.sources if _changed(conn, s, existing, loads_after.get(s.schema)))
    if changed and len(changed) == len(project.sources):
        return BuildPlan(f"all {len(changed)} raw tables changed since the published build")
    return BuildPlan(None, changed, unchanged=len(project.sources) - len(changed))


def _existing_tables(conn: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = conn.execute(
        "select lower(table_schema), lower(table_name) from information_schema.tables "
        "where table_catalog = current_database()"
    ).fetchall()
    return {(schema, name) for schema, name in rows}


def _newest_commit(
    conn: duckdb.DuckDBPyConnection, schemas: set[str], existing: set[tuple[str, str]]
) -> datetime | None:
    """The commit time of the newest committed load in the raw schemas (None: none)."""
    loads = [
        f"select max(inserted_at) as committed_at from {quote(schema)}._dlt_loads where status = 0"
        for schema in sorted(schemas)
        if (schema, "_dlt_loads") in existing
    ]
    if not loads:
        return None
    row = conn.execute(f"select max(committed_at) from ({' union all '.join(loads)})").fetchone()
    return row[0] if row else None


def _loads_committed_after(conn: duckdb.DuckDBPyConnection, schema: str, after: datetime) -> list[str]:
    """The ids of the raw schema's loads committed after ``after`` (one query per schema)."""
    rows = conn.execute(
        f"select load_id from {quote(schema)}._dlt_loads where status = 0 and inserted_at > ?", [after]
    ).fetchall()
    return [row[0] for row in rows]


def _changed(
    conn: duckdb.DuckDBPyConnection,
    source: RawSource,
    existing: set[tuple[str, str]],
    new_loads: list[str] | None,
) -> bool:
    """Whether the raw table holds a row of one of ``new_loads`` (its schema's loads committed after
    the publish; None: the schema has no ``_dlt_loads``), or no row at all."""
    if (source.schema, source.identifier) not in existing or new_loads is None:
        return True
    table = f"{quote(source.schema)}.{quote(source.identifier)}"
    if not new_loads:
        empty = conn.execute(f"select not exists (select 1 from {table})").fetchone()
        return bool(empty and empty[0])
    # literals, not a parameter: DuckDB then skips the row groups whose load ids are all older
    if not all(LOAD_ID.fullmatch(load_id) for load_id in new_loads):
        return True  # not a dlt load id: read as changed rather than risk a quoting mistake
    listed = ", ".join(f"'{load_id}'" for load_id in new_loads)
    found = conn.execute(
        f"select exists (select 1 from {table} where _dlt_load_id in ({listed})) "
        f"or not exists (select 1 from {table})"
    ).fetchone()
    return bool(found and found[0])
