"""The registry (contracts/source_tables.yml) agrees with every other statement of the source tables.

Each statement is read on its own terms into the same shape (tables, columns in order, types,
nullability, keys) and compared with the registry: the DDL the generator applies
(contracts/postgres.sql, contracts/cassandra.cql), the dbt sources (models/staging, every YAML
file with `sources:`), the raw layout the dbt tests build (tests/dbt/dbt_raw_fixture.py, DuckDB
types through the loaders' type mapping) and the contract itself (../shared/spec/sources.md,
when it is there). The columns' allowed values are held to PostgreSQL's CHECK (... IN ...)
constraints, the contract's lists (`∈`, `is one of`) and the staging models' accepted_values
tests (models/staging/stg_*.yml, the staging column traced to its source column through the
model's select). A copy of the registry with one change is shown to disagree with each.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from dbt_raw_fixture import TABLES as RAW_TABLES  # tests/dbt, on the import path from tests/conftest.py

from loaders.source_tables import Registry, Store, load_registry, registry

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
POSTGRES_DDL = CONTRACTS / "postgres.sql"
CASSANDRA_DDL = CONTRACTS / "cassandra.cql"
STAGING = ROOT / "models" / "staging"
SOURCES_MD = ROOT.parent / "shared" / "spec" / "sources.md"

# Columns the loaders add to every raw table (dlt's and the tombstone marker).
LOADER_COLUMNS = {"_dlt_load_id", "_dlt_id", "_loader_deleted_at"}
SOURCE_STORE: dict[str, Store] = {"raw_postgres": "postgres", "raw_cassandra": "cassandra"}
STORES: tuple[Store, ...] = ("postgres", "cassandra")

# The raw (DuckDB) type each source type lands as: ids are UUIDs, timestamps with time zone,
# Cassandra collections JSON (loaders.postgres.catalog, loaders.cassandra.tables).
RAW_TYPES = {
    ("postgres", "uuid"): "UUID",
    ("postgres", "text"): "VARCHAR",
    ("postgres", "char"): "VARCHAR",
    ("postgres", "timestamptz"): "TIMESTAMPTZ",
    ("postgres", "bigint"): "BIGINT",
    ("cassandra", "uuid"): "UUID",
    ("cassandra", "timeuuid"): "UUID",
    ("cassandra", "text"): "VARCHAR",
    ("cassandra", "bigint"): "BIGINT",
    ("cassandra", "timestamp"): "TIMESTAMPTZ",
    ("cassandra", "date"): "DATE",
    ("cassandra", "map"): "JSON",
}


@dataclass(frozen=True)
class Shape:
    """What one statement says of a table; None where it says nothing."""

    columns: tuple[str, ...]
    types: dict[str, str] | None = None
    nullable: dict[str, bool] | None = None
    primary_key: tuple[str, ...] | None = None
    partition_key: tuple[str, ...] | None = None
    unique: frozenset[str] | None = None
    references: dict[str, str] | None = None


def normal_type(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())


def split_top(text: str, angles: bool = True) -> list[str]:
    """Split on commas outside () and (Cassandra types; not SQL, where > compares) <>."""
    opening, closing = ("(<", ")>") if angles else ("(", ")")
    parts, depth, current = [], 0, ""
    for char in text:
        if char in opening:
            depth += 1
        elif char in closing:
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def names_of(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("()").strip() for part in split_top(text.strip()))


def cassandra_key(inner: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'(a, b), c, d' (inside PRIMARY KEY's parentheses) -> ((a, b), (a, b, c, d))."""
    parts = split_top(inner)
    first = parts[0].strip()
    if first.startswith("(") and first.endswith(")"):
        first = first[1:-1]
    partition = tuple(part.strip() for part in first.split(","))
    return partition, partition + tuple(part.strip() for part in parts[1:])


# ---------------------------------------------------------------------------------------------
# Readers: one per statement, each into {table: Shape}
# ---------------------------------------------------------------------------------------------


