"""Raw Cassandra cells -> Arrow arrays, a whole column at a time.

A page arrives as rows of raw cell bytes (see ``raw_protocol``). Fixed-width types are
joined into one buffer and reinterpreted with NumPy; text is handed to Arrow as binary
and validated as UTF-8; only collections are decoded cell by cell. Types map as:

=================  ==========================  ==========================================
CQL                Arrow                       note
=================  ==========================  ==========================================
uuid, timeuuid     uuid (arrow.uuid)           16 bytes as they are; DuckDB stores UUID
timestamp          timestamp[us, tz=UTC]       milliseconds since the epoch, UTC
date               date32                      Cassandra stores days + 2^31 as uint32
bigint, counter    int64
int                int32
text, varchar      string
ascii              string
boolean            bool
double             float64
map, set, list     string (JSON text)          null and empty collections are both null
=================  ==========================  ==========================================

A cell that cannot be converted (text that is not valid UTF-8, a malformed collection)
never fails the page: ``checked_record_batch`` converts the other rows and returns the bad
ones, with the column and the reason, for quarantine (``TableStats.rejected``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from loaders.cassandra import map_json
from loaders.cassandra.cell_buffer import cell_buffer
from loaders.cassandra.raw_protocol import RawColumns

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - dlt normally brings orjson
    import json

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


log = logging.getLogger(__name__)

Cells = Sequence["bytes | None"]
Converter = Callable[[Cells], pa.Array]

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_HEX_PAIRS = np.array([ord(f"{i:02x}"[0]) | ord(f"{i:02x}"[1]) << 8 for i in range(256)], dtype="<u2")
_MAX_MS = (2**63 - 1) // 1000  # beyond this a millisecond timestamp does not fit int64 microseconds
_INT = struct.Struct(">i")


class UnsupportedTypeError(TypeError):
    """A CQL type the loader does not convert."""


def fixed_buffer(cells: Cells, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    """All cells' bytes as one uint8 array of ``len(cells) * width`` and the null mask (None: no nulls).

    Nulls, and Cassandra's legacy empty values of fixed-width types, become zero-filled nulls (a cell
    of any other length too). Arrow lays the cells end to end; NumPy gathers them when some are null.
    """
    offsets, data = cell_buffer(cells)
    mask = np.diff(offsets) != width  # null cells have no bytes
    if not mask.any():
        return data, None
    out = np.zeros((len(cells), width), dtype=np.uint8)
    good = ~mask
    out[good] = data[offsets[:-1][good][:, None] + np.arange(width)]
    return out.reshape(-1), mask


def validity_buffer(mask: np.ndarray | None) -> pa.Buffer | None:
    if mask is None or not mask.any():
        return None
    return pa.py_buffer(np.packbits(~mask, bitorder="little"))


def uuid_value(cells: Cells) -> pa.Array:
    """uuid/timeuuid -> Arrow's uuid extension: the 16 bytes of every cell in one buffer, never formatted."""
    raw, mask = fixed_buffer(cells, 16)
    storage = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(cells), [validity_buffer(mask), pa.py_buffer(raw)]
    )
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def timestamp_utc(cells: Cells) -> pa.Array:
    raw, mask = fixed_buffer(cells, 8)
    millis = raw.view(">i8").astype(np.int64)
    out_of_range = np.abs(millis) > _MAX_MS
    if out_of_range.any():
        log.warning("%d timestamps beyond year 294247 loaded as null", int(out_of_range.sum()))
        mask = out_of_range if mask is None else (mask | out_of_range)
        millis = np.where(out_of_range, 0, millis)
    return pa.array(millis * 1000, type=TIMESTAMP_TYPE, mask=mask)


def simple_date(cells: Cells) -> pa.Array:
    raw, mask = fixed_buffer(cells, 4)
    days = (raw.view(">u4").astype(np.int64) - 2**31).astype(np.int32)
    return pa.array(days, type=pa.date32(), mask=mask)


