r"""Serialized ``map<text, text>`` cells -> JSON object text, a whole column at a time.

A map cell is ``[count][len][key][len][value][len][key]...`` with big-endian int32 fields.
Its JSON text is the same key and value bytes with the length fields turned into
punctuation, which always fits: the 8 bytes ``[count][len]`` become ``{"``, every other
4-byte length becomes ``":"`` or ``","``, and the closing ``"}`` takes the first two bytes
of whatever follows the cell (the next cell's count field, or padding). So the column
is converted in place: join the cells, overwrite the punctuation, drop the other length
bytes with one boolean mask. The fields are parsed with NumPy one entry index at a time
(entry j of every map at once).

Key and value bytes that JSON escapes (quotes, backslashes, control bytes) are then widened
in one more pass over the joined text, as the JSON encoder writes them (``\"``, ``\\``,
``\n`` and the other two-byte escapes, ``\u00XX`` for the other control bytes): on the demo's
events a sixth of the maps hold one (a search query), and encoding those one by one took half the
conversion's time. Only cells holding a null value (which CQL never writes) are encoded one by
one by ``slow_path``. Null and empty maps (the same in Cassandra) become null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders.cassandra.cell_buffer import cell_buffer

_ESCAPE = np.zeros(256, dtype=np.uint8)
_ESCAPE[:0x20] = 1
_ESCAPE[ord('"')] = 1
_ESCAPE[ord("\\")] = 1
_PAD = b"  "  # after the last cell, room for its closing "}
_FOUR = np.arange(4)
# an escaped byte's width in JSON and, for the two-byte escapes, the letter after the backslash
_ESCAPE_WIDTH = np.where(_ESCAPE == 1, 6, 1).astype(np.int64)
_ESCAPE_LETTER = np.zeros(256, dtype=np.uint8)
for _byte, _letter in zip(b'"\\\n\r\t\b\f', b'"\\nrtbf', strict=True):
    _ESCAPE_WIDTH[_byte] = 2
    _ESCAPE_LETTER[_byte] = _letter
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def read_fields(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The signed big-endian int32 at each position."""
    wide = buf[pos[:, None] + _FOUR].astype(np.int64)
    value = (wide[:, 0] << 24) | (wide[:, 1] << 16) | (wide[:, 2] << 8) | wide[:, 3]
    return np.where(value >= 2**31, value - 2**32, value)


def escaped(data: np.ndarray, offsets: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (cells at ``offsets``) with the bytes at positions ``at`` written as their JSON
    escapes, and the cells' new offsets: the escape's last byte replaces the byte, the others are
    inserted before it (``np.insert`` keeps the order of values inserted at one position)."""
    codes = data[at]
    short = _ESCAPE_WIDTH[codes] == 2
    long_at, long_codes = at[~short], codes[~short]
    data[at[short]] = _ESCAPE_LETTER[codes[short]]
    data[long_at] = _HEX[long_codes & 15]
    inserted_at = np.concatenate([at[short], np.repeat(long_at, 5)])
    prefix = np.empty((long_at.size, 5), dtype=np.uint8)
    prefix[:, :4] = np.frombuffer(b"\\u00", dtype=np.uint8)
    prefix[:, 4] = _HEX[long_codes >> 4]
    values = np.concatenate([np.full(int(short.sum()), ord("\\"), dtype=np.uint8), prefix.ravel()])
    out = np.insert(data, inserted_at, values)
    return out, offsets + np.searchsorted(np.sort(inserted_at), offsets, side="left")


def text_maps_to_json(cells: Sequence[bytes | None], slow_path: Callable[[bytes], bytes]) -> pa.Array:
    """JSON text (or null) per cell. ``slow_path(cell)`` encodes a cell holding a null value."""
    n = len(cells)
    cell_offsets, cell_bytes = cell_buffer(cells)
    lengths = np.diff(cell_offsets)
    buf = np.concatenate([cell_bytes, np.frombuffer(_PAD, dtype=np.uint8)])  # a copy: written in place
    starts = cell_offsets[:-1]

    stored = np.nonzero(lengths > 0)[0]  # cells with bytes, in buffer order
    counts = read_fields(buf, starts[stored]) if stored.size else np.empty(0, np.int64)
    is_map = counts > 0
    maps = stored[is_map]  # non-empty maps
    count = counts[is_map]

    # parse entry j of every map having more than j entries
    key_fields, value_fields, entries, owners = [], [], [], []
    pos = starts[maps] + 4
    payload = np.zeros(maps.size, dtype=np.int64)  # key + value bytes per map
    has_null = np.zeros(maps.size, dtype=bool)
    active = np.arange(maps.size)
    j = 0
    while active.size:
        key_field = pos[active]
        key_len = read_fields(buf, key_field)
        value_field = key_field + 4 + np.maximum(key_len, 0)
        value_len = read_fields(buf, value_field)
        pos[active] = value_field + 4 + np.maximum(value_len, 0)
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
    slow = has_null

    keep = np.ones(buf.size, dtype=bool)
    keep[-len(_PAD) :] = False  # the padding is only ever a closing "}
    punctuation = np.zeros(buf.size, dtype=bool)  # bytes written over length fields: never escaped
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
        punctuation[np.concatenate([count_field + 6, count_field + 7, closing, closing + 1])] = True
        for offset in (1, 2, 3):
            punctuation[key_field[~first] + offset] = punctuation[value_field + offset] = True
    to_escape = (_ESCAPE[buf] == 1) & ~punctuation
    data = buf[keep]
    escapes = np.flatnonzero(to_escape[keep])

    out_len = np.zeros(n, dtype=np.int64)
    out_len[maps[~slow]] = payload[~slow] + 6 * count[~slow] + 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(out_len, out=offsets[1:])
    if offsets[-1] != data.size:
        raise ValueError("map<text, text> conversion lost track of its bytes")
    if escapes.size:
        data, offsets = escaped(data, offsets, escapes)
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