def registry_shapes(reg: Registry, store: Store) -> dict[str, Shape]:
    shapes = {}
    for table in reg.tables:
        if table.store != store:
            continue
        shapes[table.name] = Shape(
            columns=table.column_names,
            types={c.name: normal_type(c.type) for c in table.columns},
            nullable={c.name: c.nullable for c in table.columns},
            primary_key=table.primary_key,
            partition_key=table.partition_key if store == "cassandra" else None,
            unique=frozenset(c.name for c in table.columns if c.unique),
            references={c.name: c.references for c in table.columns if c.references},
        )
    return shapes


def postgres_ddl_shapes(text: str) -> dict[str, Shape]:
    shapes = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", text, re.S):
        columns, types, nullable, unique, references = [], {}, {}, set(), {}
        primary_key: tuple[str, ...] = ()
        for item in split_top(" ".join(body.split()), angles=False):
            table_key = re.fullmatch(r"PRIMARY KEY \((.*)\)", item)
            if table_key:
                primary_key = names_of(table_key.group(1))
                continue
            match = re.fullmatch(r"(\w+) (\w+(?: ?\([^)]*\))?)(.*)", item)
            assert match, f"{name}: cannot read {item!r}"
            column, type_, rest = match.groups()
            columns.append(column)
            types[column] = normal_type(type_)
            nullable[column] = "NOT NULL" not in rest and "PRIMARY KEY" not in rest
            if "PRIMARY KEY" in rest:
                primary_key = (column,)
            if re.search(r"\bUNIQUE\b", rest):
                unique.add(column)
            reference = re.search(r"REFERENCES (\w+) \((\w+)\)", rest)
            if reference:
                references[column] = f"{reference.group(1)}.{reference.group(2)}"
        shapes[name] = Shape(
            tuple(columns), types, nullable, primary_key, None, frozenset(unique), references
        )
    return shapes


def cassandra_ddl_shapes(text: str) -> dict[str, Shape]:
    shapes = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS \{keyspace\}\.(\w+) \((.*?)\n\);", text, re.S):
        columns, types = [], {}
        partition: tuple[str, ...] = ()
        primary_key: tuple[str, ...] = ()
        for item in split_top(" ".join(body.split())):
            key = re.fullmatch(r"PRIMARY KEY \((.*)\)", item)
            if key:
                partition, primary_key = cassandra_key(key.group(1))
                continue
            column, type_ = item.split(" ", 1)
            columns.append(column)
            types[column] = normal_type(type_)
        shapes[name] = Shape(tuple(columns), types, None, primary_key, partition)
    return shapes


def dbt_source_files() -> list[Path]:
    return sorted(
        path
        for path in STAGING.rglob("*.yml")
        if isinstance(doc := yaml.safe_load(path.read_text(encoding="utf-8")), dict) and "sources" in doc
    )


def dbt_source_shapes(paths: list[Path], store: Store) -> tuple[dict[str, Shape], dict[str, str | None]]:
    """The dbt sources' tables (keys as their descriptions name them) and each loaded_at_field."""
    shapes: dict[str, Shape] = {}
    clocks: dict[str, str | None] = {}
    for path in paths:
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            if SOURCE_STORE.get(source["name"]) != store:
                continue
            default_clock = (source.get("config") or {}).get("loaded_at_field")
            for table in source["tables"]:
                if table["name"].startswith("_dlt_"):
                    continue
                columns = [c for c in table.get("columns", []) if c["name"] not in LOADER_COLUMNS]
                marked = {
                    word: tuple(c["name"] for c in columns if str(c.get("description", "")).startswith(word))
                    for word in ("Primary key", "Partition key", "Clustering key")
                }
                described = re.search(r"primary key (\(.*\))", str(table.get("description", "")))
                partition = None
                if store == "cassandra":
                    partition = marked["Partition key"]
                    primary_key = partition + marked["Clustering key"]
                    if described:
                        assert cassandra_key(described.group(1)[1:-1]) == (partition, primary_key), (
                            f"{path.name}: {table['name']}: the description's key and the columns' disagree"
                        )
                else:
                    primary_key = names_of(described.group(1)[1:-1]) if described else marked["Primary key"]
                shapes[table["name"]] = Shape(
                    tuple(c["name"] for c in columns), primary_key=primary_key, partition_key=partition
                )
                clock = (table.get("config") or {}).get("loaded_at_field", default_clock)
                clocks[table["name"]] = clock
    return shapes, clocks


