"""The dbt docs of what readers can see: the build's catalog and manifest, cut to the readers' copy.

``dbt docs generate`` documents the build warehouse. Readers get its two JSON files rewritten
against the published warehouse itself (its information_schema is the truth):

- ``catalog.json``: only the relations of the readers' copy, each with exactly its columns
  (names, types, positions as published; hashed columns appear as ``<name>_hmac``); no source
  (the raw schemas are not published).
- ``manifest.json``: every node stays (the lineage and compiled SQL say how a mart is made),
  but a published relation lists only its published columns (a hashed one renamed and
  described as a pseudonym), and a relation readers cannot open (the raw sources) lists none
  and says it is not published.

This rewrite (about 0.3 s at demo scale, most of it reading the copy's columns and writing the
JSON) is the whole cost: a second ``dbt docs generate`` against the readers' copy would cost a
dbt invocation (0.1-0.3 s reusing the build's compiled SQL, 7 s compiling) and its manifest
would still document the hidden columns, so it would need this cut anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from loaders.job.personal_data import HASHED_SUFFIX

NOT_PUBLISHED = (
    "Not published: readers cannot open this relation (it lives only in the job's private warehouse)."
)
RELATION_TYPES = {"model", "seed", "snapshot"}


@dataclass(frozen=True)
class PublishedColumn:
    name: str
    type: str
    index: int


# (schema, relation), lower case -> columns in order
PublishedRelations = Mapping[tuple[str, str], list[PublishedColumn]]


def published_relations(warehouse: Path) -> dict[tuple[str, str], list[PublishedColumn]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select table_schema, table_name, column_name, data_type, ordinal_position "
            "from information_schema.columns order by table_schema, table_name, ordinal_position"
        ).fetchall()
    relations: dict[tuple[str, str], list[PublishedColumn]] = {}
    for schema, table, column, data_type, position in rows:
        relations.setdefault((schema.lower(), table.lower()), []).append(
            PublishedColumn(column, data_type, position)
        )
    return relations


def readers_catalog(catalog: Mapping[str, Any], published: PublishedRelations) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for unique_id, entry in (catalog.get("nodes") or {}).items():
        metadata = entry.get("metadata") or {}
        columns = published.get(
            (str(metadata.get("schema", "")).lower(), str(metadata.get("name", "")).lower())
        )
        if columns is None:
            continue
        original = {name.lower(): value for name, value in (entry.get("columns") or {}).items()}
        nodes[unique_id] = {
            **entry,
            "columns": {
                c.name: {
                    "type": c.type,
                    "index": c.index,
                    "name": c.name,
                    "comment": (original.get(c.name.lower()) or {}).get("comment"),
                }
                for c in columns
            },
        }
    return {**catalog, "nodes": nodes, "sources": {}}


def readers_manifest(manifest: dict[str, Any], published: PublishedRelations) -> dict[str, Any]:
    """Cut the parsed manifest in place (a deep copy of it would cost as much as the cut) and return it."""
    result = manifest
    for node in result.get("nodes", {}).values():
        if node.get("resource_type") in RELATION_TYPES:
            _cut_columns(node, published)
    for source in result.get("sources", {}).values():
        _cut_columns(source, published)
    return result


def _relation_key(node: Mapping[str, Any]) -> tuple[str, str]:
    name = node.get("identifier") if node.get("resource_type") == "source" else node.get("alias")
    return str(node.get("schema", "")).lower(), str(name or node.get("name", "")).lower()


def _cut_columns(node: dict[str, Any], published: PublishedRelations) -> None:
    columns = published.get(_relation_key(node))
    if columns is None:
        node["columns"] = {}
        node["description"] = f"{NOT_PUBLISHED} {node.get('description') or ''}".strip()
        return
    names = {c.name.lower(): c.name for c in columns}
    kept: dict[str, Any] = {}
    for name, column in (node.get("columns") or {}).items():
        if name.lower() in names:
            kept[name] = column
            continue
        hashed = names.get(f"{name}{HASHED_SUFFIX}".lower())
        if hashed is not None:
            kept[hashed] = {
                **column,
                "name": hashed,
                "data_type": "varchar",
                "constraints": [],
                "description": (
                    f"Pseudonym of {name}: hex HMAC-SHA256 of its text under the publish key "
                    f"(PUBLISH_PSEUDONYM_KEY); the same {name} gives the same value in every table."
                ),
            }
        # else: dropped for readers
    node["columns"] = kept
