"""Arrow conversions from what the scanner decodes to the raw types of the warehouse.

- uuid: the scanner yields the canonical ``arrow.uuid`` extension (16 bytes).
  It is kept as is through dlt's parquet files (parquet logical type UUID) into
  a DuckDB ``UUID`` column (``loaders.uuid_columns``): never formatted.
  ``uuid_to_text`` formats in numpy where text is needed in Python (keys).
- numeric(p, s): arrives as decimal128(p, s) (see catalog.py), kept as is.
- boolean: ``arrow.bool8`` (one byte per value) becomes a plain Arrow boolean.
- any other extension type is replaced by its storage.
- ``_dlt_id``: a random unique row id, 16 random bytes as a uuid, cheap to make: numpy's
  PCG64 generator, seeded from the OS's entropy for every batch (``os.urandom`` itself took
  0.14 CPU s per 2 M rows, the generator 0.08 s; an id only has to be unique, not secret).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from loaders.uuid_columns import is_uuid_type

DLT_ID = "_dlt_id"
DLT_LOAD_ID = "_dlt_load_id"

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# byte -> its two hex characters as one little-endian uint16 (first character in the low byte)
_HEX_PAIRS = _HEX[np.arange(256) >> 4].astype(np.uint16) | (_HEX[np.arange(256) & 15].astype(np.uint16) << 8)
_DASH = ord("-")


def _uuid_bytes(array: pa.Array) -> np.ndarray:
    storage = array.storage if isinstance(array.type, pa.BaseExtensionType) else array
    n = len(storage)
    data = storage.buffers()[1]
    start = storage.offset * 16
    return np.frombuffer(data, dtype=np.uint8, count=start + n * 16)[start:].reshape(n, 16)


def uuid_to_text(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical lowercase 8-4-4-4-12 text of a uuid (or fixed_size_binary(16)) array."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    storage = array.storage if isinstance(array.type, pa.BaseExtensionType) else array
    n = len(storage)
    raw = _uuid_bytes(storage)
    hexed = np.take(_HEX_PAIRS, raw).view(np.uint8).reshape(n, 32)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    out[:, [8, 13, 18, 23]] = _DASH
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    validity = None
    if storage.null_count:
        validity = pa.array(storage.is_valid()).buffers()[1]  # bitmap aligned at offset 0
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(out), validity, storage.null_count
    )


def random_uuids(n: int) -> pa.Array:
    """``n`` random 128-bit ids (not RFC-4122 versioned: unique row ids, not identifiers).

    A generator of its own per call, seeded with 128 bits from the OS: safe in the stream threads
    (a shared numpy generator is not), and two processes never share a sequence."""
    data = np.random.default_rng().bytes(16 * n)
    storage = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(data)])
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def convert_batch(
    batch: pa.RecordBatch,
    *,
    add_dlt_id: bool = True,
    not_null: frozenset[str] | set[str] = frozenset(),
) -> pa.RecordBatch:
    """The batch with raw types: extension types resolved (uuid kept), a ``_dlt_id`` appended."""
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for fld, array in zip(batch.schema, batch.columns, strict=False):
        if is_uuid_type(array.type):
            pass  # kept as 16 bytes: a DuckDB UUID column (loaders.uuid_columns)
        elif isinstance(array.type, pa.BaseExtensionType):
            is_bool8 = array.type.extension_name == "arrow.bool8"
            array = array.storage.cast(pa.bool_()) if is_bool8 else array.storage
        fields.append(
            pa.field(fld.name, array.type, nullable=fld.name not in not_null or array.null_count > 0)
        )
        arrays.append(array)
    if add_dlt_id:
        # dlt fills _dlt_load_id in place of this placeholder: raw keeps dlt's column order
        fields.append(pa.field(DLT_LOAD_ID, pa.string()))
        arrays.append(pa.nulls(batch.num_rows, pa.string()))
        ids = random_uuids(batch.num_rows)
        fields.append(pa.field(DLT_ID, ids.type, nullable=False))
        arrays.append(ids)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def key_table(batch: pa.RecordBatch | pa.Table, keys: Iterable[str]) -> pa.Table:
    """The key columns of ``batch`` as comparable plain types (uuid as text), plus the row index."""
    arrays = {}
    for key in keys:
        array = batch.column(key)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if is_uuid_type(array.type):
            array = uuid_to_text(array)
        elif isinstance(array.type, pa.BaseExtensionType):
            array = array.storage
        arrays[key] = array
    arrays["__row"] = pa.array(np.arange(batch.num_rows, dtype=np.int64))
    return pa.table(arrays)