def raw_fixture_shapes(tables: dict[str, list[tuple[str, str]]], store: Store) -> dict[str, Shape]:
    shapes = {}
    for qualified, columns in tables.items():
        schema, name = qualified.split(".")
        if SOURCE_STORE[schema] == store:
            shapes[name] = Shape(tuple(c for c, _ in columns), {c: t.upper() for c, t in columns})
    return shapes


def registry_raw_shapes(reg: Registry, store: Store) -> dict[str, Shape]:
    shapes = {}
    for table in reg.of_store(store):
        types = {}
        for column in table.columns:
            if column.base_type == "numeric":
                types[column.name] = "DECIMAL" + normal_type(column.type).removeprefix("numeric")
            else:
                types[column.name] = RAW_TYPES.get((store, column.base_type), f"unmapped {column.type}")
        shapes[table.name] = Shape(table.column_names, types)
    return shapes


@dataclass(frozen=True)
class ContractTables:
    shapes: dict[str, Shape]
    kinds: dict[str, str]  # what sources.md says of the kind, where it says it
    increasing: dict[str, str]  # append-only PostgreSQL tables: their increasing id column
    references: dict[str, set[str]]  # PostgreSQL: the foreign keys its rules name (a → t.c)


def sources_md_tables(text: str) -> ContractTables:
    """../shared/spec/sources.md's two tables of tables, read as they are written."""
    postgres_part, _, cassandra_part = text.partition("## Cassandra")
    shapes, kinds, increasing, references = {}, {}, {}, {}
    for row in re.findall(r"^\| (\w+) \| (.+?) \| (.+?) \|$", postgres_part, re.M):
        name, columns_text, rules = row
        if name == "table":
            continue
        columns, types, nullable, unique = [], {}, {}, set()
        pending: list[str] = []  # "created_at, updated_at timestamptz not null": the type is shared
        for entry in split_top(columns_text):
            match = re.fullmatch(r"(\w+)(?: (\w+(?:\([^)]*\))?))?(.*)", entry.strip())
            assert match, f"sources.md: {name}: cannot read {entry!r}"
            column, type_, rest = match.groups()
            columns.append(column)
            if type_ is None:
                pending.append(column)
                continue
            rest = rest.strip()
            is_null = None if "null" not in rest else "not null" not in rest
            for same in [*pending, column]:
                types[same] = normal_type(type_)
                if is_null is not None:
                    nullable[same] = is_null
            pending = []
            if re.search(r"\bunique\b", rest):
                unique.add(column)
            if "identity" in rest and "increasing" in rest:
                increasing[name] = column
        key = re.search(r"pk (\([^)]*\)|\w+)", rules)
        assert key, f"sources.md: {name}: no pk in {rules!r}"
        primary_key = names_of(key.group(1).strip("()"))
        for column in primary_key:
            nullable.setdefault(column, False)
        kinds[name] = "append-only" if "append-only" in rules else "mutable"
        references[name] = {f"{a}.{t}.{c}" for a, t, c in re.findall(r"(\w+) → (\w+)\.(\w+)", rules)}
        shapes[name] = Shape(tuple(columns), types, nullable, primary_key, None, frozenset(unique))
    for row in re.findall(r"^\| (\w+) \| (.+?) \| (.+?) \|$", cassandra_part, re.M):
        name, columns_text, key_text = row
        if name == "table":
            continue
        columns, types = [], {}
        for entry in split_top(columns_text):
            column, type_ = entry.strip().split(" ", 1)
            columns.append(column)
            types[column] = normal_type(type_)
        partition, primary_key = cassandra_key(key_text.strip()[1:-1])
        shapes[name] = Shape(tuple(columns), types, None, primary_key, partition)
    for names in re.findall(r"^- ([\w, ]+?) (?:is|are) append-only", cassandra_part, re.M):
        for name in re.split(r",\s*|\s+and\s+", names):
            kinds[name.strip()] = "append-only"
    for name in re.findall(r"^- (\w+) holds at most one row per", cassandra_part, re.M):
        kinds[name] = "state"
    return ContractTables(shapes, kinds, increasing, references)


