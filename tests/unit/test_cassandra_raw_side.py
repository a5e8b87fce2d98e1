"""The raw side of a Cassandra sweep (pure: DuckDB in memory, no server): staged rows diffed against raw once.

A raw ``user_events`` table is built in DuckDB with the loader's types (UUID, TIMESTAMPTZ, JSON,
``_loader_deleted_at``); source rows are staged as a scan would stage them; ``RawTable.changed``
must return exactly the rows raw lacks or holds differently, in the scan's Arrow types, and
``deleted_keys`` exactly the live raw keys neither staged nor rejected.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.cassandra import raw_side
from loaders.cassandra.raw_side import (
    DIFF_MEMORY_LIMIT,
    PART_COLUMN,
    RawTable,
    StagedRows,
    diff_memory,
    diff_memory_cap,
)
from loaders.cassandra.tables import TABLE_SPECS
from loaders.duckdb_memory import memory_bytes, memory_limit_within

SPEC = TABLE_SPECS["user_events"]
Row = dict[str, Any]
UTC = dt.UTC
AT = dt.datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
RAW_DDL = (
    "CREATE TABLE raw_cassandra.user_events (user_id UUID, day DATE, event_time TIMESTAMPTZ, "
    "event_id UUID, event_type VARCHAR, properties JSON, _loader_deleted_at TIMESTAMPTZ, "
    "_dlt_load_id VARCHAR, _dlt_id VARCHAR)"
)


def uuids(values: list[uuid.UUID | None]) -> pa.Array:
    storage = pa.array([None if v is None else v.bytes for v in values], type=pa.binary(16))
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def event_rows(rows: list[Row]) -> pa.Table:
    """user_events rows in the scan's Arrow types (keys not nullable, properties as JSON text)."""
    return pa.table(
        {
            "user_id": uuids([r["user_id"] for r in rows]),
            "day": pa.array([r["event_time"].date() for r in rows], pa.date32()),
            "event_time": pa.array([r["event_time"] for r in rows], pa.timestamp("us", tz="UTC")),
            "event_id": uuids([r["event_id"] for r in rows]),
            "event_type": pa.array([r["event_type"] for r in rows], pa.string()),
            "properties": pa.array([r["properties"] for r in rows], pa.string()),
        }
    )


def row(n: int, event_type: str | None = "app_open", properties: str | None = '{"source":"push"}') -> Row:
    return {
        "user_id": uuid.UUID(int=n),
        "event_time": AT + dt.timedelta(minutes=n),
        "event_id": uuid.UUID(int=1000 + n),
        "event_type": event_type,
        "properties": properties,
    }


def key(r: Row) -> tuple[Any, ...]:
    return (str(r["user_id"]), r["event_time"].date(), r["event_time"], str(r["event_id"]))


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw_cassandra")
    con.execute(RAW_DDL)
    yield con
    con.close()


@pytest.fixture(
    params=[None, "re-read", "partitioned"],
    ids=["one part", "parts of 2 rows", "parts of 2 rows written once"],
)
def diff_parts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int | None:
    """The diffs in one join, or in parts by the key's hash (raw's UUIDs against the staged and rejected
    keys' Arrow UUIDs: a key and its twin must fall in the same part, or a live key looks deleted):
    each part filtering raw and the staged file again, or both sides first written once by part."""
    if request.param is None:
        return None
    monkeypatch.setattr(raw_side, "DIFF_PART_ROWS", 2)
    monkeypatch.setattr(raw_side, "PARTITIONED_FROM_PARTS", 2 if request.param == "partitioned" else 10**9)
    return 2


def put_raw(con: duckdb.DuckDBPyConnection, rows: list[Row], deleted: bool = False) -> None:
    batch = event_rows(rows)
    con.register("incoming", batch)
    stamp = "now()" if deleted else "NULL"
    con.execute(
        "INSERT INTO raw_cassandra.user_events SELECT user_id, day, event_time, event_id, "
        + ("NULL, NULL, " if deleted else "event_type, CAST(properties AS JSON), ")
        + f"{stamp}, 'load', 'id' FROM incoming"
    )
    con.unregister("incoming")


