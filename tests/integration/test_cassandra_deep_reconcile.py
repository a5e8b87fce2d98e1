"""`loaders reconcile --deep` on Cassandra: a sweep of every table now, whatever the schedule,
comparing every row with raw; a raw value changed behind the loader's back is repaired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_cassandra_change_capture import assert_raw_is_source, fresh, load, make_pipeline, owner, reader

from loaders.cassandra.source import cassandra_source
from loaders.settings import CassandraSettings
from loaders.table_stats import TableStats

__all__ = ["fresh", "owner", "reader"]  # the fixtures, shared with the change-capture module


def test_deep_sweeps_every_table_and_repairs_a_silent_raw_edit(
    fresh: Any, reader: CassandraSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline(tmp_path)
    load(pipeline, reader, monkeypatch)  # full
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("UPDATE raw_cassandra.messages SET body = 'edited behind the loader' WHERE rowid = 0")
    assert {s.mode for s in load(pipeline, reader, monkeypatch).values()} == {"incremental"}  # nothing seen
    monkeypatch.setenv("LOADERS_CASSANDRA_SWEEP_HOURS", "100000")  # no sweep is due: --deep forces one
    stats: dict[str, TableStats] = {}
    pipeline.run(cassandra_source(reader, stats=stats, deep=True))
    assert {s.mode for s in stats.values()} == {"sweep"}
    assert stats["messages"].rows_extracted == 1  # the edited row, reloaded from the source
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        edited = conn.execute(
            "SELECT count(*) FROM raw_cassandra.messages WHERE body = 'edited behind the loader'"
        )
        assert edited.fetchone()[0] == 0
    assert_raw_is_source(fresh, tmp_path)
