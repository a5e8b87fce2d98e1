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
from pathlib import Path

import duckdb

from loaders.settings import setting, warehouse_path

DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def published_dir() -> Path:
    default = warehouse_path().parent / "published"
    return Path(setting("PUBLISHED_DIR", str(default)) or str(default))


def published_warehouse_path() -> Path:
    return published_dir() / "warehouse.duckdb"


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
