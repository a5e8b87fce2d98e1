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


def test_every_source_is_registered_with_its_tables() -> None:
    """The registry is the two source packages' faces: their TABLES, one opener each."""
    from loaders.cassandra import extracts as cassandra
    from loaders.postgres import extracts as postgres

    assert sources.SOURCES["postgres"].tables == TABLES == postgres.TABLES
    assert sources.SOURCES["cassandra"].tables == cassandra.TABLES
    assert sources.SOURCES["postgres"].open_extracts.resolve() is postgres.open_extracts
    assert sources.SOURCES["cassandra"].open_extracts.resolve() is cassandra.open_extracts
    assert select_tables(["postgres", "cassandra"], ["users", "messages"]) == {
        "postgres": ["users"],
        "cassandra": ["messages"],
    }


def test_summary_renders_each_table() -> None:
    result = SourceResult(
        "postgres", "raw_postgres", [TableResult("postgres", "payments", "full", 2000, 2000, 2.0)]
    )
    result.phases = {"extract": 1.0, "load": 1.0}
    text = render([result], "/w.duckdb")
    assert "payments" in text and "2,000" in text and "1,000" in text and "raw_postgres: ok" in text
