"""The one face of a source package: an ``ExtractRequest`` in, the dlt extracts of its tables out.

Each source package (``loaders.postgres.extracts``, ``loaders.cassandra.extracts``) offers

    TABLES: tuple[str, ...]                       the tables it can load
    open_extracts(request: ExtractRequest) -> ContextManager[list[Extract]]

and reports every requested table to ``request.reports``: its ``TableStats`` (filled while
its dlt resource runs) or the one-line error that kept it from loading. The load runner
(``loaders.load.runner``) runs the extracts through the source's dlt pipeline and reads the
reports once the extract is done; nothing else passes between them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import pyarrow as pa

from loaders.errors import UserError
from loaders.progress import Progress
from loaders.table_stats import TableStats

if TYPE_CHECKING:
    from dlt.extract import DltSource

RefreshMode = Literal["drop_resources"]  # the one dlt refresh mode the loaders use
REFRESH_DROP: Final[RefreshMode] = "drop_resources"  # the extract's raw tables are dropped and recreated


class RawView(Protocol):
    """What a source may read of its raw schema and of its dlt pipeline (``loaders.load.raw.PipelineRaw``)."""

    @property
    def dataset(self) -> str: ...

    def connection(self) -> Any: ...

    def raw_tables(self) -> set[str]: ...

    def has_column(self, table: str, column: str) -> bool: ...

    def count_rows(self, tables: list[str]) -> dict[str, int | None]: ...

    def known_columns(self, table: str) -> dict[str, dict[str, Any]]: ...

    def resource_state(self, table: str) -> dict[str, Any]: ...

    def missing_rows(self, table: str, keys: pa.Table, match: list[str], prune: str) -> pa.Array: ...

    def different_rows(self, table: str, rows: pa.Table, key: list[str], columns: list[str]) -> pa.Array: ...


@dataclass
class TableReports:
    """Where a source reports each table: its stats, or why it was not loaded; and each batch it hands to dlt."""

    on_rows: Callable[[str, int], None] = lambda table, rows: None
    stats: dict[str, TableStats] = field(default_factory=dict)
    failures: dict[str, UserError] = field(default_factory=dict)

    def table(self, name: str) -> TableStats:
        """The stats of ``name``, created on first use (the source fills them while it extracts)."""
        return self.stats.setdefault(name, TableStats(name))

    def fail(self, name: str, error: UserError) -> None:
        self.failures[name] = error

    def rows(self, name: str, rows: int) -> None:
        """Called after each batch of ``name`` handed to dlt, with the table's rows so far."""
        self.on_rows(name, rows)


@dataclass(frozen=True)
class ExtractRequest:
    """What the runner asks of a source for one run."""

    raw: RawView
    tables: list[str]
    full_tables: frozenset[str]  # reloaded in full whatever their state (--full-refresh, discarded loads)
    progress: Progress
    reports: TableReports
    deep: bool = False  # `loaders reconcile --deep`: every row compared with raw


@dataclass(frozen=True)
class Extract:
    """One dlt extract of a run: the dlt source and whether its raw tables are dropped first."""

    source: DltSource
    refresh: RefreshMode | None = None  # REFRESH_DROP or None


Opener = Callable[[ExtractRequest], AbstractContextManager[list[Extract]]]
