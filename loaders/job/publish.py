"""Publish a successful build for readers, atomically, without personal data.

Readers (analysts, notebooks, the docs server) never open the build warehouse (the job's
private one: it holds the raw schemas, with e-mails, usernames and message bodies). They
read ``published/warehouse.duckdb`` read-only: gold, ``ops``, and staging and intermediate
with their personal columns hashed or dropped (``loaders.job.reader_copy``,
``loaders.job.personal_data``). A new version is written beside it and swapped in with one
``rename``, so a reader sees either the last good warehouse or the new one, never a
half-built one; a reader that has the old file open keeps reading it. When anything fails
(disk full, a bad table), the half-written file is removed and the last good copy stays.
The docs site, cut to what readers can see (``loaders.job.reader_docs``), is published the
same way, as a new folder behind a symlink that is swapped atomically.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from loaders.duckdb_memory import memory_bytes
from loaders.errors import UserError
from loaders.job import reader_docs
from loaders.job.personal_data import PersonalDataPolicy, policy_from_manifest
from loaders.job.pseudonym_key import key_fingerprint, pseudonym_key
from loaders.job.reader_copy import PUBLICATION_SCHEMA, PUBLICATION_TABLE, PublishedTable, write_reader_copy
from loaders.settings import setting, warehouse_path

DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
# DuckDB's memory limit while the readers' copy is written (the copy streams table by table). The
# publish opens the build warehouse in the job's process: dbt's DuckDB (DBT_DUCKDB_MEMORY_LIMIT) if
# the build ran, else a new one with DuckDB's default of 80 % of RAM. Measured on the scale-1
# warehouse (29 tables, a 205 MB copy): 548 MB peak RSS with the default, 462 MB with 384MB, 225 MB
# with 128MB, 2.2-2.7 s each; at scale 10 the no-new-data job's process went from 241 MB after the
# build to 568 MB in the publish (2026-12-03). The limit comes on top of what the database already
# holds (memory_limit_over_held); `loaders run` closes dbt's database before the publish
# (dbt_runner.release_dbt_database), so that holds almost nothing there (1 MB, from 113 MB).
PUBLISH_MEMORY_LIMIT_SETTING = "LOADERS_PUBLISH_MEMORY_LIMIT"
PUBLISH_MEMORY_LIMIT = "128MB"


class PublishError(UserError):
    """The readers' copy could not be written; the last good one is untouched."""


def publish_memory_limit() -> str:
    """DuckDB's memory limit for writing the readers' copy (``PUBLISH_MEMORY_LIMIT_SETTING``)."""
    limit = setting(PUBLISH_MEMORY_LIMIT_SETTING, PUBLISH_MEMORY_LIMIT) or PUBLISH_MEMORY_LIMIT
    if memory_bytes(limit) == float("inf"):
        raise PublishError(
            f"{PUBLISH_MEMORY_LIMIT_SETTING}={limit!r} is not a memory size: set it like {PUBLISH_MEMORY_LIMIT} "
            "or 1GB (nothing was published; readers keep the last good warehouse)"
        )
    return limit


def memory_limit_over_held(conn: duckdb.DuckDBPyConnection, limit: str) -> str:
    """``limit`` on top of the memory the database of ``conn`` already holds, in bytes.

    When dbt built in this process, its database is the one the publish opens, and it still holds
    table blocks it cannot evict (scale 10, after an incremental build: 138 MB of base-table blocks,
    159 MB after a checkpoint). Lowered to 128MB under that, the copy ran out of memory, and after a
    checkpoint DuckDB refused the limit itself; the publish's own budget comes on top of them."""
    row = conn.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()
    held = int(row[0]) if row else 0
    return f"{int(memory_bytes(limit)) + held}B"


def published_dir() -> Path:
    default = warehouse_path().parent / "published"
    return Path(setting("PUBLISHED_DIR", str(default)) or str(default))


def published_warehouse_path() -> Path:
    return published_dir() / "warehouse.duckdb"


