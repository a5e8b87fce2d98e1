"""Arrow conversions from what ADBC decodes to the raw types of the warehouse.

- uuid: ADBC yields the canonical ``arrow.uuid`` extension (16 bytes). It is
  kept as is through dlt's parquet files (parquet logical type UUID) into a
  DuckDB ``UUID`` column (``loaders.load.uuid_columns``): never formatted.
  ``uuid_to_text`` formats in numpy where text is needed in Python (keys).
- numeric(p, s): travels as unscaled int8 (see catalog.py) and becomes
  decimal128(p, s) here, bit-exact; wider numerics arrive as text and are cast.
- any other extension type (opaque, json) is replaced by its storage.
- ``_dlt_id``: a random unique row id, 16 random bytes as a uuid, cheap to make.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from loaders.load.uuid_columns import is_uuid_type
from loaders.postgres.catalog import SourceColumn

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
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out), validity, storage.null_count)


def random_uuids(n: int) -> pa.Array:
    """``n`` random 128-bit ids (not RFC-4122 versioned: unique row ids, not identifiers)."""
    storage = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(os.urandom(16 * n))])
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def unscaled_to_decimal(array: pa.Array, precision: int, scale: int) -> pa.Array:
    """decimal128(precision, scale) from int64 unscaled values (value * 10^scale), exactly."""
    n = len(array)
    if array.null_count:
        values = array.fill_null(0).to_numpy()
        validity = pa.array(array.is_valid()).buffers()[1]
    else:
        values = array.to_numpy(zero_copy_only=False)
        validity = None
    values = values.astype(np.int64, copy=False)
    wide = np.empty((n, 2), dtype=np.int64)
    wide[:, 0] = values
    wide[:, 1] = values >> 63  # sign extension to 128 bits (little-endian words)
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), n, [validity, pa.py_buffer(wide)], null_count=array.null_count
    )


def convert_batch(
    batch: pa.RecordBatch,
    columns: Iterable[SourceColumn],
    *,
    add_dlt_id: bool = True,
    not_null: frozenset[str] | set[str] = frozenset(),
) -> pa.RecordBatch:
    """The batch with raw types: decimals rebuilt, extension types resolved, a ``_dlt_id`` appended."""
    by_name = {c.name: c for c in columns}
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for fld, array in zip(batch.schema, batch.columns):
        column = by_name.get(fld.name)
        decimal = column.as_int8_decimal if column is not None else None
        if decimal is not None and pa.types.is_integer(array.type):
            array = unscaled_to_decimal(array, *decimal)
        elif is_uuid_type(array.type):
            pass  # kept as 16 bytes: a DuckDB UUID column (loaders.load.uuid_columns)
        else:
            if isinstance(array.type, pa.BaseExtensionType):
                array = array.storage
            ps = column.numeric_precision_scale if column is not None else None
            if ps is not None and ps[0] <= 38 and pa.types.is_string(array.type):
                array = array.cast(pa.decimal128(*ps))  # a wide numeric ADBC formatted as text
        fields.append(pa.field(fld.name, array.type, nullable=fld.name not in not_null or array.null_count > 0))
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
