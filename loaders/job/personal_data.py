"""Which columns carry personal data, and what readers get instead: the one list.

Readers of the published warehouse never get an e-mail, a username or a message body
(the source contract's personal data). A column is personal when

- its name is in ``PERSONAL_COLUMNS`` below, in any published table (so a new model that
  selects ``email`` is covered without anyone remembering it), or
- its dbt YAML says so: ``meta: {pii: hash}`` or ``meta: {pii: drop}`` (``pii: true`` means
  drop) on a model's or seed's column, read from the build's ``manifest.json``.

A hashed column is published as ``<name>_hmac``: the hex HMAC-SHA256 of its UTF-8 text under
the pseudonym key (loaders/job/pseudonym_key.py), so readers can still count and join on it;
a dropped column is not published at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from loaders.errors import UserError


class Treatment(Enum):
    HASH = "hash"
    DROP = "drop"


PERSONAL_COLUMNS: Mapping[str, Treatment] = {
    "email": Treatment.HASH,
    "username": Treatment.HASH,
    "body": Treatment.DROP,
}

HASHED_SUFFIX = "_hmac"


def hashed_name(column: str) -> str:
    return f"{column}{HASHED_SUFFIX}"


@dataclass(frozen=True)
class PersonalDataPolicy:
    by_name: Mapping[str, Treatment] = field(default_factory=lambda: dict(PERSONAL_COLUMNS))
    # (schema, relation, column), lower case, from dbt's `meta.pii`
    by_column: Mapping[tuple[str, str, str], Treatment] = field(default_factory=dict)

    def treatment(self, schema: str, relation: str, column: str) -> Treatment | None:
        declared = self.by_column.get((schema.lower(), relation.lower(), column.lower()))
        by_name = self.by_name.get(column.lower())
        if Treatment.DROP in (declared, by_name):
            return Treatment.DROP
        return declared or by_name


def policy_from_manifest(manifest_path: Path | None) -> PersonalDataPolicy:
    """The name list plus every column a model's or seed's YAML marks ``meta: {pii: …}``."""
    if manifest_path is None or not manifest_path.is_file():
        return PersonalDataPolicy()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    declared: dict[tuple[str, str, str], Treatment] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in {"model", "seed", "snapshot"}:
            continue
        relation = str(node.get("alias") or node.get("name") or "")
        schema = str(node.get("schema") or "")
        for name, column in (node.get("columns") or {}).items():
            treatment = _declared_treatment(column, f"{node.get('unique_id')}.{name}")
            if treatment is not None:
                declared[(schema.lower(), relation.lower(), str(column.get("name") or name).lower())] = (
                    treatment
                )
    return PersonalDataPolicy(by_column=declared)


def _declared_treatment(column: Mapping[str, Any], where: str) -> Treatment | None:
    for meta in (column.get("meta") or {}, (column.get("config") or {}).get("meta") or {}):
        if "pii" not in meta:
            continue
        value = meta["pii"]
        if value is True or str(value).lower() == Treatment.DROP.value:
            return Treatment.DROP
        if str(value).lower() == Treatment.HASH.value:
            return Treatment.HASH
        if value is False:
            continue
        raise UserError(f"{where}: meta.pii is {value!r}: use true, 'hash' or 'drop' in the model's YAML")
    return None