def fixed_number(width: int, dtype: str, arrow_type: pa.DataType) -> Converter:
    def convert(cells: Cells) -> pa.Array:
        raw, mask = fixed_buffer(cells, width)
        return pa.array(raw.view(dtype).astype(dtype.replace(">", "<")), type=arrow_type, mask=mask)

    return convert


def boolean(cells: Cells) -> pa.Array:
    raw, mask = fixed_buffer(cells, 1)
    return pa.array(raw != 0, type=pa.bool_(), mask=mask)


def utf8(cells: Cells) -> pa.Array:
    """text/varchar/ascii: Arrow validates the UTF-8 in bulk."""
    array = pa.array(cells, type=pa.binary()).view(pa.string())
    array.validate(full=True)  # raises ArrowInvalid on bad UTF-8
    return array


def decode_text_map(cell: bytes) -> dict[str, str | None]:
    """A serialized map<text, text> (protocol v3+: int32 lengths) as a dict, in Cassandra's key order."""
    unpack = _INT.unpack_from
    (count,) = unpack(cell, 0)
    pos = 4
    out: dict[str, str | None] = {}
    for _ in range(count):
        (key_len,) = unpack(cell, pos)
        pos += 4
        key = cell[pos : pos + key_len].decode()
        pos += key_len
        (value_len,) = unpack(cell, pos)
        pos += 4
        if value_len < 0:
            out[key] = None
        else:
            out[key] = cell[pos : pos + value_len].decode()
            pos += value_len
    if pos != len(cell):
        raise ValueError(f"malformed map<text, text> cell ({len(cell)} bytes, {pos} parsed)")
    return out


def text_map_json_per_cell(cells: Cells) -> pa.Array:
    """map<text, text> -> JSON object text, cell by cell (the reference for ``text_map_json``)."""
    texts = [None if not cell or cell == b"\0\0\0\0" else dumps(decode_text_map(cell)) for cell in cells]
    return pa.array(texts, type=pa.binary()).view(pa.string())  # JSON encoders emit valid UTF-8


def text_map_json(cells: Cells) -> pa.Array:
    """map<text, text> -> JSON object text; null and empty maps (the same in Cassandra) -> null."""
    return map_json.cells_or_fallback(cells, lambda cell: dumps(decode_text_map(cell)))


def generic_json(cql_type: Any, protocol_version: int = 4) -> Converter:
    """Any other collection: the driver decodes each cell; the value is written as JSON text."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict) or hasattr(value, "items"):
            return {str(plain(k)): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "SortedSet":
            return [plain(v) for v in value]
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return str(value)

    def convert(cells: Cells) -> pa.Array:
        texts = []
        for cell in cells:
            value = None if not cell else cql_type.from_binary(cell, protocol_version)
            texts.append(dumps(plain(value)) if value else None)
        return pa.array(texts, type=pa.binary()).view(pa.string())  # JSON encoders emit valid UTF-8

    return convert


_SIMPLE: dict[str, tuple[Converter, pa.DataType]] = {
    "uuid": (uuid_value, pa.uuid()),
    "timeuuid": (uuid_value, pa.uuid()),
    "timestamp": (timestamp_utc, TIMESTAMP_TYPE),
    "date": (simple_date, pa.date32()),
    "bigint": (fixed_number(8, ">i8", pa.int64()), pa.int64()),
    "counter": (fixed_number(8, ">i8", pa.int64()), pa.int64()),
    "int": (fixed_number(4, ">i4", pa.int32()), pa.int32()),
    "double": (fixed_number(8, ">f8", pa.float64()), pa.float64()),
    "boolean": (boolean, pa.bool_()),
    "text": (utf8, pa.string()),
    "varchar": (utf8, pa.string()),
    "ascii": (utf8, pa.string()),
}


def is_text(cql_type: Any) -> bool:
    return getattr(cql_type, "typename", None) in ("text", "varchar", "ascii")


def converter(cql_type: Any) -> tuple[Converter, pa.DataType]:
    """The column converter and Arrow type for a driver CQL type class."""
    name = getattr(cql_type, "typename", None)
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name == "map" and all(is_text(sub) for sub in cql_type.subtypes):
        return text_map_json, pa.string()
    if name in ("map", "set", "list"):
        return generic_json(cql_type), pa.string()
    described = getattr(cql_type, "cql_parameterized_type", lambda: name)()
    raise UnsupportedTypeError(f"CQL type {described} is not supported")


Rows = Sequence[tuple[Any, ...]] | RawColumns  # a page: row tuples, or the raw scan's columns


def page_columns(rows: Rows) -> Sequence[Cells]:
    """The page's cells column by column (the raw scan's pages already are)."""
    if isinstance(rows, RawColumns):
        return rows.columns
    return list(zip(*rows, strict=True))


def record_batch(rows: Rows, converters: Sequence[Converter], schema: pa.Schema) -> pa.RecordBatch:
    """A page of raw rows as one RecordBatch (columns built whole)."""
    if not len(rows):
        return pa.RecordBatch.from_pylist([], schema=schema)
    columns = page_columns(rows)
    return pa.RecordBatch.from_arrays(
        [convert(cells) for convert, cells in zip(converters, columns, strict=False)], schema=schema
    )


def random_ids(n: int, n_bytes: int = 10) -> pa.Array:
    """``n`` random hex row ids (``_dlt_id``), built in one pass."""
    octets = np.frombuffer(os.urandom(n * n_bytes), dtype=np.uint8).reshape(n, n_bytes)
    digits = _HEX_PAIRS[octets].view(np.uint8)
    offsets = np.arange(0, 2 * n_bytes * (n + 1), 2 * n_bytes, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(digits.reshape(-1)))


# ArrowInvalid and UnicodeDecodeError are ValueErrors; the others come from malformed collections
CONVERSION_ERRORS = (ValueError, struct.error, IndexError, TypeError)


@dataclass(frozen=True)
class BadRow:
    """A row of a page with a cell its column's converter refuses."""

    cells: tuple[Any, ...]  # the row's raw cells
    column: str
    reason: str


