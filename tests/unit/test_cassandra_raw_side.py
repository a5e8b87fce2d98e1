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
from loaders.duckdb_memory import memory_bytes, memory_limit_within, shown_middle
from loaders.errors import UserError

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


def keys_of_table(keys: pa.Table) -> list[tuple[Any, ...]]:
    """The deleted keys a diff returned, UUIDs as text (``key``'s form)."""
    return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in r.values()) for r in keys.to_pylist()]


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
    assert keys_of_table(gone) == [key(row(7))]
    assert sorted(keys_of_table(everything)) == sorted(key(row(n)) for n in (1, 2, 7, 8))


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
        assert keys_of_table(gone) == [key(row(59))]
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
        ({}, None, None),  # DuckDB's default: the middle of what it shows (RESET would not apply it)
        ({"memory_limit": "300MB"}, "100MB", "SET memory_limit = ? ['300050022B']"),  # by hand: 286.1 MiB
    ],
)
def test_the_diffs_give_back_exactly_the_memory_limit_they_lowered(
    opened: dict[str, str | bool | int | float | list[str]], configured: str | None, restored: str | None
) -> None:
    setting = "SELECT current_setting('memory_limit')"
    with duckdb.connect(config=opened) as con:
        before = con.execute(setting).fetchone()
        assert before is not None
        recorded = Recorded(con)
        with diff_memory(recorded, configured):
            pass
        assert recorded.limits[0] == f"SET memory_limit = '{DIFF_MEMORY_LIMIT}'"
        assert recorded.limits[-1] == (restored or f"SET memory_limit = ? ['{shown_middle(str(before[0]))}']")
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


MANY = 40_000  # rows a side: a join of them cannot run in 2 MB of DuckDB's memory


def many_rows(database: Path, tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, StagedRows]:
    """A raw user_events of ``MANY`` rows in a DuckDB file (a diff can spill), staged again as a sweep
    stages them except row 7 (deleted in the source) and row 8 (its event_type changed)."""
    con = duckdb.connect(str(database))
    con.execute("CREATE SCHEMA raw_cassandra")
    con.execute(RAW_DDL)
    con.execute(
        "INSERT INTO raw_cassandra.user_events SELECT uuid(), DATE '2026-11-20', "
        "TIMESTAMPTZ '2026-11-20 00:00:00+00' + to_microseconds(i), uuid(), 'app_open', "
        f"'{{\"n\":\"' || i || '\"}}', NULL, 'load', 'id' FROM range({MANY}) t(i)"
    )
    con.execute("SET arrow_lossless_conversion = true")  # UUIDs as Arrow uuid, as the scan gives them
    staged = StagedRows(SPEC, tmp_path / "stage")
    table = con.execute(
        "SELECT user_id, day, event_time, event_id, CASE WHEN epoch_us(event_time) % "
        f"{MANY} = 8 THEN 'search' ELSE event_type END AS event_type, CAST(properties AS VARCHAR) AS properties "
        f"FROM raw_cassandra.user_events WHERE epoch_us(event_time) % {MANY} <> 7"
    ).to_arrow_table()
    staged.add(table)
    return con, staged


@pytest.fixture(params=["one join", "written once by part"])
def diff_layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "written once by part":
        monkeypatch.setattr(raw_side, "DIFF_PART_ROWS", MANY // 4)
        monkeypatch.setattr(raw_side, "PARTITIONED_FROM_PARTS", 2)
    return str(request.param)


def test_a_diff_that_ran_out_of_memory_runs_once_more_under_a_raised_limit_and_finds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, diff_layout: str
) -> None:
    monkeypatch.setattr(raw_side, "DIFF_MEMORY_LIMIT", "2MB")  # every diff statement runs out of it
    monkeypatch.setattr(raw_side, "DIFF_RETRY_FACTOR", 128)  # the retry: 128 x 1.9 MiB
    con, staged = many_rows(tmp_path / "warehouse.duckdb", tmp_path)
    con.execute("SET memory_limit = '64MB'")  # the load's own: below the retry's, which raises it
    setting = "SELECT current_setting('memory_limit')"
    before = con.execute(setting).fetchone()
    raw = RawTable(con, "raw_cassandra", SPEC)
    with staged, caplog.at_level("WARNING", logger=raw_side.__name__):
        changed = pa.concat_tables(list(raw.changed(staged, batch_rows=1000)))
        gone = pa.concat_tables(list(raw.deleted_keys(staged, [])))
    assert changed.column("event_type").to_pylist() == ["search"]
    assert changed.num_rows == gone.num_rows == 1
    assert con.execute(setting).fetchone() == before  # DuckDB's own limit, given back after each retry
    retried = [r.getMessage() for r in caplog.records]
    assert retried and all(
        m.startswith("raw_cassandra.user_events: DuckDB ran out of its 2MiB during ")
        and m.endswith("; running it again under 243MiB")
        for m in retried
    )
    steps = " ".join(retried)
    assert "the changed rows' diff (part 0)" in steps and "the deleted keys' diff (part 0)" in steps
    if diff_layout == "written once by part":  # the copies by part were redone from scratch
        assert "the diffs' copy of raw's rows by 4 parts" in steps
        assert "the diffs' copy of the staged rows by 4 parts" in steps
    con.close()


def test_a_diff_out_of_memory_again_after_its_retry_fails_in_one_line_naming_table_step_and_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw_side, "DIFF_RETRY_FACTOR", 1)  # the retry under as little: out of it again
    con, staged = many_rows(tmp_path / "warehouse.duckdb", tmp_path)
    con.execute("SET memory_limit = '2MB'")  # the load's own limit, below the diffs' cap
    raw = RawTable(con, "raw_cassandra", SPEC, memory_limit="2MB")
    with staged, pytest.raises(UserError) as failed:
        list(raw.changed(staged, batch_rows=1000))
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(
        "raw_cassandra.user_events: DuckDB ran out of its memory limit during the changed rows' diff (part 0) ("
    )
    assert ", and again when retried under 2MiB: rerun with a larger LOADERS_DUCKDB_MEMORY_LIMIT" in message
    assert message.endswith("nothing is lost: the rerun finishes or redoes this load")
    con.close()


def test_no_diff_statement_stays_open_while_its_table_waits_for_dlt(
    connection: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    diff_parts: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dlt takes one item from each table's generator in turn: another table's diffs run on the same
    # DuckDB while this one is suspended, so a diff must not be a query left open across a yield: it
    # would hold its join's memory beside theirs, and a statement on the same connection cut it short
    # (the deleted keys streamed from an open query lost every chunk after the first)
    monkeypatch.setattr(raw_side, "TOMBSTONE_CHUNK", 2)
    rows = [row(n) for n in range(12)]
    put_raw(connection, rows)
    raw = RawTable(connection, "raw_cassandra", SPEC)
    with StagedRows(SPEC, tmp_path) as staged:
        staged.add(event_rows(rows[:2]))  # rows 2-11 deleted in the source
        gone = raw.deleted_keys(staged, [])
        first = next(gone)
        connection.execute("SELECT count(*) FROM range(100000)").fetchall()  # another table's statement
        keys = [*keys_of_table(first), *(k for t in gone for k in keys_of_table(t))]
    assert sorted(keys) == sorted(key(r) for r in rows[2:])