# ---------------------------------------------------------------------------------------------
# Allowed values: {table: {column: values}}, each statement read on its own terms
# ---------------------------------------------------------------------------------------------

Allowed = dict[str, dict[str, frozenset[str]]]


def registry_allowed(reg: Registry, stores: tuple[Store, ...] = STORES) -> Allowed:
    return {
        table.name: {column: frozenset(values) for column, values in table.allowed_values.items()}
        for table in reg.tables
        if table.store in stores
    }


def postgres_ddl_allowed(text: str) -> Allowed:
    """Each column's CHECK (column IN ('a', 'b')) of contracts/postgres.sql."""
    allowed: Allowed = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", text, re.S):
        allowed[name] = {}
        for item in split_top(" ".join(body.split()), angles=False):
            check = re.search(r"CHECK \((\w+) IN \(([^)]*)\)\)", item)
            if check:
                column, values = check.groups()
                assert item.split(" ", 1)[0] == column, (
                    f"postgres.sql: {name}: a CHECK on another column: {item!r}"
                )
                allowed[name][column] = frozenset(v.strip().strip("'") for v in values.split(","))
    return allowed


def _listed_values(text: str) -> tuple[frozenset[str], bool]:
    """'a, b, c' or 'a, b, or null' -> the values, and whether null is said to be allowed too."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    with_null = bool(values) and values[-1] == "or null"
    return frozenset(values[:-1] if with_null else values), with_null


LIST_OF_VALUES = r"`?(\w+)`? (?:∈|is one of) ([\w ,]+)"


def sources_md_allowed(text: str) -> tuple[Allowed, set[str]]:
    """The contract's lists of values (`column ∈ a, b` in the PostgreSQL rules, `column ∈ …` or
    `` `column` is one of …`` in the Cassandra notes), and the table.column it says may be null too."""
    contract = sources_md_tables(text)
    postgres_part, _, cassandra_part = text.partition("## Cassandra")
    cassandra_part = cassandra_part.split("\n## ", 1)[0]
    allowed: Allowed = {name: {} for name in contract.shapes}
    with_null: set[str] = set()
    for name, _columns, rules in re.findall(r"^\| (\w+) \| (.+?) \| (.+?) \|$", postgres_part, re.M):
        for column, values in re.findall(LIST_OF_VALUES, rules):
            allowed[name][column], null_too = _listed_values(values)
            if null_too:
                with_null.add(f"{name}.{column}")
    cassandra_tables = {n for n, shape in contract.shapes.items() if shape.partition_key is not None}
    for note in re.split(r"\n- ", cassandra_part):
        note = " ".join(note.split())
        named = {word for word in re.findall(r"\w+", note) if word in cassandra_tables}
        for column, values in re.findall(LIST_OF_VALUES, note):
            owners = [n for n in sorted(named) if column in contract.shapes[n].columns]
            assert len(owners) == 1, f"sources.md: {column} ∈ … names no one table of its note: {note!r}"
            allowed[owners[0]][column], null_too = _listed_values(values)
            if null_too:
                with_null.add(f"{owners[0]}.{column}")
    return allowed, with_null


SELECT_ITEM = re.compile(r"\s*(?:cast\((\w+) as [^)]*\)|(\w+))(?: as (\w+))?,?\s*", re.I)


def staging_columns(sql: str) -> dict[str, str]:
    """{source column: staging column} of a staging model's select items that take one column
    as it is (``status``), cast (``cast(currency as varchar) as currency``) or renamed
    (``role as member_role``)."""
    traced = {}
    for line in sql.rpartition("\nselect\n")[2].splitlines():
        item = SELECT_ITEM.fullmatch(line)
        if item:
            source = item.group(1) or item.group(2)
            traced[source] = item.group(3) or source
    return traced


def staging_allowed(folder: Path) -> tuple[Allowed, list[str]]:
    """The accepted_values tests of the staging models (stg_<store>__<table>), keyed by the
    source table and column each staging column comes from; and what could not be traced."""
    allowed: Allowed = {}
    untraced = []
    for path in sorted(folder.rglob("stg_*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            table = model["name"].split("__", 1)[1]
            sql_path = path.with_name(f"{model['name']}.sql")
            back = {stg: src for src, stg in staging_columns(sql_path.read_text(encoding="utf-8")).items()}
            allowed.setdefault(table, {})
            for column in model.get("columns", []):
                for test in column.get("data_tests") or column.get("tests") or []:
                    if not isinstance(test, dict) or "accepted_values" not in test:
                        continue
                    spec = test["accepted_values"]
                    values = (spec.get("arguments") or {}).get("values", spec.get("values"))
                    if column["name"] not in back:
                        untraced.append(f"{model['name']}.{column['name']}")
                        continue
                    allowed[table][back[column["name"]]] = frozenset(str(v) for v in values)
    return allowed, untraced


def allowed_differences(expected: Allowed, actual: Allowed, label: str) -> list[str]:
    """Where `actual`'s allowed values (the statement named `label`) differ from the registry's,
    over the tables `actual` speaks of."""
    found = []
    for table in sorted(set(actual) - set(expected)):
        found.append(f"{label}: allowed values of {table}, a table the registry does not list")
    for table in sorted(set(expected) & set(actual)):
        want, got = expected[table], actual[table]
        for column in sorted(set(want) | set(got)):
            if want.get(column) != got.get(column):
                found.append(
                    f"{label}: {table}.{column} allowed {sorted(got.get(column, ()))}, "
                    f"the registry {sorted(want.get(column, ()))}"
                )
    return found


def allowed_value_differences(reg: Registry, sources_md: str | None = None) -> list[str]:
    """The registry's allowed values against the DDL, the staging tests and (given) sources.md."""
    found = allowed_differences(
        registry_allowed(reg, ("postgres",)),
        postgres_ddl_allowed(POSTGRES_DDL.read_text(encoding="utf-8")),
        "postgres.sql CHECK",
    )
    staged, untraced = staging_allowed(STAGING)
    found += [f"staging: accepted_values of {name} not traced to a source column" for name in untraced]
    found += allowed_differences(registry_allowed(reg), staged, "staging accepted_values")
    if sources_md is not None:
        contract, with_null = sources_md_allowed(sources_md)
        found += allowed_differences(registry_allowed(reg), contract, "sources.md")
        for qualified in sorted(with_null):
            table, column = qualified.split(".")
            if not reg.table(table).column(column).nullable:
                found.append(f"sources.md: {qualified} may be null, the registry says not nullable")
    return found


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------


