"""Cassandra change capture against the local server: late writes, hard deletes, counts, bad cells.

Rows are written with the app owner's role into the private keyspace ``loader_test_cc``
and loaded with the read-only ``loader`` role into a scratch DuckDB through a plain dlt
pipeline. The lag is 0 (passed to the source) and the sweep interval is set per run
(``LOADERS_CASSANDRA_SWEEP_HOURS``), so nothing sleeps. Every comparison is by key.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import cassandra_helpers as helpers
import dlt
import duckdb
import pytest
from cassandra.metadata import Murmur3Token
from cassandra_helpers import canonical, event, message, owner_fixture, reader_fixture

from loaders.cassandra import change_capture as cc
from loaders.cassandra.source import TABLES, cassandra_source
from loaders.cassandra.tables import TABLE_SPECS
from loaders.settings import CassandraSettings
from loaders.table_stats import DELETED_AT_COLUMN, TableStats

KEYSPACE = "loader_test_cc"
UTC = dt.UTC
NO_LAG = dt.timedelta(0)


# --------------------------------------------------------------------------- fixtures and helpers
owner = owner_fixture(KEYSPACE)
reader = reader_fixture(KEYSPACE)


@pytest.fixture
def fresh(owner: Any) -> Any:
    """Empty tables, then a month of history in each (written now, clustered in the past)."""
    for table in TABLES:
        owner.execute(f"TRUNCATE {KEYSPACE}.{table}")
    rng = random.Random(13)
    now = dt.datetime.now(UTC)
    for days_back in range(1, 31):
        at = now - dt.timedelta(days=days_back, minutes=rng.randrange(600))
        write_messages(owner, [message(uuid.uuid4(), at, f"old {days_back} 🎉") for _ in range(10)])
        write_events(owner, [event(uuid.uuid4(), at, "app_open") for _ in range(10)])
    write_states(
        owner, [(uuid.uuid4(), i, "UNSEEN", now - dt.timedelta(days=i % 20 + 1)) for i in range(200)]
    )
    return owner


def now_micros() -> int:
    return cc.micros(dt.datetime.now(UTC))


# the writers of cassandra_helpers, bound to this module's keyspace
write_messages = partial(helpers.write_messages, keyspace=KEYSPACE)
write_events = partial(helpers.write_events, keyspace=KEYSPACE)
write_states = partial(helpers.write_states, keyspace=KEYSPACE)


def make_pipeline(path: Path) -> Any:
    return dlt.pipeline(
        pipeline_name="test_cassandra_cc",
        destination=dlt.destinations.duckdb(str(path / "w.duckdb")),
        dataset_name="raw_cassandra",
        pipelines_dir=str(path / "dlt"),
    )


def load(
    pipeline: Any,
    reader: CassandraSettings,
    monkeypatch: pytest.MonkeyPatch,
    *,
    sweep: bool = False,
    tables: list[str] | None = None,
    **kwargs: Any,
) -> dict[str, TableStats]:
    """One run; ``sweep`` makes every table due for a sweep (else none is)."""
    monkeypatch.setenv(cc.SWEEP_ENV, "0" if sweep else "100000")
    stats: dict[str, TableStats] = {}
    pipeline.run(cassandra_source(reader, tables, stats=stats, lag=NO_LAG, **kwargs))
    assert all(s.done for s in stats.values())
    return stats


def source_keys(session: Any, table: str) -> set[tuple]:
    spec = TABLE_SPECS[table]
    return {
        tuple(canonical(v) for v in row[: len(spec.primary_key)])
        for row in session.execute(f"SELECT {', '.join(spec.primary_key)} FROM {KEYSPACE}.{table}")
    }


def raw_rows(path: Path, table: str) -> dict[tuple, dict[str, Any]]:
    spec = TABLE_SPECS[table]
    columns = [*spec.columns, DELETED_AT_COLUMN]
    with duckdb.connect(str(path / "w.duckdb"), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(columns)} FROM raw_cassandra.{table}").fetchall()
    out: dict[tuple, dict[str, Any]] = {}
    for values in rows:
        row = dict(zip(columns, values, strict=False))
        key = tuple(canonical(row[c]) for c in spec.primary_key)
        assert key not in out, f"duplicate key {key} in raw_cassandra.{table}"
        out[key] = row
    return out


def live_keys(path: Path, table: str) -> set[tuple]:
    return {k for k, r in raw_rows(path, table).items() if r[DELETED_AT_COLUMN] is None}


def assert_raw_is_source(session: Any, path: Path) -> None:
    for table in TABLES:
        source, live = source_keys(session, table), live_keys(path, table)
        assert live == source, f"{table}: {len(live - source)} extra, {len(source - live)} missing in raw"


# --------------------------------------------------------------------------- late arrivals
def test_rows_written_days_late_arrive_in_the_next_incremental_run(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    first = load(pipeline, reader, monkeypatch)
    assert {s.mode for s in first.values()} == {"full"}
    assert all(s.bytes_extracted and s.bytes_extracted > 30 * s.rows_extracted for s in first.values())

    # a phone syncs now what happened offline 1 hour to 7 days ago (USING TIMESTAMP now)
    now = dt.datetime.now(UTC)
    lateness = [
        dt.timedelta(hours=1),
        dt.timedelta(days=2),
        dt.timedelta(days=6, hours=23),
        dt.timedelta(days=7) - dt.timedelta(minutes=1),
    ]
    phone, group = uuid.uuid4(), uuid.uuid4()
    late_events = [event(phone, now - late, "view_outing") for late in lateness]
    late_messages = [message(group, now - late, f"sent {late} ago, arrived now") for late in lateness]
    late_messages.append(message(group, now - dt.timedelta(days=3), None))  # no body: user_id's write time
    late_states = [(uuid.uuid4(), 10_000 + i, "SEEN", now - late) for i, late in enumerate(lateness)]
    late_states.append((uuid.uuid4(), 10_100, None, now - dt.timedelta(days=1)))  # a null status
    # one state of the first load (picked before the late ones exist: a random late key can sort first)
    some = sorted(source_keys(fresh, "notification_states"))[0]
    stamp = now_micros()
    write_events(fresh, late_events, stamp)
    write_messages(fresh, late_messages, stamp)
    write_states(fresh, late_states, stamp)
    # and that state overwritten by a phone that says it happened 5 days ago
    write_states(fresh, [(uuid.UUID(some[0]), some[1], "CLICKED", now - dt.timedelta(days=5))], stamp)

    second = load(pipeline, reader, monkeypatch)
    assert {s.mode for s in second.values()} == {"incremental"}
    assert second["user_events"].rows_extracted == len(late_events) == second["user_events"].late_rows
    assert second["messages"].rows_extracted == len(late_messages) == second["messages"].late_rows
    assert second["notification_states"].rows_extracted == len(late_states) + 1
    assert all(s.source_rows is None for s in second.values())  # counted by sweeps only
    for table in TABLES:  # the server sent the window only (7 of the 30 days of history), not the table
        total = len(source_keys(fresh, table))
        assert second[table].rows_extracted < second[table].rows_read < total * 0.6, (table, total)
    assert_raw_is_source(fresh, tmp_path)
    assert raw_rows(tmp_path, "notification_states")[some]["status"] == "CLICKED"
    for table in TABLES:
        assert cc.from_micros(stamp) <= dt.datetime.fromisoformat(second[table].cursor_after)
        assert second[table].cursor_after >= second[table].cursor_before

    # nothing new: nothing extracted (the window is read, raw already has it)
    third = load(pipeline, reader, monkeypatch)
    assert all(s.rows_extracted == 0 for s in third.values()), {t: s.rows_extracted for t, s in third.items()}


def test_rows_later_than_the_window_arrive_in_the_next_sweep(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cc.WINDOW_ENV, "2")
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch)
    now = dt.datetime.now(UTC)
    very_late = [event(uuid.uuid4(), now - dt.timedelta(days=20), "search")]
    write_events(fresh, very_late, now_micros())
    incremental = load(pipeline, reader, monkeypatch, tables=["user_events"])
    assert incremental["user_events"].mode == "incremental" and incremental["user_events"].rows_extracted == 0
    sweep = load(pipeline, reader, monkeypatch, sweep=True, tables=["user_events"])
    assert sweep["user_events"].mode == "sweep"
    assert sweep["user_events"].rows_extracted == 1 == sweep["user_events"].late_rows
    assert sweep["user_events"].source_rows == len(source_keys(fresh, "user_events"))
    assert live_keys(tmp_path, "user_events") == source_keys(fresh, "user_events")


# --------------------------------------------------------------------------- hard deletes
def test_hard_deletes_become_tombstones_in_the_sweep_and_a_key_written_again_comes_back(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch)
    rows = {t: raw_rows(tmp_path, t) for t in TABLES}
    victims = {t: sorted(rows[t])[:5] for t in TABLES}
    for table, keys in victims.items():
        spec = TABLE_SPECS[table]
        where = " AND ".join(f"{c} = ?" for c in spec.primary_key)
        delete = fresh.prepare(f"DELETE FROM {KEYSPACE}.{table} WHERE {where}")
        for key in keys:
            fresh.execute(
                delete,
                [
                    uuid.UUID(v) if i in (0,) or (table != "notification_states" and i == 3) else v
                    for i, v in enumerate(key)
                ],
            )
    # an erasure of a whole day partition of one user
    user, day = sorted(rows["user_events"])[-1][:2]
    fresh.execute(
        f"DELETE FROM {KEYSPACE}.user_events WHERE user_id = %s AND day = %s", (uuid.UUID(user), day)
    )
    erased = {k for k in rows["user_events"] if k[:2] == (user, day)}

    incremental = load(pipeline, reader, monkeypatch)
    assert all(s.deleted_rows == 0 for s in incremental.values())
    spill = Path(pipeline.working_dir) / "cassandra_seen_keys"
    (spill / "loaders-messages-keys-left-by-a-killed-run").mkdir(parents=True)
    sweep = load(pipeline, reader, monkeypatch, sweep=True)
    assert {s.mode for s in sweep.values()} == {"sweep"}
    assert list(spill.iterdir()) == []  # the keys spilled by the sweep, and the stale ones, are gone
    for table in TABLES:
        gone = set(victims[table]) | (erased if table == "user_events" else set())
        assert sweep[table].deleted_rows == len(gone), table
        assert sweep[table].source_rows == len(source_keys(fresh, table))
        assert sweep[table].rows_extracted == len(gone)  # the tombstones only: the rest is unchanged
        after = raw_rows(tmp_path, table)
        for key in gone:
            tombstone = after[key]
            assert tombstone[DELETED_AT_COLUMN] is not None
            non_key = [c for c in TABLE_SPECS[table].columns if c not in TABLE_SPECS[table].primary_key]
            assert all(tombstone[c] is None for c in non_key)
    assert_raw_is_source(fresh, tmp_path)

    again = load(pipeline, reader, monkeypatch, sweep=True)  # known tombstones are not written twice
    assert all(s.deleted_rows == 0 and s.rows_extracted == 0 for s in again.values())

    key = victims["notification_states"][0]
    write_states(fresh, [(uuid.UUID(key[0]), key[1], "SEEN", dt.datetime.now(UTC) - dt.timedelta(days=1))])
    back = load(pipeline, reader, monkeypatch)
    assert back["notification_states"].rows_extracted == 1
    assert raw_rows(tmp_path, "notification_states")[key][DELETED_AT_COLUMN] is None
    assert_raw_is_source(fresh, tmp_path)


def test_deletes_can_be_switched_off(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch, tables=["messages"])
    key = sorted(raw_rows(tmp_path, "messages"))[0]
    fresh.execute(
        f"DELETE FROM {KEYSPACE}.messages WHERE group_id = %s AND day = %s", (uuid.UUID(key[0]), key[1])
    )
    monkeypatch.setenv(cc.DELETES_ENV, "false")
    sweep = load(pipeline, reader, monkeypatch, sweep=True, tables=["messages"])
    assert sweep["messages"].deleted_rows == 0 and key in live_keys(tmp_path, "messages")


# --------------------------------------------------------------------------- counts, rows in flight
def last_range_user(session: Any) -> uuid.UUID:
    """A user id whose partition token lies in the last token range a single reader reads."""
    while True:
        candidate = uuid.uuid4()
        if Murmur3Token.from_key(candidate.bytes).value > 2**63 - 2**56:
            return candidate


def test_rows_written_during_a_sweep_are_counted_in_flight(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch, tables=["notification_states"])
    before = len(source_keys(fresh, "notification_states"))
    newcomer = last_range_user(fresh)
    written: list[bool] = []

    def write_during_scan(range_index: int, page: int, attempt: int) -> None:
        if not written:  # the first page of the first range: the last range is still to be read
            written.append(True)
            write_states(fresh, [(newcomer, 1, "UNSEEN", dt.datetime.now(UTC))])

    sweep = load(
        pipeline,
        reader,
        monkeypatch,
        sweep=True,
        tables=["notification_states"],
        parallelism=1,
        page_hook=write_during_scan,
    )
    stats = sweep["notification_states"]
    assert written and stats.source_rows == before + 1 and stats.in_flight_rows == 1
    assert (str(newcomer), 1) in live_keys(tmp_path, "notification_states")


# --------------------------------------------------------------------------- a state of the clustering-time cursor
def test_state_of_the_old_cursor_upgrades_with_a_sweep_not_a_full_load(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch)
    old_cursor = (dt.datetime.now(UTC) - dt.timedelta(days=1)).isoformat()
    with pipeline.managed_state() as state:  # what the loader before write times left
        for table in TABLES:
            resource = state["sources"]["cassandra"]["resources"][table]
            resource.clear()
            resource["cursor"] = old_cursor
    late = [event(uuid.uuid4(), dt.datetime.now(UTC) - dt.timedelta(days=12), "app_open")]
    write_events(fresh, late, now_micros())
    upgraded = load(pipeline, reader, monkeypatch)
    assert {s.mode for s in upgraded.values()} == {"sweep"}
    assert upgraded["user_events"].rows_extracted == 1
    assert {pipeline.default_schema.get_table(t)["write_disposition"] for t in TABLES} == {"merge"}
    resources = pipeline.state["sources"]["cassandra"]["resources"]
    assert all("cursor" not in resources[t] and resources[t][cc.STATE_WRITETIME] for t in TABLES)
    assert_raw_is_source(fresh, tmp_path)
    assert {s.mode for s in load(pipeline, reader, monkeypatch).values()} == {"incremental"}


# --------------------------------------------------------------------------- bad cells
def test_a_bad_utf8_cell_is_quarantined_and_the_rest_loads(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cassandra refuses invalid UTF-8 on every CQL write, so the bytes are corrupted as a page arrives."""
    import loaders.cassandra.reader as reader_module

    real = reader_module.cols.checked_record_batch
    victim = sorted(source_keys(fresh, "messages"))[3]
    victim_id = uuid.UUID(victim[3]).bytes

    def corrupting(rows: list, converters: list, schema: Any) -> Any:
        body = schema.names.index("body")
        id_position = schema.names.index("message_id")
        rows = [
            (*r[:body], b"caf\xc3 broken", *r[body + 1 :]) if r[id_position] == victim_id else r for r in rows
        ]
        return real(rows, converters, schema)

    monkeypatch.setattr(reader_module.cols, "checked_record_batch", corrupting)
    pipeline = make_pipeline(tmp_path)
    first = load(pipeline, reader, monkeypatch, tables=["messages"])
    stats = first["messages"]
    assert len(stats.rejected) == 1 and stats.rejected[0].column == "body"
    assert "UTF-8" in stats.rejected[0].reason and stats.rejected[0].table == "messages"
    assert json.loads(stats.rejected[0].key)["message_id"] == victim[3]
    assert live_keys(tmp_path, "messages") == source_keys(fresh, "messages") - {victim}
    assert stats.source_rows == len(source_keys(fresh, "messages"))
    # a sweep does not take the rejected row for a deleted one
    sweep = load(pipeline, reader, monkeypatch, sweep=True, tables=["messages"])
    assert sweep["messages"].deleted_rows == 0 and len(sweep["messages"].rejected) == 1
