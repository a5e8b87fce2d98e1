"""Table selection of `loaders load` and the summary it prints."""

from __future__ import annotations

import pytest

from loaders.errors import UserError
from loaders.load import sources
from loaders.load.command import parse_tables, select_tables
from loaders.load.results import SourceResult, TableResult
from loaders.load.summary import render
from loaders.postgres.tables import TABLES


def test_parse_tables() -> None:
    assert parse_tables(None) is None
    assert parse_tables(" users, payments ,") == ["users", "payments"]
    with pytest.raises(UserError):
        parse_tables(" , ")


def test_select_postgres_tables() -> None:
    assert select_tables(["postgres"], None) == {"postgres": list(TABLES)}
    assert select_tables(["postgres"], ["payments", "users"]) == {"postgres": ["users", "payments"]}


def test_unknown_table_lists_the_valid_ones() -> None:
    with pytest.raises(UserError) as failure:
        select_tables(["postgres"], ["payment"])
    assert "payment" in str(failure.value) and "payments" in str(failure.value)


def test_missing_cassandra_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> tuple[str, ...]:
        raise sources.CassandraLoaderMissing("the Cassandra loader is not installed: use --source postgres")

    from dataclasses import replace

    monkeypatch.setitem(sources.SOURCES, "cassandra", replace(sources.SOURCES["cassandra"], tables=missing))
    # all sources, postgres tables only: Cassandra is skipped silently
    assert select_tables(["postgres", "cassandra"], ["users"]) == {"postgres": ["users"]}
    # all tables: Cassandra is selected empty and reported as failed by load_all
    assert select_tables(["postgres", "cassandra"], None)["cassandra"] == []
    with pytest.raises(UserError) as failure:
        select_tables(["postgres", "cassandra"], ["messages"])
    assert "not installed" in str(failure.value)


def test_cassandra_module_missing_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "CASSANDRA_MODULE", "loaders.no_such_module.source")
    with pytest.raises(sources.CassandraLoaderMissing) as failure:
        sources.cassandra_module()
    assert "--source postgres" in str(failure.value)


def test_summary_renders_each_table() -> None:
    result = SourceResult(
        "postgres", "raw_postgres", [TableResult("postgres", "payments", "full", 2000, 2000, 2.0)]
    )
    result.phases = {"extract": 1.0, "load": 1.0}
    text = render([result], "/w.duckdb")
    assert "payments" in text and "2,000" in text and "1,000" in text and "raw_postgres: ok" in text
