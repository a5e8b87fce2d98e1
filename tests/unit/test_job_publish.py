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