def differences(expected: dict[str, Shape], actual: dict[str, Shape], label: str) -> list[str]:
    """Where `actual` (the statement named `label`) disagrees with `expected` (the registry)."""
    found = []
    if set(expected) != set(actual):
        found.append(f"{label}: tables {sorted(actual)} instead of the registry's {sorted(expected)}")
    for name in sorted(set(expected) & set(actual)):
        want, got = expected[name], actual[name]
        if want.columns != got.columns:
            found.append(f"{label}: {name} has columns {got.columns}, the registry {want.columns}")
            continue
        for field in ("types", "nullable"):
            got_map, want_map = getattr(got, field), getattr(want, field)
            if got_map is None or want_map is None:
                continue
            for column in want.columns:
                if column in got_map and got_map[column] != want_map[column]:
                    found.append(
                        f"{label}: {name}.{column} {field} {got_map[column]!r}, the registry {want_map[column]!r}"
                    )
        for field in ("primary_key", "partition_key", "unique", "references"):
            got_value, want_value = getattr(got, field), getattr(want, field)
            if got_value is not None and want_value is not None and got_value != want_value:
                found.append(f"{label}: {name} {field} {got_value}, the registry {want_value}")
    return found


def postgres_ddl_differences(reg: Registry, ddl: str) -> list[str]:
    found = differences(registry_shapes(reg, "postgres"), postgres_ddl_shapes(ddl), "postgres.sql")
    order = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl)
    registry_order = [t.name for t in reg.of_store("postgres")]
    if order != registry_order:
        found.append(f"postgres.sql creates {order}, the registry lists {registry_order} (parents first)")
    return found


