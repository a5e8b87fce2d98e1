"""The sources ``loaders load`` knows: each a dlt pipeline into its own raw schema.

A plain registry. Every source package has the same face (``loaders.extracts``): its
``TABLES`` and ``open_extracts(request)``; the runner (``loaders.load.runner``) does the rest.

A source package is imported when its extract opens, not here: a PostgreSQL load does not
import the Cassandra driver (0.2-0.4 s on the shared 2-core machine). The table names come
from the registry (contracts/source_tables.yml), as the packages' own ``TABLES`` do
(tests/unit/test_postgres_load_imports.py checks they agree).
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loaders.source_tables import Store, registry

if TYPE_CHECKING:  # types only: loaders.extracts imports pyarrow (35 MB), which `loaders run` never needs
    from loaders.extracts import Extract, ExtractRequest, Opener


@dataclass(frozen=True)
class LazyOpener:
    """``open_extracts`` of the source package ``module``, imported at the first call."""

    module: str

    def resolve(self) -> Opener:
        """The package's own ``open_extracts`` (imports the package)."""
        opener: Opener = importlib.import_module(self.module).open_extracts
        return opener

    def __call__(self, request: ExtractRequest) -> AbstractContextManager[list[Extract]]:
        return self.resolve()(request)


def _tables(store: Store) -> tuple[str, ...]:
    return tuple(table.name for table in registry().of_store(store))


@dataclass(frozen=True)
class SourceKind:
    key: str  # postgres | cassandra
    pipeline_name: str
    dataset_name: str  # the raw schema
    schema_name: str  # the dlt source (schema) name
    tables: tuple[str, ...]
    open_extracts: LazyOpener


SOURCES: dict[str, SourceKind] = {
    "postgres": SourceKind(
        "postgres",
        "raw_postgres",
        "raw_postgres",
        "postgres",
        _tables("postgres"),
        LazyOpener("loaders.postgres.extracts"),
    ),
    "cassandra": SourceKind(
        "cassandra",
        "raw_cassandra",
        "raw_cassandra",
        "cassandra",
        _tables("cassandra"),
        LazyOpener("loaders.cassandra.extracts"),
    ),
}