def newest_committed_load(warehouse: Path) -> datetime | None:
    """Commit time of the newest dlt load whose rows a warehouse holds (None: no load, no file).

    A build warehouse answers from its raw schemas' ``_dlt_loads``; a published copy (which has
    no raw schema) from ``ops.publication.tested_through``, written when it was published.
    Every row of a published warehouse passed the tests, so the loads committed after this
    time in the build warehouse are the ones an incremental build still has to test
    (OUTINGS_TEST_LOADS_AFTER, macros/tests/loads_under_test.sql).
    """
    if not warehouse.is_file():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        if _has_table(conn, PUBLICATION_SCHEMA, PUBLICATION_TABLE):
            row = conn.execute(
                f"select max(tested_through) at time zone 'UTC' from {PUBLICATION_SCHEMA}.{PUBLICATION_TABLE}"
            ).fetchone()
            newest = row[0] if row else None
        else:
            newest = _newest_raw_load(conn)
    return newest.replace(tzinfo=UTC) if newest is not None else None


def published_project_fingerprint(published: Path) -> str | None:
    """The project fingerprint a published warehouse was built with (None: none recorded or unreadable)."""
    if not published.is_file():
        return None
    try:
        with duckdb.connect(str(published), read_only=True) as conn:
            columns = conn.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ?",
                [PUBLICATION_SCHEMA, PUBLICATION_TABLE],
            ).fetchall()
            if ("project_fingerprint",) not in columns:
                return None  # published before the fingerprint existed
            row = conn.execute(
                f"select max(project_fingerprint) from {PUBLICATION_SCHEMA}.{PUBLICATION_TABLE}"
            ).fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row and row[0] is not None else None


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]  # type: ignore[index]
    )