def cassandra_ddl_differences(reg: Registry, ddl: str) -> list[str]:
    return differences(registry_shapes(reg, "cassandra"), cassandra_ddl_shapes(ddl), "cassandra.cql")


def dbt_source_differences(reg: Registry, paths: list[Path]) -> list[str]:
    found = []
    for store in STORES:
        shapes, clocks = dbt_source_shapes(paths, store)
        found += differences(registry_shapes(reg, store), shapes, f"dbt sources ({store})")
        for table in reg.of_store(store):
            if table.name in clocks and clocks[table.name] != table.change_capture.clock:
                found.append(
                    f"dbt sources: {table.name} loaded_at_field {clocks[table.name]!r}, "
                    f"the registry's clock {table.change_capture.clock!r}"
                )
    return found


def sources_md_differences(reg: Registry, text: str) -> list[str]:
    contract = sources_md_tables(text)
    found = []
    for store in STORES:
        mine = registry_shapes(reg, store)
        theirs = {
            name: shape
            for name, shape in contract.shapes.items()
            if (shape.partition_key is None) == (store == "postgres")
        }
        found += differences(mine, theirs, f"sources.md ({store})")
    for name, kind in contract.kinds.items():
        if name in {t.name for t in reg.tables} and reg.table(name).kind != kind:
            found.append(f"sources.md: {name} is {kind}, the registry says {reg.table(name).kind}")
    for table in reg.of_store("postgres"):
        cursor = table.change_capture.cursor
        expected_cursor = contract.increasing.get(table.name, "updated_at")
        if table.kind == "mutable" and cursor != "updated_at":
            found.append(
                f"sources.md: mutable {table.name} moves on updated_at, the registry's cursor is {cursor}"
            )
        if table.kind == "append-only" and cursor != expected_cursor:
            found.append(
                f"sources.md: {table.name}'s increasing id is {expected_cursor}, the registry's cursor {cursor}"
            )
        named = {f"{c.name}.{c.references}" for c in table.columns if c.references}
        missing = contract.references.get(table.name, set()) - named
        if missing:
            found.append(f"sources.md: {table.name} names foreign keys {sorted(missing)} the registry lacks")
    return found


def raw_fixture_differences(reg: Registry, tables: dict[str, list[tuple[str, str]]]) -> list[str]:
    found = []
    for store in STORES:
        found += differences(
            registry_raw_shapes(reg, store), raw_fixture_shapes(tables, store), f"raw fixture ({store})"
        )
    return found


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


def test_registry_agrees_with_the_postgres_ddl() -> None:
    assert postgres_ddl_differences(registry(), POSTGRES_DDL.read_text(encoding="utf-8")) == []


def test_registry_agrees_with_the_cassandra_ddl() -> None:
    assert cassandra_ddl_differences(registry(), CASSANDRA_DDL.read_text(encoding="utf-8")) == []


def test_registry_agrees_with_the_dbt_sources() -> None:
    paths = dbt_source_files()
    assert paths, "no YAML file with `sources:` under models/staging"
    assert dbt_source_differences(registry(), paths) == []


def test_registry_agrees_with_the_raw_layout_of_the_dbt_tests() -> None:
    assert raw_fixture_differences(registry(), RAW_TABLES) == []