def test_changed_returns_exactly_the_rows_raw_lacks_or_holds_differently(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path, diff_parts: int | None
) -> None:
    same, null_same = row(1), row(2, event_type=None)
    put_raw(connection, [same, null_same, row(3), row(4, event_type="search")])
    bare = row(7, event_type=None, properties=None)  # every regular cell null: equal to its tombstone
    put_raw(connection, [row(5), bare], deleted=True)  # raw holds rows 5 and 7 as tombstones
    source = [
        same,
        null_same,  # null = null: unchanged
        row(3, properties='{"source":"feed"}'),  # only the map changed (no write time moves with it)
        row(4, event_type=None),  # a value became null
        row(5),  # written again after its delete
        row(6),  # new
        bare,  # written again after its delete, with no value: live again
    ]
    raw = RawTable(connection, "raw_cassandra", SPEC)
    with StagedRows(SPEC, tmp_path) as staged:
        staged.add(event_rows(source[:4]))
        staged.add(event_rows(source[4:]))
        out = list(raw.changed(staged, batch_rows=2))
    assert all(t.num_rows <= 2 for t in out)
    changed = pa.concat_tables(out)
    assert changed.schema == event_rows(source).schema  # the scan's own types: uuid, UTC timestamps
    got = {tuple(r.values()) for r in changed.to_pylist()}
    expected = {tuple(r.values()) for r in event_rows(source[2:]).to_pylist()}
    assert got == expected


def test_no_change_stages_everything_and_changes_nothing(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path, diff_parts: int | None
) -> None:
    rows = [row(n, properties=None if n % 3 == 0 else f'{{"n":"{n}"}}') for n in range(50)]
    put_raw(connection, rows)
    raw = RawTable(connection, "raw_cassandra", SPEC)
    with StagedRows(SPEC, tmp_path) as staged:
        for start in range(0, 50, 7):
            staged.add(event_rows(rows[start : start + 7]))
        assert staged.rows == 50
        assert raw.diff_parts(staged.rows) == (1 if diff_parts is None else 25)
        assert list(raw.changed(staged, batch_rows=10)) == []


def test_deleted_keys_are_the_live_raw_keys_neither_staged_nor_rejected(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path, diff_parts: int | None
) -> None:
    put_raw(connection, [row(1), row(2), row(7), row(8)])
    put_raw(connection, [row(9)], deleted=True)  # already a tombstone: not deleted again
    raw = RawTable(connection, "raw_cassandra", SPEC)
    rejected = event_rows([row(8)]).select(list(SPEC.primary_key))  # read but left out: it exists
    with StagedRows(SPEC, tmp_path) as staged:
        staged.add(event_rows([row(1), row(2, event_type="edited")]))
        gone = pa.concat_tables(list(raw.deleted_keys(staged, [rejected])))
        nothing_staged = StagedRows(SPEC, tmp_path / "empty")
        everything = pa.concat_tables(list(raw.deleted_keys(nothing_staged, [])))
    assert gone.column_names == list(SPEC.primary_key)
    assert [tuple(r.values()) for r in gone.to_pylist()] == [key(row(7))]
    assert sorted(tuple(r.values()) for r in everything.to_pylist()) == sorted(
        key(row(n)) for n in (1, 2, 7, 8)
    )


def test_written_once_by_part_a_key_and_its_twin_share_a_part_and_both_diffs_read_that_copy(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw_side, "DIFF_PART_ROWS", 5)
    monkeypatch.setattr(raw_side, "PARTITIONED_FROM_PARTS", 2)
    rows = [row(n) for n in range(60)]
    put_raw(connection, rows)
    raw = RawTable(connection, "raw_cassandra", SPEC)
    with StagedRows(SPEC, tmp_path) as staged:
        staged.add(event_rows(rows[:59]))  # row 59 deleted in the source
        connection.execute("SET threads = 3")
        sides = raw.parted(staged)
        assert sides.parts == 12
        assert connection.execute("SELECT current_setting('threads')").fetchone() == (3,)  # given back
        flush = "SELECT current_setting('partitioned_write_flush_threshold')"
        assert connection.execute(flush).fetchone() == (524_288,)  # DuckDB's default, given back

        def keys_of(files: list[Path]) -> set[tuple[Any, ...]]:
            if not files:
                return set()
            read = f"SELECT user_id::VARCHAR, day, event_time, event_id::VARCHAR FROM {raw_side.parquet_files(files)}"
            return set(connection.execute(read).fetchall())

        raw_parts = [keys_of(sides.raw_files(p)) for p in range(sides.parts)]
        staged_parts = [keys_of(sides.staged_files(p)) for p in range(sides.parts)]
        assert sum(len(keys) for keys in raw_parts) == 60 and sum(1 for keys in raw_parts if keys) > 1
        assert [keys - {key(row(59))} for keys in raw_parts] == staged_parts  # every twin in its key's part
        written = [*sides.raw.rglob("*.parquet"), *sides.staged.rglob("*.parquet")]
        assert written and all(PART_COLUMN not in pq.read_schema(f).names for f in written)
        assert list(raw.changed(staged, batch_rows=100)) == []
        # the diffs read raw as it was written by part, once: raw emptied now changes nothing
        connection.execute("DELETE FROM raw_cassandra.user_events")
        gone = pa.concat_tables(list(raw.deleted_keys(staged, [])))
        assert [tuple(r.values()) for r in gone.to_pylist()] == [key(row(59))]
        directory = staged.directory
        assert directory is not None and sides.raw.parent == directory == sides.staged.parent
    assert not directory.exists()  # the parts go with the staged rows


