"""The registry of the app's source tables: ``contracts/source_tables.yml``, read and checked.

One declarative list of the tables the loaders read and the generator writes (name, store,
columns with types, nullability and allowed values, keys, change capture, kind, delete capture). The
PostgreSQL and Cassandra table specs (``loaders.postgres.tables``, ``loaders.cassandra.tables``)
and the generator's table list are derived from it; tests hold it to the DDL, the dbt sources
and ``../shared/spec/sources.md``.

The file is found in the project folder (``PROJECT_DIR``: the repository, ``/app`` in the
image), like the dbt project. A file that breaks a rule stops the load with one line naming
the table and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal, cast, get_args

import yaml

from loaders.errors import UserError
from loaders.settings import PROJECT_DIR

REGISTRY_PATH = PROJECT_DIR / "contracts" / "source_tables.yml"

Store = Literal["postgres", "cassandra"]
Kind = Literal["mutable", "append-only", "state"]
ChangeCaptureStyle = Literal["transaction_id", "writetime"]
DeleteCapture = Literal["key_difference", "sweep", "none"]

# The change capture each store implements.
STORE_STYLE: dict[Store, ChangeCaptureStyle] = {"postgres": "transaction_id", "cassandra": "writetime"}
COLLECTION_TYPES = ("map", "set", "list")
# The types a column's ``allowed`` values (a CHECK ... IN list, an enumeration of the contract) may restrict.
TEXT_TYPES = ("text", "char", "varchar")


class RegistryError(UserError):
    """The registry file breaks a rule; the message names the file, the table and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the store's own type name, as the DDL writes it (``numeric(12,2)``, ``map<text, text>``)
    nullable: bool
    unique: bool = False
    references: str | None = None  # ``table.column`` of a PostgreSQL foreign key
    # the values the column may hold (besides null, when nullable), in the contract's order; () for any
    allowed: tuple[str, ...] = ()

    @property
    def base_type(self) -> str:
        """The type without its parameters or ``frozen``: ``numeric``, ``char``, ``map``."""
        base = self.type.split("<", 1)[0].split("(", 1)[0].strip().lower()
        return base.removeprefix("frozen").strip() or base

    @property
    def is_collection(self) -> bool:
        return self.base_type in COLLECTION_TYPES


@dataclass(frozen=True)
class ChangeCapture:
    style: ChangeCaptureStyle
    clock: str  # the column the app stamps with its own clock
    cursor: str | None = None  # PostgreSQL: the column kept as the table's position
    window: str | None = None  # Cassandra: the late-arrival window's filter column


@dataclass(frozen=True)
class SourceTable:
    name: str
    store: Store
    kind: Kind
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]  # Cassandra: the partition key, then the clustering columns
    partition_key: tuple[str, ...]  # Cassandra only; () for PostgreSQL
    change_capture: ChangeCapture
    delete_capture: DeleteCapture

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def clustering_key(self) -> tuple[str, ...]:
        """Cassandra: the primary key's columns after the partition key; () for PostgreSQL."""
        return self.primary_key[len(self.partition_key) :] if self.partition_key else ()

    @property
    def allowed_values(self) -> dict[str, tuple[str, ...]]:
        """The columns restricted to a list of values, with their values."""
        return {column.name: column.allowed for column in self.columns if column.allowed}

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass(frozen=True)
class Registry:
    tables: tuple[SourceTable, ...]

    def of_store(self, store: Store) -> tuple[SourceTable, ...]:
        """The store's tables, in the registry's order (PostgreSQL: parents first)."""
        return tuple(table for table in self.tables if table.store == store)

    def table(self, name: str) -> SourceTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


@cache
def registry() -> Registry:
    """The project's registry, read once per process."""
    return load_registry(REGISTRY_PATH)


