"""Publish a successful build for readers, atomically.

Readers (analysts, notebooks, the docs server) never open the build warehouse:
they read ``published/warehouse.duckdb`` read-only. A new version is written
beside it and swapped in with one ``rename``, so a reader sees either the last
good warehouse or the new one, never a half-built one; a reader that has the
old file open keeps reading it. The docs site is published the same way, as a
new folder behind a symlink that is swapped atomically.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from loaders.settings import setting, warehouse_path

DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def published_dir() -> Path:
    default = warehouse_path().parent / "published"
    return Path(setting("PUBLISHED_DIR", str(default)) or str(default))


def published_warehouse_path() -> Path:
    return published_dir() / "warehouse.duckdb"


def newest_committed_load(warehouse: Path) -> datetime | None:
    """Commit time of the newest dlt load in a warehouse's raw schemas (None: no load, no file).

    Every row of a published warehouse passed the tests, so the loads committed after this
    time in the build warehouse are the ones an incremental build still has to test
    (OUTINGS_TEST_LOADS_AFTER, macros/tests/loads_under_test.sql).
    """
    from loaders.load.sources import SOURCES  # the raw schemas (imported here: it pulls in pyarrow)

    if not warehouse.is_file():
        return None
    raw_schemas = [kind.dataset_name for kind in SOURCES.values()]
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        present = {
            row[0]
            for row in conn.execute(
                "select table_schema from information_schema.tables where table_name = '_dlt_loads'"
            ).fetchall()
        }
        selects = [f"select inserted_at from {schema}._dlt_loads where status = 0" for schema in raw_schemas
                   if schema in present]
        if not selects:
            return None
        union = " union all ".join(selects)
        row = conn.execute(f"select max(inserted_at) at time zone 'UTC' from ({union})").fetchone()
    newest = row[0] if row else None
    return newest.replace(tzinfo=timezone.utc) if newest is not None else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_warehouse(build_path: Path) -> Path:
    """Checkpoint the build warehouse, copy it next to the published one, swap it in."""
    with duckdb.connect(str(build_path)) as conn:
        conn.execute("checkpoint")
    target = published_warehouse_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(build_path, staging)
    with open(staging, "rb+") as handle:
        os.fsync(handle.fileno())
    with duckdb.connect(str(staging), read_only=True) as conn:  # the copy opens: it is whole
        conn.execute("select count(*) from information_schema.tables").fetchone()
    os.replace(staging, target)
    _fsync_dir(target.parent)
    return target


def publish_docs(target_dir: Path, keep: int = 3) -> Path:
    """Copy dbt's static docs site into a new folder and point ``published/docs`` at it."""
    missing = [name for name in DOCS_FILES if not (target_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"dbt docs files missing in {target_dir}: {', '.join(missing)}")
    root = published_dir()
    version = root / f"docs-{time.time_ns()}"
    version.mkdir(parents=True)
    for name in DOCS_FILES:
        shutil.copyfile(target_dir / name, version / name)
    link = root / "docs"
    tmp_link = root / f".docs.{os.getpid()}.tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(version.name)
    os.replace(tmp_link, link)
    _fsync_dir(root)
    old_versions = sorted(p for p in root.glob("docs-*") if p.is_dir() and p != version)
    for old in old_versions[: max(0, len(old_versions) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return link
