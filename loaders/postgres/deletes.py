"""Hard deletes and lost rows, found by key difference inside the load's own snapshot.

On an incremental load of a table whose contract allows hard deletes (every table by
default, ``TableSpec.capture_deletes``), the primary keys of the whole source table are
read in the snapshot (binary COPY of the key columns only, in parallel streams) into a
temporary DuckDB table beside raw, and compared with the live (not tombstoned) keys of raw:

- a key live in raw but gone from the source was deleted: a tombstone (key, all other
  columns NULL, ``_loader_deleted_at`` = the snapshot's clock) is loaded in its place;
- a key in the source that raw lacks and that this load did not extract is a row raw
  lost behind the loader's back: it is reported (the reconciliation then fails the
  publish) and the table is reloaded in full by the next run.

The key scan is skipped when counts already prove there is nothing to find: raw's live
rows before the load, plus the keys this load brings that raw lacks, minus the source's
row count (``count(*)`` in the snapshot) is the number of deleted keys minus the number of
lost rows. When it is 0 the load has no delete (only a deletion exactly offset by a lost
row, which only a bug or a hand edit of raw can cause, would hide: the weekly
``loaders reconcile --deep`` finds that). That count is also the source's row count in the
snapshot (the reconciliation's figure).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from loaders.postgres.arrow import DLT_ID, random_uuids
from loaders.raw_sql import live_condition, quote
from loaders.table_stats import DELETED_AT_COLUMN
from loaders.uuid_columns import is_uuid_type


@dataclass
class KeyDifference:
    source_rows: int = 0
    deleted: list[tuple[object, ...]] = field(default_factory=list)  # keys as text/int, raw's order
    missing: int = 0  # source keys raw lacks (and this load did not extract)


def _key_list(columns: Iterable[str]) -> str:
    return ", ".join(quote(c) for c in columns)


def unexplained_keys(
    conn: object,
    dataset: str,
    table: str,
    key: list[str],
    extracted_keys: list[pa.Table],
    source_rows: int,
    *,
    has_tombstones: bool = True,
    raw_live_rows: int | None = None,
) -> int:
    """raw's live rows + new keys of this load - the source's rows: deletes minus lost rows (0: no key scan).

    ``raw_live_rows``: raw's live rows when the caller counted them already (planning counts every table at once).
    """
    execute = conn.execute  # type: ignore[attr-defined]
    raw = f"{quote(dataset)}.{quote(table)}"
    raw_live = raw_live_rows
    if raw_live is None:
        row = execute(f"SELECT count(*) FROM {raw} WHERE {live_condition(has_tombstones)}").fetchone()
        raw_live = int(row[0]) if row else 0
    new_keys = 0
    if extracted_keys:
        on = (
            " AND ".join(f"r.{quote(c)} = k.{quote(c)}" for c in key)
            + " AND "
            + live_condition(has_tombstones, "r")
        )
        keys = pa.concat_tables(extracted_keys)
        conn.register("__loader_new_keys", keys)  # type: ignore[attr-defined]
        try:
            row = execute(
                f"SELECT count(*) FROM __loader_new_keys k WHERE NOT EXISTS (SELECT 1 FROM {raw} r WHERE {on})"
            ).fetchone()
        finally:
            conn.unregister("__loader_new_keys")  # type: ignore[attr-defined]
        new_keys = int(row[0]) if row else 0
    return raw_live + new_keys - source_rows


def key_difference(
    conn: object,
    dataset: str,
    table: str,
    key: list[str],
    source_keys: Iterator[pa.RecordBatch],
    extracted_keys: list[pa.Table],
    *,
    has_tombstones: bool = True,
) -> KeyDifference:
    """Compare the source's keys (streamed batches) with raw's live keys, on the warehouse connection."""
    result = KeyDifference()
    cols = _key_list(key)
    source_tmp, extracted_tmp = f"__loader_source_keys_{table}", f"__loader_extracted_keys_{table}"
    diff_tmp = f"__loader_key_difference_{table}"
    execute = conn.execute  # type: ignore[attr-defined]
    register, unregister = conn.register, conn.unregister  # type: ignore[attr-defined]
    try:
        created = False
        for batch in source_keys:
            result.source_rows += batch.num_rows
            register("__loader_key_batch", pa.Table.from_batches([batch.select(key)]))
            try:
                if not created:
                    execute(
                        f"CREATE OR REPLACE TEMP TABLE {quote(source_tmp)} AS SELECT {cols} FROM __loader_key_batch"
                    )
                    created = True
                else:
                    execute(f"INSERT INTO {quote(source_tmp)} SELECT {cols} FROM __loader_key_batch")
            finally:
                unregister("__loader_key_batch")
        if not created:
            return result
        execute(
            f"CREATE OR REPLACE TEMP TABLE {quote(extracted_tmp)} AS SELECT {cols} FROM {quote(source_tmp)} LIMIT 0"
        )
        for keys in extracted_keys:
            register("__loader_key_batch", keys.select(key))
            try:
                execute(f"INSERT INTO {quote(extracted_tmp)} SELECT {cols} FROM __loader_key_batch")
            finally:
                unregister("__loader_key_batch")
        raw = f"{quote(dataset)}.{quote(table)}"
        alive = live_condition(has_tombstones)
        # one hash join, both directions: raw keys the source lacks, source keys raw lacks
        on = " AND ".join(f"r.{quote(c)} = s.{quote(c)}" for c in key)
        sides = ", ".join(
            f"r.{quote(c)} AS {quote('r_' + c)}, s.{quote(c)} AS {quote('s_' + c)}" for c in key
        )
        first = quote(key[0])
        execute(
            f"CREATE OR REPLACE TEMP TABLE {quote(diff_tmp)} AS SELECT {sides} FROM (SELECT {cols} FROM {raw} WHERE {alive}) r "
            f"FULL OUTER JOIN {quote(source_tmp)} s ON {on} WHERE r.{first} IS NULL OR s.{first} IS NULL"
        )
        text_cols = ", ".join(f"CAST({quote('r_' + c)} AS VARCHAR)" for c in key)
        deleted = execute(
            f"SELECT {text_cols} FROM {quote(diff_tmp)} WHERE {quote('s_' + key[0])} IS NULL ORDER BY ALL"
        ).fetchall()
        result.deleted = [tuple(row) for row in deleted]
        not_extracted = " AND ".join(f"e.{quote(c)} = d.{quote('s_' + c)}" for c in key)
        missing = execute(
            f"SELECT count(*) FROM {quote(diff_tmp)} d WHERE d.{quote('r_' + key[0])} IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {quote(extracted_tmp)} e WHERE {not_extracted})"
        ).fetchone()
        result.missing = int(missing[0]) if missing else 0
        return result
    finally:
        execute(f"DROP TABLE IF EXISTS {quote(source_tmp)}")
        execute(f"DROP TABLE IF EXISTS {quote(extracted_tmp)}")
        execute(f"DROP TABLE IF EXISTS {quote(diff_tmp)}")


def _key_array(values: list[object], like: pa.DataType) -> pa.Array:
    if is_uuid_type(like):
        data = b"".join(uuid.UUID(str(v)).bytes for v in values)
        storage = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(values), [None, pa.py_buffer(data)])
        return (
            pa.ExtensionArray.from_storage(like, storage)
            if isinstance(like, pa.BaseExtensionType)
            else storage
        )
    return pa.array(values).cast(like)


def tombstones(
    schema: pa.Schema, key: list[str], deleted: list[tuple[object, ...]], at: datetime
) -> pa.RecordBatch:
    """Rows of ``schema`` for deleted keys: the key, NULL elsewhere, ``_loader_deleted_at`` set."""
    n = len(deleted)
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for fld in schema:
        if fld.name in key:
            arrays.append(_key_array([row[key.index(fld.name)] for row in deleted], fld.type))
        elif fld.name == DLT_ID:
            arrays.append(random_uuids(n))
        elif fld.name == DELETED_AT_COLUMN:
            arrays.append(pa.array([at] * n, type=fld.type))
        else:
            arrays.append(pa.nulls(n, fld.type))
            fld = fld.with_nullable(True)
        fields.append(fld)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