@pytest.mark.skipif(not SOURCES_MD.is_file(), reason="../shared/spec/sources.md is not beside the repository")
def test_registry_agrees_with_the_source_contract() -> None:
    text = SOURCES_MD.read_text(encoding="utf-8")
    contract = sources_md_tables(text)
    assert len(contract.shapes) == len(registry().tables)  # every table of the contract was read
    assert sources_md_differences(registry(), text) == []


def test_registry_allowed_values_agree_with_the_checks_the_contract_and_the_staging_tests() -> None:
    reg = registry()
    assert (
        sum(len(t.allowed_values) for t in reg.tables) == 9
    )  # every list of the contract is in the registry
    assert len(postgres_ddl_allowed(POSTGRES_DDL.read_text(encoding="utf-8"))["payments"]) == 2
    staged, untraced = staging_allowed(STAGING)
    assert untraced == [] and staged["group_members"] == {"role": frozenset({"owner", "admin", "member"})}
    text = SOURCES_MD.read_text(encoding="utf-8") if SOURCES_MD.is_file() else None
    if text is not None:
        contract, with_null = sources_md_allowed(text)
        assert sum(len(columns) for columns in contract.values()) == 9 and with_null == {
            "notification_states.status"
        }
    assert allowed_value_differences(reg, text) == []


# ---- the checks can fail: a registry with one change disagrees with each statement ----------


def test_a_changed_allowed_value_is_found_everywhere(tmp_path: Path) -> None:
    reg = mutated_registry(
        tmp_path, "allowed: [pending, succeeded, refunded, failed] => allowed: [pending, succeeded, refunded]"
    )
    text = SOURCES_MD.read_text(encoding="utf-8") if SOURCES_MD.is_file() else None
    found = allowed_value_differences(reg, text)
    assert any(d.startswith("postgres.sql CHECK: payments.status allowed") for d in found), found
    assert any(d.startswith("staging accepted_values: payments.status allowed") for d in found), found
    if text is not None:
        assert any(d.startswith("sources.md: payments.status allowed") for d in found), found
    # a Cassandra list (no CHECK there): the staging test and the contract's note
    reg = mutated_registry(
        tmp_path, "allowed: [UNSEEN, SEEN, CLICKED, DELETED] => allowed: [UNSEEN, SEEN, CLICKED]"
    )
    found = allowed_value_differences(reg, text)
    assert any(d.startswith("staging accepted_values: notification_states.status") for d in found), found
    if text is not None:
        assert any(d.startswith("sources.md: notification_states.status") for d in found), found


def test_a_list_missing_from_the_registry_or_a_staging_test_is_found(tmp_path: Path) -> None:
    reg = mutated_registry(tmp_path, ", allowed: [owner, admin, member]} => }")
    assert any(
        "group_members.role allowed ['admin', 'member', 'owner'], the registry []" in d
        for d in allowed_value_differences(reg)
    )
    staging = tmp_path / "staging"
    shutil.copytree(STAGING, staging)
    model = staging / "stg_postgres__group_members.yml"
    model.write_text(
        model.read_text(encoding="utf-8").replace('["owner", "admin", "member"]', '["owner", "member"]'),
        encoding="utf-8",
    )
    staged, _ = staging_allowed(staging)
    found = allowed_differences(registry_allowed(registry()), staged, "staging accepted_values")
    assert found == [
        "staging accepted_values: group_members.role allowed ['member', 'owner'], the registry ['admin', 'member', 'owner']"
    ]
    sql = staging / "stg_postgres__group_members.sql"
    sql.write_text(
        sql.read_text(encoding="utf-8").replace("role as member_role", "lower(role) as member_role"),
        encoding="utf-8",
    )
    assert staging_allowed(staging)[1] == [
        "stg_postgres__group_members.member_role"
    ]  # not traced: said, not guessed


def test_a_null_the_registry_refuses_is_found(tmp_path: Path) -> None:
    if not SOURCES_MD.is_file():
        pytest.skip("../shared/spec/sources.md is not beside the repository")
    reg = mutated_registry(
        tmp_path, "{name: status, type: text, nullable: true, => {name: status, type: text, nullable: false,"
    )
    found = allowed_value_differences(reg, SOURCES_MD.read_text(encoding="utf-8"))
    assert "sources.md: notification_states.status may be null, the registry says not nullable" in found


