"""The registry of source tables (loaders/source_tables.py): what it reads, what derives from it,
and the one-line error a broken file gives (naming the table and the field)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loaders.cassandra import tables as cassandra_tables
from loaders.errors import UserError
from loaders.postgres import tables as postgres_tables
from loaders.source_tables import REGISTRY_PATH, RegistryError, load_registry, registry


def test_the_project_registry_lists_both_stores() -> None:
    reg = registry()
    assert REGISTRY_PATH.parts[-2:] == ("contracts", "source_tables.yml")
    assert [t.name for t in reg.of_store("postgres")] == [
        "users",
        "groups",
        "group_members",
        "outings",
        "outing_participants",
        "payments",
        "notifications",
    ]
    assert [t.name for t in reg.of_store("cassandra")] == ["notification_states", "messages", "user_events"]
    events = reg.table("user_events")
    assert events.partition_key == ("user_id", "day")
    assert events.clustering_key == ("event_time", "event_id")
    assert events.column("properties").is_collection
    assert reg.table("payments").clustering_key == ()
    assert reg.table("payments").column("amount").base_type == "numeric"


def test_postgres_specs_derive_from_the_registry() -> None:
    reg = registry()
    assert tuple(t.name for t in reg.of_store("postgres")) == postgres_tables.TABLES
    for table in reg.of_store("postgres"):
        spec = postgres_tables.SPECS_BY_NAME[table.name]
        assert spec.primary_key == table.primary_key
        assert spec.cursor == table.change_capture.cursor
        assert spec.clock == table.change_capture.clock
        assert spec.append_only == (table.kind == "append-only")
        assert spec.capture_deletes == (table.delete_capture == "key_difference")
    notifications = postgres_tables.SPECS_BY_NAME["notifications"]
    assert (notifications.cursor, notifications.clock, notifications.append_only) == (
        "id",
        "created_at",
        True,
    )
    assert postgres_tables.APPEND_TIME_COLUMN == "created_at"


def test_cassandra_specs_derive_from_the_registry() -> None:
    assert cassandra_tables.TABLES == ("notification_states", "messages", "user_events")
    states = cassandra_tables.TABLE_SPECS["notification_states"]
    assert states.primary_key == ("user_id", "notification_id")
    assert states.writetime_columns == ("status", "updated_at")  # the regular columns
    assert (states.app_time, states.window_column, states.detect_deletes) == (
        "updated_at",
        "updated_at",
        True,
    )
    events = cassandra_tables.TABLE_SPECS["user_events"]
    assert events.writetime_columns == ("event_type",)  # a collection's WRITETIME is per element
    assert events.json_columns == ("properties",)
    assert (events.app_time, events.window_column) == ("event_time", "day")
    messages = cassandra_tables.TABLE_SPECS["messages"]
    assert messages.columns == ("group_id", "day", "sent_at", "message_id", "user_id", "body")
    assert messages.writetime_columns == ("user_id", "body")
    assert messages.json_columns == ()


def test_the_generator_tables_derive_from_the_registry() -> None:
    from datagen import tables as generator_tables

    reg = registry()
    assert tuple(t.name for t in reg.of_store("postgres")) == generator_tables.PG_ORDER  # parents first
    assert generator_tables.PG_TABLES["payments"].kinds == "uuunssttt"  # numeric n, char(3) s
    assert generator_tables.PG_TABLES["notifications"].kinds == "nusuut"  # bigint id n
    for table in reg.of_store("postgres"):
        assert generator_tables.PG_TABLES[table.name].columns == table.column_names
    states = generator_tables.CASSANDRA_TABLES["notification_states"]
    assert (states.partition_key, states.nullable) == ((0,), (2,))  # status may be left unwritten
    events = generator_tables.CASSANDRA_TABLES["user_events"]
    assert (events.partition_key, events.nullable) == ((0, 1), (5,))  # properties
    assert generator_tables.CASSANDRA_TABLES["messages"].nullable == ()


def test_a_type_the_generator_cannot_write_is_named(tmp_path: Path) -> None:
    from datagen.tables import pg_table

    document = _document()
    users_columns = _table(document, "users")["columns"]
    assert isinstance(users_columns, list)
    users_columns[3]["type"] = "inet"
    users = load_registry(_write(tmp_path, document)).table("users")
    with pytest.raises(RegistryError, match=r"users\.city: the generator cannot write type 'inet'"):
        pg_table(users)


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "source_tables.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _document() -> dict[str, object]:
    loaded = yaml.safe_load(REGISTRY_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _table(document: dict[str, object], name: str) -> dict[str, object]:
    tables = document["tables"]
    assert isinstance(tables, list)
    return next(t for t in tables if t["name"] == name)


def test_a_copy_of_the_file_loads_the_same(tmp_path: Path) -> None:
    assert load_registry(_write(tmp_path, _document())) == registry()


def test_allowed_values_are_read_in_order_and_absent_means_any() -> None:
    payments = registry().table("payments")
    assert payments.column("status").allowed == ("pending", "succeeded", "refunded", "failed")
    assert payments.allowed_values == {
        "currency": ("EUR", "USD", "GBP", "CHF"),
        "status": ("pending", "succeeded", "refunded", "failed"),
    }
    assert payments.column("user_id").allowed == ()
    states = registry().table("notification_states")
    assert states.column("status").allowed == ("UNSEEN", "SEEN", "CLICKED", "DELETED")
    assert states.column("status").nullable  # null as well: a row written before any state was known


BROKEN = [
    # (what to break, the words the error must hold)
    ("users: columns[1] without type", "tables[0] (users).columns (username): missing field(s) type"),
    ("users: nullable key", "tables[0] (users).columns (id).nullable: a key column cannot be nullable"),
    ("payments: unknown store", "tables[5] (payments).store: 'mysql' is not one of postgres, cassandra"),
    (
        "outings: cursor not a column",
        "tables[3] (outings).change_capture.cursor: column 'changed_at' is not in columns",
    ),
    (
        "groups: reference to a later table",
        "tables[1] (groups).columns (owner_id).references: table 'outings' is not listed before",
    ),
    (
        "messages: a primary_key",
        "tables[8] (messages).primary_key: Cassandra tables use partition_key and clustering_key",
    ),
    (
        "user_events: postgres style",
        "tables[9] (user_events).change_capture.style: cassandra tables use writetime",
    ),
    ("users: a typo", "tables[0] (users): unknown field(s) primary_kye"),
    (
        "notifications: nullable as text",
        "tables[6] (notifications).columns (kind).nullable: expected true or false, got 'no'",
    ),
    ("users twice", "tables[1] (users).name: listed twice"),
    (
        "payments: allowed on a number",
        "tables[5] (payments).columns (amount).allowed: only text columns list allowed values, not numeric(12,2)",
    ),
    ("payments: a status twice", "tables[5] (payments).columns (status).allowed: 'failed' listed twice"),
    (
        "outings: allowed not a list",
        "tables[3] (outings).columns (status).allowed: expected a non-empty list of values, got 'planned'",
    ),
]


def _break(document: dict[str, object], what: str) -> None:
    users, payments, outings = (
        _table(document, "users"),
        _table(document, "payments"),
        _table(document, "outings"),
    )
    columns = users["columns"]
    assert isinstance(columns, list)
    if what == "users: columns[1] without type":
        del columns[1]["type"]
    elif what == "users: nullable key":
        columns[0]["nullable"] = True
    elif what == "payments: unknown store":
        payments["store"] = "mysql"
    elif what == "outings: cursor not a column":
        capture = outings["change_capture"]
        assert isinstance(capture, dict)
        capture["cursor"] = "changed_at"
    elif what == "groups: reference to a later table":
        groups_columns = _table(document, "groups")["columns"]
        assert isinstance(groups_columns, list)
        groups_columns[2]["references"] = "outings.id"
    elif what == "messages: a primary_key":
        _table(document, "messages")["primary_key"] = ["group_id"]
    elif what == "user_events: postgres style":
        capture = _table(document, "user_events")["change_capture"]
        assert isinstance(capture, dict)
        capture["style"] = "transaction_id"
    elif what == "users: a typo":
        users["primary_kye"] = users.pop("primary_key")
    elif what == "notifications: nullable as text":
        notification_columns = _table(document, "notifications")["columns"]
        assert isinstance(notification_columns, list)
        notification_columns[2]["nullable"] = "no"
    elif what.startswith(("payments: allowed", "payments: a status", "outings: allowed")):
        table = payments if what.startswith("payments") else outings
        table_columns = table["columns"]
        assert isinstance(table_columns, list)
        by_name = {c["name"]: c for c in table_columns}
        if what == "payments: allowed on a number":
            by_name["amount"]["allowed"] = ["1"]
        elif what == "payments: a status twice":
            by_name["status"]["allowed"] = [*by_name["status"]["allowed"], "failed"]
        else:
            by_name["status"]["allowed"] = "planned"
    elif what == "users twice":
        tables = document["tables"]
        assert isinstance(tables, list)
        tables[1] = dict(users)
    else:
        raise AssertionError(what)


@pytest.mark.parametrize(("what", "message"), BROKEN, ids=[what for what, _ in BROKEN])
def test_a_broken_file_is_refused_in_one_line(tmp_path: Path, what: str, message: str) -> None:
    document = _document()
    _break(document, what)
    path = _write(tmp_path, document)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    text = str(caught.value)
    assert message in text
    assert text.startswith(str(path))
    assert "\n" not in text
    assert isinstance(caught.value, UserError)  # the CLI prints it as one line, exit 2


def test_the_cli_says_a_broken_registry_in_one_line(tmp_path: Path) -> None:
    """The registry is read as the commands load: a broken one is one line and exit 2, no traceback."""
    document = _document()
    _break(document, "users: nullable key")
    (tmp_path / "contracts").mkdir()
    _write(tmp_path / "contracts", document)
    env = {**os.environ, "PROJECT_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "loaders.cli", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("loaders: error: ")
    assert "tables[0] (users).columns (id).nullable: a key column cannot be nullable" in lines[0]


def test_a_missing_or_unreadable_file_says_where_it_is_looked_for(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"restore contracts/source_tables.yml in the project folder"):
        load_registry(tmp_path / "nothing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("tables: [\n  - name: users\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"is not valid YAML: fix its syntax") as caught:
        load_registry(bad)
    assert "\n" not in str(caught.value)