def _reason(convert: Converter, cell: Any, error: BaseException) -> str:
    if convert is utf8 and isinstance(cell, (bytes, bytearray)):
        try:
            bytes(cell).decode("utf-8")
        except UnicodeDecodeError as decode_error:
            return (
                f"text is not valid UTF-8 ({decode_error.reason} at byte {decode_error.start} of {len(cell)})"
            )
    if isinstance(error, UnicodeDecodeError):
        return f"text inside the collection is not valid UTF-8 ({error.reason} at byte {error.start})"
    text = " ".join(str(error).split())[:160]
    return f"cannot be converted ({type(error).__name__}: {text})"


def checked_record_batch(
    rows: Rows, converters: Sequence[Converter], schema: pa.Schema
) -> tuple[pa.RecordBatch, list[BadRow]]:
    """``record_batch`` of the rows whose every cell converts, and the other rows (rare: a slow path)."""
    try:
        return record_batch(rows, converters, schema), []
    except CONVERSION_ERRORS:
        pass
    bad: dict[int, BadRow] = {}
    for convert, field, cells in zip(converters, schema, page_columns(rows), strict=False):
        try:
            convert(cells)
            continue
        except CONVERSION_ERRORS:
            pass
        for index, cell in enumerate(cells):
            if index in bad:
                continue
            try:
                convert([cell])
            except CONVERSION_ERRORS as error:
                bad[index] = BadRow(tuple(rows[index]), field.name, _reason(convert, cell, error))
    good = [row for index, row in enumerate(rows) if index not in bad]
    return record_batch(good, converters, schema), [bad[index] for index in sorted(bad)]


def _plain(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, dt.date, dt.datetime)):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


def key_json(
    cells: Sequence[tuple[Any, ...]],
    key_positions: Sequence[int],
    converters: Sequence[Converter],
    schema: pa.Schema,
) -> list[str]:
    """The primary key of raw rows as JSON objects ({"column": value}), in key order."""
    out: list[dict[str, Any]] = [{} for _ in cells]
    for position in key_positions:
        values = converters[position]([row[position] for row in cells]).to_pylist()
        for row, value in zip(out, values, strict=False):
            row[schema.field(position).name] = _plain(value)
    return [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in out]