def load_registry(path: Path) -> Registry:
    """Read and check a registry file; RegistryError (one line) on the first rule it breaks."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(
            f"cannot read the source-table registry {path}: {exc.strerror or exc}; "
            "restore contracts/source_tables.yml in the project folder (PROJECT_DIR)"
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise RegistryError(f"{path}:{line} is not valid YAML: fix its syntax") from None
    return _Reader(path).registry(document)


class _Reader:
    """Turns the parsed YAML into the dataclasses, naming the field of each error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> RegistryError:
        return RegistryError(f"{self.path}: {where}: {problem}")

    def mapping(self, value: object, where: str, required: set[str], optional: set[str]) -> dict[str, object]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {_describe(value)}")
        fields = {str(key): item for key, item in value.items()}
        unknown = sorted(set(fields) - required - optional)
        if unknown:
            raise self.fail(where, f"unknown field(s) {', '.join(unknown)}")
        missing = sorted(required - set(fields))
        if missing:
            raise self.fail(where, f"missing field(s) {', '.join(missing)}")
        return fields

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {_describe(value)}")
        return value

    def flag(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {_describe(value)}")
        return value

    def choice(self, value: object, where: str, allowed: tuple[str, ...]) -> str:
        text = self.text(value, where)
        if text not in allowed:
            raise self.fail(where, f"{text!r} is not one of {', '.join(allowed)}")
        return text

    def names(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, f"expected a non-empty list of column names, got {_describe(value)}")
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(value))

    def registry(self, document: object) -> Registry:
        top = self.mapping(document, "top level", {"version", "tables"}, set())
        if top["version"] != 1:
            raise self.fail("version", f"expected 1, got {_describe(top['version'])}")
        entries = top["tables"]
        if not isinstance(entries, list) or not entries:
            raise self.fail("tables", f"expected a non-empty list, got {_describe(entries)}")
        tables: list[SourceTable] = []
        for index, entry in enumerate(entries):
            table = self.table(entry, f"tables[{index}]", tables)
            if any(known.name == table.name for known in tables):
                raise self.fail(f"tables[{index}] ({table.name}).name", "listed twice")
            tables.append(table)
        return Registry(tuple(tables))

    def table(self, entry: object, where: str, earlier: list[SourceTable]) -> SourceTable:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            where = f"{where} ({entry['name']})"
        base = {"name", "store", "kind", "columns", "change_capture", "delete_capture"}
        fields = self.mapping(entry, where, base, {"primary_key", "partition_key", "clustering_key"})
        name = self.text(fields["name"], f"{where}.name")
        store = cast(Store, self.choice(fields["store"], f"{where}.store", get_args(Store)))
        kind = cast(Kind, self.choice(fields["kind"], f"{where}.kind", get_args(Kind)))
        columns = self.columns(fields["columns"], f"{where}.columns", earlier)
        primary_key, partition_key = self.keys(fields, where, store)
        by_name = {column.name: column for column in columns}
        for key in primary_key:
            if key not in by_name:
                raise self.fail(f"{where} key", f"column {key!r} is not in columns")
            if by_name[key].nullable:
                raise self.fail(f"{where}.columns ({key}).nullable", "a key column cannot be nullable")
        capture = self.change_capture(fields["change_capture"], f"{where}.change_capture", store, by_name)
        delete_capture = cast(
            DeleteCapture,
            self.choice(fields["delete_capture"], f"{where}.delete_capture", get_args(DeleteCapture)),
        )
        return SourceTable(name, store, kind, columns, primary_key, partition_key, capture, delete_capture)

    def columns(self, value: object, where: str, earlier: list[SourceTable]) -> tuple[Column, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, f"expected a non-empty list of columns, got {_describe(value)}")
        columns: list[Column] = []
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                at = f"{where} ({item['name']})"
            fields = self.mapping(item, at, {"name", "type", "nullable"}, {"unique", "references", "allowed"})
            name = self.text(fields["name"], f"{at}.name")
            if any(column.name == name for column in columns):
                raise self.fail(f"{at}.name", "listed twice")
            references = None
            if "references" in fields:
                references = self.text(fields["references"], f"{at}.references")
                self.check_reference(references, f"{at}.references", earlier)
            column = Column(
                name=name,
                type=self.text(fields["type"], f"{at}.type"),
                nullable=self.flag(fields["nullable"], f"{at}.nullable"),
                unique=self.flag(fields.get("unique", False), f"{at}.unique"),
                references=references,
            )
            if "allowed" in fields:
                column = replace(column, allowed=self.allowed(fields["allowed"], f"{at}.allowed", column))
            columns.append(column)
        return tuple(columns)

    def allowed(self, value: object, where: str, column: Column) -> tuple[str, ...]:
        if column.base_type not in TEXT_TYPES:
            raise self.fail(where, f"only text columns list allowed values, not {column.type}")
        if not isinstance(value, list) or not value:
            raise self.fail(where, f"expected a non-empty list of values, got {_describe(value)}")
        values = tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(value))
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise self.fail(where, f"{', '.join(map(repr, twice))} listed twice")
        return values

    def check_reference(self, reference: str, where: str, earlier: list[SourceTable]) -> None:
        table_name, dot, column_name = reference.partition(".")
        if not dot:
            raise self.fail(where, f"expected table.column, got {reference!r}")
        parent = next((table for table in earlier if table.name == table_name), None)
        if parent is None:
            raise self.fail(where, f"table {table_name!r} is not listed before this one (parents first)")
        if column_name not in parent.column_names:
            raise self.fail(where, f"table {table_name} has no column {column_name!r}")

    def keys(
        self, fields: dict[str, object], where: str, store: Store
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if store == "postgres":
            for field in ("partition_key", "clustering_key"):
                if field in fields:
                    raise self.fail(f"{where}.{field}", "only Cassandra tables have one: use primary_key")
            if "primary_key" not in fields:
                raise self.fail(where, "missing field(s) primary_key")
            return self.names(fields["primary_key"], f"{where}.primary_key"), ()
        if "primary_key" in fields:
            raise self.fail(f"{where}.primary_key", "Cassandra tables use partition_key and clustering_key")
        if "partition_key" not in fields:
            raise self.fail(where, "missing field(s) partition_key")
        partition = self.names(fields["partition_key"], f"{where}.partition_key")
        clustering: tuple[str, ...] = ()
        if fields.get("clustering_key") is not None:
            clustering = self.names(fields["clustering_key"], f"{where}.clustering_key")
        return partition + clustering, partition

    def change_capture(
        self, value: object, where: str, store: Store, columns: dict[str, Column]
    ) -> ChangeCapture:
        style_field = {"postgres": "cursor", "cassandra": "window"}[store]
        fields = self.mapping(value, where, {"style", "clock", style_field}, set())
        style = self.choice(fields["style"], f"{where}.style", get_args(ChangeCaptureStyle))
        if style != STORE_STYLE[store]:
            raise self.fail(f"{where}.style", f"{store} tables use {STORE_STYLE[store]}, not {style}")
        named: dict[str, str] = {}
        for field in ("clock", style_field):
            column = self.text(fields[field], f"{where}.{field}")
            if column not in columns:
                raise self.fail(f"{where}.{field}", f"column {column!r} is not in columns")
            named[field] = column
        return ChangeCapture(
            style=STORE_STYLE[store],
            clock=named["clock"],
            cursor=named.get("cursor"),
            window=named.get("window"),
        )


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {value!r}"[:60]
