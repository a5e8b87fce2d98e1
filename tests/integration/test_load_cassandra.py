"""The Cassandra source against the local server: full, incremental, idempotent, retried, JSON, errors.

Rows are written with the app owner's role into keyspace ``loader_test`` (never the
generator's ``app``) and loaded with the read-only ``loader`` role into a scratch DuckDB.
Every comparison is by key: the rows of Cassandra and of DuckDB, all columns, must match.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from cassandra.concurrent import execute_concurrent_with_args
from cassandra_helpers import canonical, grant_read, keyspace_owner, owner_fixture, reader_fixture

from loaders.cassandra.reader import ReadOptions, ScanFilter, read_table
from loaders.cassandra.scan import ScanFailed, TransientScanError
from loaders.cassandra.source import STATE_CURSOR, TABLES, cassandra_source
from loaders.cassandra.tables import TABLE_SPECS
from loaders.errors import UserError
from loaders.settings import CassandraSettings

KEYSPACE = "loader_test"
UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
TEXTS = ["plain", "quote ' and \" ;", "émoji 🎉 çà", "line\nbreak\ttab", "", "back\\slash", "x" * 300]


# --------------------------------------------------------------------------- fixtures
owner = owner_fixture(KEYSPACE, truncate=True)
reader = reader_fixture(KEYSPACE, scope="module")


def insert(session: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    statement = session.prepare(
        f"INSERT INTO {KEYSPACE}.{table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    execute_concurrent_with_args(
        session, statement, [tuple(r[c] for c in columns) for r in rows], concurrency=64
    )


def when(rng: random.Random, days_back: float = 30) -> dt.datetime:
    moment = NOW - dt.timedelta(days=1) - dt.timedelta(seconds=rng.uniform(0, days_back * 86400))
    return moment.replace(microsecond=rng.randrange(1000) * 1000)


def notification_states(rng: random.Random, n: int, first_id: int = 0) -> list[dict[str, Any]]:
    users = [uuid.uuid4() for _ in range(max(1, n // 10))]
    return [
        {
            "user_id": rng.choice(users),
            "notification_id": first_id + i,
            "status": rng.choice(["UNSEEN", "SEEN", "CLICKED", "DELETED", None]),
            "updated_at": when(rng),
        }
        for i in range(n)
    ]


def messages(rng: random.Random, n: int, moment: dt.datetime | None = None) -> list[dict[str, Any]]:
    groups = [uuid.uuid4() for _ in range(max(1, n // 20))]
    rows = []
    for _ in range(n):
        sent = moment or when(rng)
        rows.append(
            {
                "group_id": rng.choice(groups),
                "day": sent.date(),
                "sent_at": sent,
                "message_id": uuid.uuid1(),
                "user_id": uuid.uuid4() if rng.random() < 0.9 else None,
                "body": rng.choice(TEXTS) if rng.random() < 0.95 else None,
            }
        )
    return rows


def user_events(rng: random.Random, n: int, moment: dt.datetime | None = None) -> list[dict[str, Any]]:
    users = [uuid.uuid4() for _ in range(max(1, n // 20))]
    rows = []
    for _ in range(n):
        at = moment or when(rng)
        roll = rng.random()
        if roll < 0.1:
            properties = None
        elif roll < 0.15:
            properties = {}
        else:
            properties = {
                rng.choice(["source", "outing_id", "q"]): rng.choice(TEXTS) for _ in range(rng.randint(1, 3))
            }
        rows.append(
            {
                "user_id": rng.choice(users),
                "day": at.date(),
                "event_time": at,
                "event_id": uuid.uuid1(),
                "event_type": rng.choice(
                    ["app_open", "view_outing", "view_group", "share_outing", "search", None]
                ),
                "properties": properties,
            }
        )
    return rows


@pytest.fixture(scope="module")
def filled(owner: Any) -> dict[str, int]:
    rng = random.Random(20240501)
    data = {
        "notification_states": notification_states(rng, 3000),
        "messages": messages(rng, 3000),
        "user_events": user_events(rng, 3000),
    }
    for table, rows in data.items():
        insert(owner, table, rows)
    return {table: len(rows) for table, rows in data.items()}


def make_pipeline(path: Path, name: str = "test_cassandra") -> Any:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(path / "w.duckdb")),
        dataset_name="raw_cassandra",
        pipelines_dir=str(path / "dlt"),
    )


# --------------------------------------------------------------------------- comparison by key
def cassandra_rows(session: Any, table: str) -> dict[tuple, tuple]:
    spec = TABLE_SPECS[table]
    out = {}
    for values in session.execute(f"SELECT {', '.join(spec.columns)} FROM {KEYSPACE}.{table}"):
        row = dict(zip(spec.columns, values, strict=False))  # the loaders' sessions make tuples
        key = tuple(canonical(row[c]) for c in spec.primary_key)
        out[key] = tuple(canonical(row[c]) for c in spec.columns)
    return out


def duckdb_rows(path: Path, table: str) -> dict[tuple, tuple]:
    spec = TABLE_SPECS[table]
    with duckdb.connect(str(path / "w.duckdb"), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(spec.columns)} FROM raw_cassandra.{table}").fetchall()
    out: dict[tuple, tuple] = {}
    for row in rows:
        values = dict(zip(spec.columns, row, strict=False))
        for name in spec.json_columns:
            values[name] = json.loads(values[name]) if values[name] is not None else None
        record = tuple(canonical(values[c]) for c in spec.columns)
        key = tuple(canonical(values[c]) for c in spec.primary_key)
        assert key not in out, f"duplicate key {key} in raw_cassandra.{table}"
        out[key] = record
    return out


def assert_same(owner: Any, path: Path, table: str) -> dict[tuple, tuple]:
    source, loaded = cassandra_rows(owner, table), duckdb_rows(path, table)
    assert set(loaded) == set(source), (
        f"{table}: keys differ ({len(loaded)} loaded, {len(source)} in Cassandra)"
    )
    differing = [k for k in source if source[k] != loaded[k]]
    example = differing[0] if differing else None
    assert not differing, (
        f"{table}: {len(differing)} rows differ, e.g. {source.get(example)} != {loaded.get(example)}"
    )
    return loaded


def raw_count(path: Path, table: str) -> int:
    with duckdb.connect(str(path / "w.duckdb"), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM raw_cassandra.{table}").fetchone()[0]


def extracted_rows(info: Any, pipeline: Any, table: str) -> int:
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return counts.get(table, 0)


# --------------------------------------------------------------------------- tests
def test_full_load_equals_cassandra_by_key(
    owner: Any, reader: CassandraSettings, filled: dict, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(reader))
    expected = {}
    for table in TABLES:
        loaded = assert_same(owner, tmp_path, table)
        expected[table] = len(loaded)
        assert len(loaded) >= filled[table]
        assert pipeline.state["sources"]["cassandra"]["resources"][table][STATE_CURSOR]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'raw_cassandra'"
            ).fetchall()
        )
        for table in TABLES:
            ids = con.execute(
                f"SELECT count(*), count(DISTINCT _dlt_id), count(_dlt_load_id) FROM raw_cassandra.{table}"
            ).fetchone()
            assert ids == (expected[table],) * 3
        dispositions = con.execute("SELECT status, schema_name FROM raw_cassandra._dlt_loads").fetchall()
    assert dispositions == [(0, "cassandra")]
    assert types["notification_states.user_id"] == "UUID"
    assert types["notification_states.notification_id"] == "BIGINT"
    assert types["notification_states.updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["messages.day"] == "DATE"
    assert types["messages.message_id"] == types["messages.group_id"] == "UUID"
    assert types["user_events.properties"] == "JSON"
    assert types["user_events._dlt_load_id"] == "VARCHAR" and types["user_events._dlt_id"] == "VARCHAR"
    for table in TABLES:  # the raw layout: source columns, then dlt's two
        columns = [c for c in types if c.startswith(table + ".")]
        assert columns[-2:] == [f"{table}._dlt_load_id", f"{table}._dlt_id"]


def test_properties_is_one_json_column_not_a_child_table(
    owner: Any, reader: CassandraSettings, filled: dict, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(reader, ["user_events"]))
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw_cassandra'"
            ).fetchall()
        }
        assert "user_events__properties" not in tables
        assert not any(t.startswith("user_events__") for t in tables)
        kinds = con.execute(
            "SELECT DISTINCT json_type(properties) FROM raw_cassandra.user_events WHERE properties IS NOT NULL"
        ).fetchall()
        assert kinds == [("OBJECT",)]
        assert con.execute(
            "SELECT count(*) FROM raw_cassandra.user_events WHERE properties::VARCHAR = '{}'"
        ).fetchone() == (0,), "an empty map is null, as Cassandra stores it"
        quoted = con.execute(
            "SELECT count(*) FROM raw_cassandra.user_events WHERE properties->>'q' = 'quote '' and \" ;'"
        ).fetchone()[0]
    assert quoted > 0
    schema = pipeline.default_schema.get_table("user_events")
    assert schema["columns"]["properties"]["data_type"] == "json"


def test_incremental_picks_up_new_and_updated_rows_then_idempotent(
    owner: Any, reader: CassandraSettings, filled: dict, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(reader))
    before = {t: duckdb_rows(tmp_path, t) for t in TABLES}

    # activity: new messages and events now, states updated (and a few new ones)
    rng = random.Random(7)
    fresh_moment = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(seconds=5)
    insert(owner, "messages", messages(rng, 200, fresh_moment))
    insert(owner, "user_events", user_events(rng, 200, fresh_moment))
    updated = random.Random(8).sample(sorted(before["notification_states"]), 150)
    update = owner.prepare(
        f"UPDATE {KEYSPACE}.notification_states SET status = ?, updated_at = ? "
        "WHERE user_id = ? AND notification_id = ?"
    )
    for user_id, notification_id in updated:
        owner.execute(update, ("CLICKED", fresh_moment, uuid.UUID(user_id), notification_id))
    new_states = notification_states(rng, 50, first_id=10_000)
    for row in new_states:
        row["updated_at"] = fresh_moment
    insert(owner, "notification_states", new_states)

    pipeline.run(cassandra_source(reader))
    for table in TABLES:
        assert_same(owner, tmp_path, table)
        disposition = pipeline.default_schema.get_table(table)["write_disposition"]
        assert disposition == "merge"
    counts = pipeline.last_trace.last_normalize_info.row_counts
    # only the fresh rows (and the lag window's) were read, not the whole tables again
    assert 200 <= counts["messages"] < 1000 and 200 <= counts["user_events"] < 1000
    assert 200 <= counts["notification_states"] < 1000
    assert raw_count(tmp_path, "messages") == len(before["messages"]) + 200
    assert raw_count(tmp_path, "notification_states") == len(before["notification_states"]) + 50
    states = duckdb_rows(tmp_path, "notification_states")
    assert all(states[k][2] == "CLICKED" for k in updated)

    # a second run with nothing new changes nothing
    snapshot = {t: duckdb_rows(tmp_path, t) for t in TABLES}
    pipeline.run(cassandra_source(reader))
    for table in TABLES:
        assert duckdb_rows(tmp_path, table) == snapshot[table]


def test_retried_ranges_load_no_duplicate_and_no_missing_row(
    owner: Any, reader: CassandraSettings, filled: dict, tmp_path: Path
) -> None:
    failed: list[tuple[int, int]] = []

    def flaky(range_index: int, page: int, attempt: int) -> None:
        # the first attempt of page 1 of every third range fails (its page 0 is already emitted),
        # and the first attempt of page 0 of range 1 too
        if attempt == 0 and ((page == 1 and range_index % 3 == 0) or (page == 0 and range_index == 1)):
            failed.append((range_index, page))
            raise TransientScanError(f"injected failure of page {page} of range {range_index}")

    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(reader, fetch_size=50, page_hook=flaky))
    assert len(failed) > 10 and any(page == 1 for _, page in failed)
    for table in TABLES:
        assert_same(owner, tmp_path, table)


def test_a_range_failing_every_attempt_fails_the_scan(reader: CassandraSettings, filled: dict) -> None:
    def broken(range_index: int, page: int, attempt: int) -> None:
        if range_index == 2:
            raise TransientScanError("injected permanent failure")

    options = ReadOptions(parallelism=2, fetch_size=100, max_attempts=3, page_hook=broken)
    with pytest.raises(ScanFailed, match="3 times") as caught:
        for _ in read_table(reader, "messages", ScanFilter(), options):
            pass
    assert isinstance(caught.value, UserError) and "\n" not in str(caught.value)


def test_window_read_without_allow_filtering_reads_the_whole_table(
    owner: Any, reader: CassandraSettings, filled: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra import InvalidRequest

    import loaders.cassandra.reader as reader_module

    real_prepare = reader_module.prepare

    def guarded_prepare(*args: Any, **kwargs: Any) -> Any:
        if len(args) > 5 or kwargs.get("extra_where"):
            raise InvalidRequest(
                'Error from server: code=2200 [Invalid query] message="ALLOW FILTERING is refused"'
            )
        return real_prepare(*args, **kwargs)

    rows = cassandra_rows(owner, "user_events")
    days = sorted(r[1] for r in rows.values())
    window = ScanFilter(writetimes=True, window_column="day", window_value=days[len(days) // 2])
    in_window = {k for k, r in rows.items() if r[1] >= window.window_value}
    got = read_keys(reader, window)
    assert got == in_window and 100 < len(in_window) < len(rows)
    monkeypatch.setattr(reader_module, "prepare", guarded_prepare)
    assert read_keys(reader, window) == set(rows)  # more rows, never fewer


def read_keys(reader: CassandraSettings, scan_filter: ScanFilter) -> set[tuple]:
    tables = list(read_table(reader, "user_events", scan_filter, ReadOptions(parallelism=2)))
    assert all(t.column("_writetime").null_count < t.num_rows for t in tables if t.num_rows)
    return {
        tuple(canonical(r[c]) for c in ("user_id", "day", "event_time", "event_id"))
        for t in tables
        for r in t.to_pylist()
    }


def test_scan_reads_every_row_once_with_any_parallelism(
    owner: Any, reader: CassandraSettings, filled: dict
) -> None:
    expected = {str(k[3]) for k in cassandra_rows(owner, "messages")}
    for parallelism, fetch_size in ((1, 5000), (3, 37)):
        tables = list(
            read_table(
                reader, "messages", options=ReadOptions(parallelism=parallelism, fetch_size=fetch_size)
            )
        )
        ids = [str(i) for t in tables for i in t.column("message_id").to_pylist()]
        assert len(ids) == len(set(ids)) and set(ids) == expected
    events = read_table(reader, "user_events", options=ReadOptions(parallelism=2))
    assert sum(t.num_rows for t in events) == len(cassandra_rows(owner, "user_events"))


def test_full_refresh_replaces_the_table(
    owner: Any, reader: CassandraSettings, filled: dict, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(reader, ["notification_states"]))
    rows = cassandra_rows(owner, "notification_states")
    victim = sorted(rows)[0]
    victim_row = rows[victim]
    owner.execute(
        f"DELETE FROM {KEYSPACE}.notification_states WHERE user_id = %s AND notification_id = %s",
        (uuid.UUID(victim[0]), victim[1]),
    )
    try:
        pipeline.run(cassandra_source(reader, ["notification_states"]))  # incremental: a delete is not seen
        assert victim in duckdb_rows(tmp_path, "notification_states")
        pipeline.run(cassandra_source(reader, ["notification_states"], full_refresh=True))
        assert pipeline.default_schema.get_table("notification_states")["write_disposition"] == "replace"
        loaded = assert_same(owner, tmp_path, "notification_states")
        assert victim not in loaded
    finally:
        owner.execute(
            f"INSERT INTO {KEYSPACE}.notification_states (user_id, notification_id, status, updated_at) "
            "VALUES (%s, %s, %s, %s)",
            (uuid.UUID(victim_row[0]), victim_row[1], victim_row[2], victim_row[3]),
        )


def test_empty_table_still_lands_with_its_columns(
    owner: Any, reader: CassandraSettings, tmp_path: Path
) -> None:
    with keyspace_owner("loader_test_empty") as session:
        session.execute("TRUNCATE loader_test_empty.messages")
    pipeline = make_pipeline(tmp_path)
    pipeline.run(cassandra_source(replace(reader, keyspace="loader_test_empty"), ["messages"]))
    assert raw_count(tmp_path, "messages") == 0


# --------------------------------------------------------------------------- user errors
def assert_one_line(error: UserError) -> str:
    message = str(error)
    assert message and "\n" not in message
    return message


def test_host_down_is_a_one_line_user_error(reader: CassandraSettings) -> None:
    down = replace(reader, hosts=[("127.0.0.1", 1)])
    with pytest.raises(UserError) as caught:
        cassandra_source(down)
    message = assert_one_line(caught.value)
    assert "127.0.0.1:1" in message and "CASSANDRA_HOSTS" in message and "make up" in message


def test_bad_password_is_a_user_error_without_the_password(reader: CassandraSettings) -> None:
    wrong = replace(reader, password="Wr0ng-s3cret-Pa55")
    with pytest.raises(UserError) as caught:
        cassandra_source(wrong)
    message = assert_one_line(caught.value)
    assert "Wr0ng-s3cret-Pa55" not in message and reader.password not in message
    assert "CASSANDRA_PASSWORD" in message and reader.username in message


def test_missing_keyspace_and_table_are_user_errors(reader: CassandraSettings, owner: Any) -> None:
    with pytest.raises(UserError) as caught:
        cassandra_source(replace(reader, keyspace="no_such_keyspace"))
    assert "no_such_keyspace" in assert_one_line(caught.value) and "CASSANDRA_KEYSPACE" in str(caught.value)

    owner.execute(
        "CREATE KEYSPACE IF NOT EXISTS loader_test_bare "
        "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    grant_read(owner, "loader_test_bare")
    with pytest.raises(UserError) as caught:
        cassandra_source(replace(reader, keyspace="loader_test_bare"), ["user_events"])
    assert "loader_test_bare.user_events does not exist" in assert_one_line(caught.value)

    with pytest.raises(UserError) as caught:
        cassandra_source(reader, ["no_such_table"])
    assert "no_such_table" in assert_one_line(caught.value)
