"""The warehouse side of a Cassandra load: rows already in raw, and keys gone from the source.

Both run on the DuckDB connection of the load (``PipelineRaw``), against raw as the last
committed loads left it (this run's rows are loaded only after the extract):

- ``unchanged``: which rows of a batch raw already holds, identical in every column and
  live (not a tombstone): they are dropped before dlt sees them, so a run with no source
  change writes nothing, and a sweep writes only what changed;
- ``SeenKeys`` / ``deleted_keys``: a sweep spills the key of every row it read (rejected
  rows included: they exist) to a Parquet file in a private directory under the pipeline's
  working directory (memory stays bounded whatever the table's size); at the end of the scan, the live raw keys
  absent from that file are the keys deleted in the source. The scan covers the ring
  exactly once and a range is read after the sweep started, so a key it did not see was
  absent from the source at the moment its range was read; a key written again later has
  a later write time and comes back in the next run, merged over its tombstone.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loaders.cassandra.tables import TableSpec
from loaders.raw_sql import quote
from loaders.table_stats import DELETED_AT_COLUMN
from loaders.uuid_columns import is_uuid_type

BATCH_TABLE = "__loader_cassandra_batch"
TOMBSTONE_CHUNK = 50_000


class RawTable:
    """One raw table of the warehouse, as the extract of its source table sees it."""

    def __init__(self, connection: Any, dataset: str, spec: TableSpec) -> None:
        self.connection = connection
        self.spec = spec
        self.qualified = f"{quote(dataset)}.{quote(spec.name)}"
        rows = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
            [dataset, spec.name],
        ).fetchall()
        self.columns = dict(rows)

    @property
    def exists(self) -> bool:
        return bool(self.columns)

    def _live(self, alias: str) -> str:
        return f" AND {alias}.{quote(DELETED_AT_COLUMN)} IS NULL" if DELETED_AT_COLUMN in self.columns else ""

    def unchanged(self, batch: pa.Table) -> np.ndarray:
        """A boolean mask: True where raw holds the same row (every column equal) and it is live."""
        if batch.num_rows == 0 or not self.exists:
            return np.zeros(batch.num_rows, dtype=bool)
        spec = self.spec
        keyed = pa.table(
            {
                **{c: batch.column(c) for c in spec.columns},
                "__row": pa.array(np.arange(batch.num_rows, dtype=np.int64)),
            }
        )
        on = " AND ".join(f"r.{quote(c)} = b.{quote(c)}" for c in spec.primary_key)
        same = []
        for column in spec.columns:
            if column in spec.primary_key or column not in self.columns:
                continue
            raw, new = f"r.{quote(column)}", f"b.{quote(column)}"
            if column in spec.json_columns:
                raw = f"CAST({raw} AS VARCHAR)"
            same.append(f"{raw} IS NOT DISTINCT FROM {new}")
        # a hash join on the key (unique in raw), then the other columns compared: a join on every column
        # with IS NOT DISTINCT FROM makes DuckDB compare all pairs (minutes for 1 M raw rows)
        where = " AND ".join(same) or "TRUE"
        sql = (
            f"SELECT b.__row FROM {BATCH_TABLE} b JOIN {self.qualified} r ON {on} "
            f"WHERE {where}{self._live('r')}"
        )
        self.connection.register(BATCH_TABLE, keyed)
        try:
            found = self.connection.execute(sql).fetchnumpy()["__row"]
        finally:
            self.connection.unregister(BATCH_TABLE)
        mask = np.zeros(batch.num_rows, dtype=bool)
        mask[np.asarray(found, dtype=np.int64)] = True
        return mask

    def deleted_keys(self, seen: SeenKeys) -> Iterator[pa.Table]:
        """The live raw keys the sweep did not see, in chunks (key columns only)."""
        if not self.exists:
            return
        keys = self.spec.primary_key
        key_list = ", ".join(f"r.{quote(c)}" for c in keys)
        on = " AND ".join(f"r.{quote(c)} = s.{quote(c)}" for c in keys)
        if seen.path is None:  # nothing seen: every live key is gone
            sql = f"SELECT {key_list} FROM {self.qualified} r WHERE TRUE{self._live('r')}"
        else:
            source = f"read_parquet('{seen.path.as_posix()}')"
            sql = f"SELECT {key_list} FROM {self.qualified} r ANTI JOIN {source} s ON {on} WHERE TRUE{self._live('r')}"
        reader = self.connection.execute(sql).to_arrow_reader(TOMBSTONE_CHUNK)
        for batch in reader:
            if batch.num_rows:
                yield pa.Table.from_batches([batch])


class SeenKeys:
    """The keys a sweep read, spilled to one Parquet file in a private directory (removed by ``close``).

    ``parent`` (the pipeline's working directory, on the persistent volume: a pod's /tmp is
    small) holds it; a directory a killed run left there is removed when the next sweep starts.
    """

    def __init__(self, spec: TableSpec, parent: Path | None = None) -> None:
        self.spec = spec
        self.parent = parent
        self.prefix = f"loaders-{spec.name}-keys-"
        self.directory: Path | None = None
        self.path: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        if parent is not None:
            for stale in parent.glob(self.prefix + "*"):
                shutil.rmtree(stale, ignore_errors=True)

    def add(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        keys = pa.table({c: rows.column(c) for c in self.spec.primary_key})
        if self._writer is None:
            if self.parent is not None:
                self.parent.mkdir(parents=True, exist_ok=True)
            self.directory = Path(tempfile.mkdtemp(prefix=self.prefix, dir=self.parent))
            self.path = self.directory / "keys.parquet"
            self._writer = pq.ParquetWriter(str(self.path), keys.schema, compression="none")
        self._writer.write_table(keys.cast(self._writer.schema))

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        self.finish()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = self.path = None

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def as_type(column: pa.ChunkedArray | pa.Array, field: pa.Field) -> pa.Array:
    """A key column read back from DuckDB in the source's Arrow type (DuckDB exports UUID as text)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if is_uuid_type(field.type) and not is_uuid_type(column.type):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            storage = pa.array(
                [None if v is None else uuid.UUID(v).bytes for v in column.to_pylist()], type=pa.binary(16)
            )
            return pa.ExtensionArray.from_storage(pa.uuid(), storage)
        return pa.ExtensionArray.from_storage(pa.uuid(), column.cast(pa.binary(16)))
    return column.cast(field.type)


def tombstones(keys: pa.Table, schema: pa.Schema, deleted_at: dt.datetime) -> pa.Table:
    """Raw rows for deleted keys: the key, null non-key columns, ``DELETED_AT_COLUMN`` set."""
    n = keys.num_rows
    arrays = []
    for field in schema:
        if field.name == DELETED_AT_COLUMN:
            arrays.append(pa.array([deleted_at] * n, type=field.type))
        elif field.name in keys.column_names:
            arrays.append(as_type(keys.column(field.name), field))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