@pytest.mark.parametrize("part_rows", [1000, 2], ids=["one part", "parts of 2 staged rows"])
def test_a_window_few_beside_raw_probes_raw_by_its_keys_and_finds_exactly_what_changed(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    # an incremental run: raw holds the history, the staged window a few rows of it (some changed)
    monkeypatch.setattr(raw_side, "DIFF_PART_ROWS", part_rows)
    history = [row(n, properties=None if n % 5 == 0 else f'{{"n":"{n}"}}') for n in range(40)]
    put_raw(connection, history)
    bare = row(42, event_type=None, properties=None)  # every regular cell null: equal to its tombstone
    put_raw(connection, [row(41), bare], deleted=True)  # tombstones: the rows written again are live again
    window = [
        history[10],  # unchanged, map null on both sides
        history[11],  # unchanged
        row(12, event_type="search", properties='{"n":"12"}'),  # a value changed
        row(13, properties='{"n":"thirteen"}'),  # only the map changed
        row(14, event_type=None, properties='{"n":"14"}'),  # a value became null
        row(41),  # written again after its delete
        bare,  # written again after its delete, with no value: live again
        row(50),  # new
        row(51, event_type=None, properties=None),  # new, every regular cell null
    ]
    raw = RawTable(connection, "raw_cassandra", SPEC)
    with StagedRows(SPEC, tmp_path) as staged:
        staged.add(event_rows(window[:3]))
        staged.add(event_rows(window[3:]))
        assert raw.probes(staged.rows) and raw.probe_parts(staged.rows) == (1 if part_rows > 9 else 5)
        changed = pa.concat_tables(list(raw.changed(staged, batch_rows=3)))
        assert raw._parted is None  # raw was probed, never written out by part
    assert changed.schema == event_rows(window).schema
    got = sorted(tuple(r.values()) for r in changed.to_pylist())
    assert got == sorted(tuple(r.values()) for r in event_rows(window[2:]).to_pylist())


def test_a_window_of_more_than_a_quarter_of_raw_is_diffed_by_key_hash_parts_not_probed(
    connection: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    put_raw(connection, [row(n) for n in range(8)])
    raw = RawTable(connection, "raw_cassandra", SPEC)
    assert raw.probes(2) and not raw.probes(3)
    assert raw.probe_parts(1) == 1


def test_a_partitioned_write_flushes_often_keeps_every_part_open_and_gives_the_settings_back() -> None:
    settings = (
        "SELECT current_setting('partitioned_write_flush_threshold'), "
        "current_setting('partitioned_write_max_open_files')"
    )
    with duckdb.connect() as con:
        con.execute("SET partitioned_write_max_open_files = 50")
        with raw_side.partitioned_writes(con, parts=80):
            assert con.execute(settings).fetchone() == (raw_side.PARTITIONED_FLUSH_ROWS, 81)
        assert con.execute(settings).fetchone() == (524_288, 50)
        with raw_side.partitioned_writes(con, parts=8):
            assert con.execute(settings).fetchone() == (raw_side.PARTITIONED_FLUSH_ROWS, 50)


def test_staging_leaves_nothing_and_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    killed = tmp_path / "loaders-user_events-stage-abc"
    old_keys = tmp_path / "loaders-user_events-keys-def"  # the previous version's spill
    other = tmp_path / "loaders-messages-stage-ghi"  # another table's: left alone
    for folder in (killed, old_keys, other):
        folder.mkdir()
        (folder / "rows.parquet").write_bytes(b"partial")
    staged = StagedRows(SPEC, tmp_path)
    assert not killed.exists() and not old_keys.exists() and other.exists()
    staged.add(event_rows([row(1)]))
    assert staged.path is not None and staged.path.exists()
    directory = staged.directory
    staged.close()
    assert directory is not None and not directory.exists()


def test_a_load_limit_raised_above_the_diffs_cap_reaches_the_diffs() -> None:
    # LOADERS_DUCKDB_MEMORY_LIMIT raised after an out-of-memory: the diffs are not held at 128MB
    assert diff_memory_cap("512MB") == "512MB"
    assert diff_memory_cap("96MB") == diff_memory_cap(None) == DIFF_MEMORY_LIMIT
    with duckdb.connect(config={"memory_limit": "512MB"}) as con:
        recorded = Recorded(con)
        with diff_memory(recorded, "512MB"):
            pass
        assert recorded.limits == []  # left as the load set it


def test_the_diffs_run_under_a_lower_memory_limit_then_the_load_gets_its_own_back() -> None:
    assert memory_bytes("122.0 MiB") == 122 * 2**20 and memory_bytes("64MB") == 64 * 10**6
    assert memory_bytes("1.5 GiB") == 1.5 * 2**30 and memory_bytes("no idea") == float("inf")
    setting = "SELECT current_setting('memory_limit')"
    with duckdb.connect(config={"memory_limit": "256MiB"}) as con:  # a load given more than the diffs
        before = con.execute(setting).fetchone()
        with diff_memory(con):
            inside = con.execute(setting).fetchone()
        assert before is not None and inside is not None
        assert memory_bytes(str(inside[0])) <= memory_bytes(DIFF_MEMORY_LIMIT) < memory_bytes(str(before[0]))
        assert con.execute(setting).fetchone() == before
        con.execute("SET memory_limit = '32MB'")  # already lower: left alone
        with diff_memory(con):
            assert memory_bytes(str(con.execute(setting).fetchone()[0])) < 32 * 10**6  # type: ignore[index]


class Recorded:
    """A real DuckDB connection that keeps the memory limits set on it (DuckDB shows them only rounded)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.limits: list[str] = []

    def execute(self, sql: str, parameters: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        if "memory_limit" in sql and not sql.startswith("SELECT"):
            self.limits.append(sql if parameters is None else f"{sql} {parameters}")
        return self.connection.execute(sql, parameters)


@pytest.mark.parametrize(
    ("opened", "configured", "restored"),
    [
        ({}, None, "RESET memory_limit"),  # DuckDB's default, not its rounded text
        ({"memory_limit": "300MB"}, "100MB", "SET memory_limit = ? ['300050022B']"),  # by hand: 286.1 MiB
    ],
)
def test_the_diffs_give_back_exactly_the_memory_limit_they_lowered(
    opened: dict[str, str | bool | int | float | list[str]], configured: str | None, restored: str
) -> None:
    setting = "SELECT current_setting('memory_limit')"
    with duckdb.connect(config=opened) as con:
        before = con.execute(setting).fetchone()
        recorded = Recorded(con)
        with diff_memory(recorded, configured):
            pass
        assert recorded.limits[0] == f"SET memory_limit = '{DIFF_MEMORY_LIMIT}'"
        assert recorded.limits[-1] == restored
        assert con.execute(setting).fetchone() == before


def test_a_limit_raised_for_a_block_is_given_back_exactly() -> None:
    setting = "SELECT current_setting('memory_limit')"
    with duckdb.connect(config={"memory_limit": "256MB"}) as con:
        before = con.execute(setting).fetchone()
        recorded = Recorded(con)
        with memory_limit_within(recorded, "256MB", at_least=f"{512 * 2**20}B"):
            assert con.execute(setting).fetchone() == ("512.0 MiB",)
        assert recorded.limits == ["SET memory_limit = '536870912B'", "SET memory_limit = ? ['256MB']"]
        assert con.execute(setting).fetchone() == before  # the load's 256MB, not '244.1 MiB'
        with memory_limit_within(recorded, "256MB", at_least=f"{100 * 2**20}B"):  # already more: left alone
            pass
        assert len(recorded.limits) == 2
