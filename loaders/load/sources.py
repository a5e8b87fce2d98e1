"""The sources ``loaders load`` knows: each a dlt pipeline into its own raw schema.

A plain registry. Every source package has the same face (``loaders.extracts``): its
``TABLES`` and ``open_extracts(request)``; the runner (``loaders.load.runner``) does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from loaders.cassandra import extracts as cassandra
from loaders.extracts import Opener
from loaders.postgres import extracts as postgres


@dataclass(frozen=True)
class SourceKind:
    key: str  # postgres | cassandra
    pipeline_name: str
    dataset_name: str  # the raw schema
    schema_name: str  # the dlt source (schema) name
    tables: tuple[str, ...]
    open_extracts: Opener


SOURCES: dict[str, SourceKind] = {
    "postgres": SourceKind(
        "postgres", "raw_postgres", "raw_postgres", "postgres", postgres.TABLES, postgres.open_extracts
    ),
    "cassandra": SourceKind(
        "cassandra", "raw_cassandra", "raw_cassandra", "cassandra", cassandra.TABLES, cassandra.open_extracts
    ),
}
