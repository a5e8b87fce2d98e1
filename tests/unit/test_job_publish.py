"""Publishing swaps a whole warehouse and docs site in for readers, atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from loaders.job import publish


@pytest.fixture()
def published_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "published"
    monkeypatch.setenv("PUBLISHED_DIR", str(target))
    return target


def _build(path: Path, value: int) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists gold")
        conn.execute("create or replace table gold.answer as select ? as value", [value])


def test_publish_replaces_the_readers_copy_and_open_readers_keep_theirs(tmp_path: Path, published_dir: Path) -> None:
    build = tmp_path / "build.duckdb"
    _build(build, 1)
    first = publish.publish_warehouse(build)
    assert first == published_dir / "warehouse.duckdb"

    reader = duckdb.connect(str(first), read_only=True)
    _build(build, 2)
    publish.publish_warehouse(build)

    # the reader that opened version 1 still reads version 1; a new reader sees version 2
    assert reader.execute("select value from gold.answer").fetchone() == (1,)
    reader.close()
    with duckdb.connect(str(first), read_only=True) as new_reader:
        assert new_reader.execute("select value from gold.answer").fetchone() == (2,)
    assert not list(published_dir.glob(".*.tmp")), "no staging file left behind"


def test_publish_docs_swaps_a_symlink_and_keeps_few_versions(tmp_path: Path, published_dir: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    for version in range(4):
        for name in publish.DOCS_FILES:
            (target / name).write_text(f"{name} v{version}")
        link = publish.publish_docs(target, keep=2)
        assert link.is_symlink()
        assert (link / "index.html").read_text() == f"index.html v{version}"
    assert len(list(published_dir.glob("docs-*"))) <= 2


def test_publish_docs_refuses_an_incomplete_site(tmp_path: Path, published_dir: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    with pytest.raises(FileNotFoundError, match="catalog.json"):
        publish.publish_docs(tmp_path)
    assert not (published_dir / "docs").exists()


def _loads(path: Path, schema: str, rows: list[tuple[str, int, str]]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"create schema if not exists {schema}")
        conn.execute(
            f"create table if not exists {schema}._dlt_loads "
            "(load_id varchar, status bigint, inserted_at timestamp with time zone)"
        )
        conn.executemany(f"insert into {schema}._dlt_loads values (?, ?, cast(? as timestamptz))", rows)


def test_newest_committed_load_spans_both_raw_schemas_and_skips_unfinished_loads(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _loads(warehouse, "raw_postgres", [("1.0", 0, "2026-11-30 08:00:00+00"), ("2.0", 0, "2026-11-30 09:15:30.25+01")])
    _loads(warehouse, "raw_cassandra", [("3.0", 0, "2026-11-30 08:20:00+00"), ("4.0", 1, "2026-11-30 10:00:00+00")])

    newest = publish.newest_committed_load(warehouse)

    assert newest is not None and newest.isoformat() == "2026-11-30T08:20:00+00:00"


def test_newest_committed_load_is_none_without_loads(tmp_path: Path) -> None:
    assert publish.newest_committed_load(tmp_path / "missing.duckdb") is None
    empty = tmp_path / "empty.duckdb"
    _build(empty, 1)
    assert publish.newest_committed_load(empty) is None