def _newest_raw_load(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """UTC (naive) commit time of the newest committed load in the raw schemas of conn's warehouse."""
    from loaders.load.sources import SOURCES  # the raw schemas (imported here: it pulls in pyarrow)

    raw_schemas = [kind.dataset_name for kind in SOURCES.values()]
    present = {
        row[0]
        for row in conn.execute(
            "select table_schema from information_schema.tables "
            "where table_catalog = current_database() and table_name = '_dlt_loads'"
        ).fetchall()
    }
    selects = [
        f"select inserted_at from {schema}._dlt_loads where status = 0"
        for schema in raw_schemas
        if schema in present
    ]
    if not selects:
        return None
    union = " union all ".join(selects)
    row = conn.execute(f"select max(inserted_at) at time zone 'UTC' from ({union})").fetchone()
    return row[0] if row else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _leftovers(target: Path) -> list[Path]:
    """Half-written copies of runs that were killed (the job's lock makes them nobody's)."""
    return sorted(target.parent.glob(f".{target.name}.*.tmp*"))


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "disk quota exceeded" in text


def _publish_error(exc: BaseException, target: Path, build_path: Path) -> PublishError:
    keep = "readers keep the last good warehouse"
    if _is_disk_full(exc):
        size_mb = build_path.stat().st_size / 1e6 if build_path.is_file() else 0.0
        return PublishError(
            f"publish failed: no space left on the device of {target.parent}: free space there (the readers' "
            f"copy needs up to the build warehouse's {size_mb:.0f} MB beside the current copy) and rerun "
            f"`loaders run`; {keep}"
        )
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return PublishError(
        f"publish failed ({type(exc).__name__}: {reason}): {keep}; fix that and rerun `loaders run`"
    )


def publish_warehouse(
    build_path: Path,
    *,
    manifest_path: Path | None = None,
    policy: PersonalDataPolicy | None = None,
    key: bytes | None = None,
    project_fingerprint: str | None = None,
) -> Path:
    """Write the readers' copy of the build warehouse beside the published one, then swap it in.

    manifest_path: the build's dbt manifest, for the columns its YAML marks ``meta: {pii: …}``
    (the name list of loaders.job.personal_data applies in any case).
    project_fingerprint: the project that built it (loaders/job/project_fingerprint.py), recorded
    so that the next run may rebuild only what its loads change (loaders/job/build_plan.py).
    """
    if policy is None:
        policy = policy_from_manifest(manifest_path)
    if key is None:
        key = pseudonym_key()
    target = published_warehouse_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_quietly(*_leftovers(target))
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging_wal = staging.with_name(staging.name + ".wal")
    try:
        # the job's own connection settings (dbt may still hold this file open in this process)
        with duckdb.connect(str(build_path)) as conn:
            conn.execute("SET memory_limit = ?", [memory_limit_over_held(conn, publish_memory_limit())])
            tested_through = _newest_raw_load(conn)
            tables = write_reader_copy(
                conn,
                staging,
                policy,
                key,
                tested_through=tested_through.replace(tzinfo=UTC) if tested_through else None,
                key_fingerprint=key_fingerprint(key),
                project_fingerprint=project_fingerprint,
            )
        _fsync_file(staging)
        _check_reader_copy(staging, tables)
        os.chmod(staging, 0o444)  # readers open it read-only; nobody writes it once published
        os.replace(staging, target)
        _fsync_dir(target.parent)
    except Exception as exc:
        _remove_quietly(staging, staging_wal)
        if isinstance(exc, UserError):
            raise
        raise _publish_error(exc, target, build_path) from exc
    return target


def _check_reader_copy(path: Path, tables: list[PublishedTable]) -> None:
    """The copy opens read-only and holds every table planned, and only those: it is whole."""
    with duckdb.connect(str(path), read_only=True) as conn:
        found = set(
            conn.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        )
    expected = {(t.schema, t.name) for t in tables} | {(PUBLICATION_SCHEMA, PUBLICATION_TABLE)}
    if found != expected:
        raise PublishError(
            f"publish failed: the readers' copy holds {len(found)} tables, {len(expected)} were written "
            f"(extra {sorted(found - expected)[:3]}, missing {sorted(expected - found)[:3]}): readers keep the "
            "last good warehouse; rerun `loaders run`"
        )


def published_docs_path() -> Path:
    """The readers' docs site: a link to the newest published version (absent before the first)."""
    return published_dir() / "docs"


def publish_docs(target_dir: Path, keep: int = 3, readers_warehouse: Path | None = None) -> Path:
    """Publish dbt's static docs site, cut to what the readers' warehouse holds, behind ``published/docs``.

    readers_warehouse: the published copy the docs describe (default: the current one).
    """
    missing = [name for name in DOCS_FILES if not (target_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"dbt docs files missing in {target_dir}: {', '.join(missing)}")
    readers = readers_warehouse or published_warehouse_path()
    if not readers.is_file():
        raise PublishError(f"no published warehouse at {readers} to document: publish the warehouse first")
    relations = reader_docs.published_relations(readers)
    root = published_dir()
    version = root / f"docs-{time.time_ns()}"
    version.mkdir(parents=True)
    try:
        shutil.copyfile(target_dir / "index.html", version / "index.html")
        cut = {"catalog.json": reader_docs.readers_catalog, "manifest.json": reader_docs.readers_manifest}
        for name, readers_view in cut.items():
            document = json.loads((target_dir / name).read_text(encoding="utf-8"))
            (version / name).write_text(json.dumps(readers_view(document, relations)), encoding="utf-8")
        link = published_docs_path()
        tmp_link = root / f".docs.{os.getpid()}.tmp"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        tmp_link.symlink_to(version.name)
        os.replace(tmp_link, link)
        _fsync_dir(root)
    except Exception as exc:
        shutil.rmtree(version, ignore_errors=True)
        if _is_disk_full(exc):
            raise PublishError(
                f"publishing the docs failed: no space left on the device of {root}: free space there and rerun "
                "`loaders run`; readers keep the last good docs"
            ) from exc
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PublishError(
            f"publishing the docs failed ({type(exc).__name__}: {reason}): readers keep the last good docs; "
            "rerun `loaders run` (dbt docs generate rewrites them)"
        ) from exc
    old_versions = sorted(p for p in root.glob("docs-*") if p.is_dir() and p != version)
    for old in old_versions[: max(0, len(old_versions) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return link
