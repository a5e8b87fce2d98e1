"""Serialized ``map<text, text>`` cells -> JSON object text, a whole column at a time.

A map cell is ``[count][len][key][len][value][len][key]...`` with big-endian int32 fields.
Its JSON text is the same key and value bytes with the length fields turned into
punctuation, which always fits: the 8 bytes ``[count][len]`` become ``{"``, every other
4-byte length becomes ``":"`` or ``","``, and the closing ``"}`` takes the first two bytes
of whatever follows the cell (the next cell's count field, or padding). So the column
is converted in place: join the cells, overwrite the punctuation, drop the other length
bytes with one boolean mask. The fields are parsed with NumPy one entry index at a time
(entry j of every map at once).

Cells whose keys or values need JSON escaping (quotes, backslashes, control bytes) or
that hold a null value are found by counting such bytes per cell; those cells, rare,
are encoded one by one by ``slow_path``. Null and empty maps (the same in Cassandra)
become null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ESCAPE = np.zeros(256, dtype=np.uint8)
_ESCAPE[:0x20] = 1
_ESCAPE[ord('"')] = 1
_ESCAPE[ord("\\")] = 1
_PAD = b"  "  # after the last cell, room for its closing "}
_FOUR = np.arange(4)


def read_fields(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The signed big-endian int32 at each position, and how many of its 4 bytes need JSON escaping."""
    raw = buf[pos[:, None] + _FOUR]
    wide = raw.astype(np.int64)
    value = (wide[:, 0] << 24) | (wide[:, 1] << 16) | (wide[:, 2] << 8) | wide[:, 3]
    value = np.where(value >= 2**31, value - 2**32, value)
    return value, _ESCAPE[raw].sum(axis=1, dtype=np.int64)


def text_maps_to_json(cells: Sequence[bytes | None], slow_path: Callable[[bytes], bytes]) -> pa.Array:
    """JSON text (or null) per cell. ``slow_path(cell)`` encodes a cell that needs escaping."""
    n = len(cells)
    lengths = np.fromiter((len(c) if c else 0 for c in cells), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join([c for c in cells if c] + [_PAD]), dtype=np.uint8).copy()
    starts = np.cumsum(lengths) - lengths

    stored = np.nonzero(lengths > 0)[0]  # cells with bytes, in buffer order
    counts, escapes = read_fields(buf, starts[stored]) if stored.size else (np.empty(0, np.int64),) * 2
    is_map = counts > 0
    maps = stored[is_map]  # non-empty maps
    count = counts[is_map]
    expected_escapes = escapes[is_map]  # escape bytes that belong to length fields
    found_escapes = (
        np.add.reduceat(_ESCAPE[buf], starts[stored], dtype=np.int64)[is_map] if stored.size else counts
    )

    # parse entry j of every map having more than j entries
    key_fields, value_fields, entries, owners = [], [], [], []
    pos = starts[maps] + 4
    payload = np.zeros(maps.size, dtype=np.int64)  # key + value bytes per map
    has_null = np.zeros(maps.size, dtype=bool)
    active = np.arange(maps.size)
    j = 0
    while active.size:
        key_field = pos[active]
        key_len, key_esc = read_fields(buf, key_field)
        value_field = key_field + 4 + np.maximum(key_len, 0)
        value_len, value_esc = read_fields(buf, value_field)
        pos[active] = value_field + 4 + np.maximum(value_len, 0)
        expected_escapes[active] += key_esc + value_esc
        payload[active] += np.maximum(key_len, 0) + np.maximum(value_len, 0)
        has_null[active] |= (key_len < 0) | (value_len < 0)
        key_fields.append(key_field)
        value_fields.append(value_field)
        entries.append(np.full(active.size, j))
        owners.append(active)
        j += 1
        active = active[count[active] > j]
    ends = starts[maps] + lengths[maps]
    if maps.size and not np.array_equal(pos, ends):
        raise ValueError("malformed map<text, text> cell")
    slow = has_null | (found_escapes != expected_escapes)

    keep = np.ones(buf.size, dtype=bool)
    keep[-len(_PAD) :] = False  # the padding is only ever a closing "}
    # every stored cell loses its bytes by default: length fields of good maps below, all of the others
    gone = stored[~np.isin(stored, maps[~slow])]
    if gone.size:
        drop_len = lengths[gone]
        keep[
            np.repeat(starts[gone] - (np.cumsum(drop_len) - drop_len), drop_len) + np.arange(drop_len.sum())
        ] = False
    if key_fields:
        owner = np.concatenate(owners)
        entry = np.concatenate(entries)
        good_entry = ~slow[owner]
        key_field = np.concatenate(key_fields)[good_entry]
        value_field = np.concatenate(value_fields)[good_entry]
        first = entry[good_entry] == 0
        good_maps = maps[~slow]
        count_field = starts[good_maps]
        keep[count_field[:, None] + np.arange(6)] = False  # [count][len] -> {"  (last 2 bytes)
        keep[key_field[~first]] = False  # [len] -> ","  (last 3 bytes)
        keep[value_field] = False  # [len] -> ":"  (last 3 bytes)
        buf[count_field + 6] = ord("{")
        buf[count_field + 7] = ord('"')
        for offset, char in ((1, '"'), (2, ","), (3, '"')):
            buf[key_field[~first] + offset] = ord(char)
        for offset, char in ((1, '"'), (2, ":"), (3, '"')):
            buf[value_field + offset] = ord(char)
        closing = starts[good_maps] + lengths[good_maps]
        keep[closing] = keep[closing + 1] = True
        buf[closing] = ord('"')
        buf[closing + 1] = ord("}")
    data = buf[keep]

    out_len = np.zeros(n, dtype=np.int64)
    out_len[maps[~slow]] = payload[~slow] + 6 * count[~slow] + 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(out_len, out=offsets[1:])
    if offsets[-1] != data.size:
        raise ValueError("map<text, text> conversion lost track of its bytes")
    valid = np.zeros(n, dtype=bool)
    valid[maps] = True
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    array = pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), validity
    )
    array.validate(full=True)  # UTF-8 of keys and values
    slow_cells = maps[slow]
    if slow_cells.size:
        mask = np.zeros(n, dtype=bool)
        mask[slow_cells] = True
        texts = [slow_path(cells[int(i)]) for i in slow_cells]  # type: ignore[arg-type]
        array = pc.replace_with_mask(
            array, pa.array(mask), pa.array(texts, type=pa.binary()).view(pa.string())
        )
    return array


def cells_or_fallback(cells: Sequence[Any], slow_path: Callable[[bytes], bytes]) -> pa.Array:
    """``text_maps_to_json``, or cell by cell if the column is malformed (never silently wrong)."""
    try:
        return text_maps_to_json(cells, slow_path)
    except (IndexError, ValueError, pa.ArrowInvalid):
        texts = [None if not c or c == b"\0\0\0\0" else slow_path(c) for c in cells]
        return pa.array(texts, type=pa.binary()).view(pa.string())