def mutated_registry(tmp_path: Path, edit: str) -> Registry:
    """A copy of the registry file with one edit (`old => new`, replaced once)."""
    old, new = edit.split(" => ")
    text = (CONTRACTS / "source_tables.yml").read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    copy = tmp_path / "source_tables.yml"
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_registry(copy)


def test_a_changed_type_is_found_everywhere(tmp_path: Path) -> None:
    reg = mutated_registry(tmp_path, 'type: "numeric(12,2)" => type: "numeric(10,2)"')
    assert any("payments.amount types" in d for d in postgres_ddl_differences(reg, POSTGRES_DDL.read_text()))
    assert any("payments.amount types" in d for d in raw_fixture_differences(reg, RAW_TABLES))
    if SOURCES_MD.is_file():
        assert any("payments.amount types" in d for d in sources_md_differences(reg, SOURCES_MD.read_text()))


def test_a_changed_nullability_is_found(tmp_path: Path) -> None:
    reg = mutated_registry(
        tmp_path, "{name: city, type: text, nullable: true} => {name: city, type: text, nullable: false}"
    )
    assert any("users.city nullable" in d for d in postgres_ddl_differences(reg, POSTGRES_DDL.read_text()))
    if SOURCES_MD.is_file():
        assert any("users.city nullable" in d for d in sources_md_differences(reg, SOURCES_MD.read_text()))


def test_a_changed_key_is_found_everywhere(tmp_path: Path) -> None:
    reg = mutated_registry(
        tmp_path, "clustering_key: [sent_at, message_id] => clustering_key: [message_id, sent_at]"
    )
    assert any("messages primary_key" in d for d in cassandra_ddl_differences(reg, CASSANDRA_DDL.read_text()))
    assert any("messages primary_key" in d for d in dbt_source_differences(reg, dbt_source_files()))
    if SOURCES_MD.is_file():
        assert any("messages primary_key" in d for d in sources_md_differences(reg, SOURCES_MD.read_text()))


def test_a_dropped_column_and_a_changed_clock_are_found(tmp_path: Path) -> None:
    text = (CONTRACTS / "source_tables.yml").read_text(encoding="utf-8")
    copy = tmp_path / "source_tables.yml"
    copy.write_text(
        text.replace("      - {name: left_at, type: timestamptz, nullable: true}\n", "", 1).replace(
            "change_capture: {style: writetime, clock: sent_at, window: day}",
            "change_capture: {style: writetime, clock: day, window: day}",
            1,
        ),
        encoding="utf-8",
    )
    reg = load_registry(copy)
    assert any("group_members has columns" in d for d in dbt_source_differences(reg, dbt_source_files()))
    assert any("messages loaded_at_field" in d for d in dbt_source_differences(reg, dbt_source_files()))
    assert any(
        "group_members has columns" in d for d in postgres_ddl_differences(reg, POSTGRES_DDL.read_text())
    )


def test_a_changed_ddl_is_found() -> None:
    ddl = POSTGRES_DDL.read_text(encoding="utf-8").replace("    city text NULL,\n", "", 1)
    assert any("users has columns" in d for d in postgres_ddl_differences(registry(), ddl))
    cql = CASSANDRA_DDL.read_text(encoding="utf-8").replace(
        "PRIMARY KEY ((user_id), notification_id)", "PRIMARY KEY ((user_id, notification_id))"
    )
    assert any("notification_states" in d for d in cassandra_ddl_differences(registry(), cql))


def test_kinds_are_checked_against_the_contract() -> None:
    if not SOURCES_MD.is_file():
        pytest.skip("../shared/spec/sources.md is not beside the repository")
    reg = registry()
    events = reg.table("user_events")
    changed = Registry(tuple(replace(t, kind="state") if t is events else t for t in reg.tables))
    assert any(
        "user_events is append-only" in d for d in sources_md_differences(changed, SOURCES_MD.read_text())
    )
