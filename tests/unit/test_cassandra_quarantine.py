"""A cell that cannot be converted (text that is not UTF-8) leaves its row out, with its key and the reason.

Cassandra validates text on every CQL write path (bound values, ``blobAsText``), so
invalid UTF-8 reaches a scan only from SSTables written or imported outside CQL (old
versions, bulk tools, a damaged disk): the converters are tested here with the raw cell
bytes a page carries.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import numpy as np
import pyarrow as pa
import pytest
from cassandra import cqltypes

from loaders.cassandra.columns import checked_record_batch, converter, key_json
from loaders.cassandra.raw_protocol import RawColumns, as_columns

PROTOCOL = 5
TEXT_MAP = cqltypes.MapType.apply_parameters([cqltypes.UTF8Type, cqltypes.UTF8Type])
TYPES = [
    cqltypes.UUIDType,
    cqltypes.SimpleDateType,
    cqltypes.TimestampType,
    cqltypes.TimeUUIDType,
    cqltypes.UTF8Type,
    TEXT_MAP,
]
NAMES = ["user_id", "day", "event_time", "event_id", "event_type", "properties"]


def setup() -> tuple[list, pa.Schema]:
    pairs = [converter(t) for t in TYPES]
    return [p[0] for p in pairs], pa.schema([pa.field(n, p[1]) for n, p in zip(NAMES, pairs, strict=False)])


def row(event_type: bytes | None, properties: bytes | None = None) -> tuple:
    values = [uuid.uuid4(), dt.date(2026, 11, 28), dt.datetime(2026, 11, 28, 9, 30), uuid.uuid1()]
    cells = [t.to_binary(v, PROTOCOL) for t, v in zip(TYPES, values, strict=False)]
    return (*cells, event_type, properties)


def test_bad_utf8_text_leaves_only_its_row_out_with_key_and_reason() -> None:
    converters, schema = setup()
    good_map = TEXT_MAP.to_binary({"source": "push 🎉"}, PROTOCOL)
    rows = [row(b"app_open", good_map), row(b"caf\xc3"), row("émoji 🎉".encode()), row(None, None)]
    batch, bad = checked_record_batch(rows, converters, schema)
    assert batch.num_rows == 3
    assert batch.column("event_type").to_pylist() == ["app_open", "émoji 🎉", None]
    assert json.loads(batch.column("properties")[0].as_py()) == {"source": "push 🎉"}
    assert len(bad) == 1 and bad[0].column == "event_type"
    assert "not valid UTF-8" in bad[0].reason and "byte 3" in bad[0].reason
    key = json.loads(key_json([bad[0].cells], [0, 1, 2, 3], converters, schema)[0])
    assert key["user_id"] == str(uuid.UUID(bytes=rows[1][0])) and key["day"] == "2026-11-28"
    assert key["event_time"].startswith("2026-11-28T09:30:00") and list(key) == NAMES[:4]


def test_bad_utf8_inside_a_map_is_quarantined_too() -> None:
    converters, schema = setup()
    good = TEXT_MAP.to_binary({"q": "ok"}, PROTOCOL)
    broken = bytearray(good)
    broken[-1] = 0xFF  # the value's last byte
    batch, bad = checked_record_batch(
        [row(b"search", good), row(b"search", bytes(broken))], converters, schema
    )
    assert batch.num_rows == 1 and [b.column for b in bad] == ["properties"]
    assert "UTF-8" in bad[0].reason


def test_a_page_of_good_rows_takes_the_fast_path_unchanged() -> None:
    converters, schema = setup()
    rows = [row(b"app_open") for _ in range(50)]
    batch, bad = checked_record_batch(rows, converters, schema)
    assert bad == [] and batch.num_rows == 50 and batch.schema == schema


def test_a_columnar_page_converts_and_quarantines_as_its_rows_do() -> None:
    """The raw scan's pages come by column (``RawColumns``, from the driver's column parser)."""
    converters, schema = setup()
    good_map = TEXT_MAP.to_binary({"source": "push", "q": 'bar "chez Lou"'}, PROTOCOL)
    rows = [row(b"app_open", good_map), row(b"caf\xc3"), row(None, None), row(b"search")]
    parsed = {name: np.array([r[i] for r in rows], dtype=object) for i, name in enumerate(NAMES)}
    page = as_columns(parsed, len(NAMES))
    assert isinstance(page, RawColumns) and len(page) == 4 and page[1] == rows[1] and list(page) == rows
    batch, bad = checked_record_batch(page, converters, schema)
    expected, expected_bad = checked_record_batch(rows, converters, schema)
    assert batch.equals(expected) and batch.num_rows == 3
    assert [(b.cells, b.column, b.reason) for b in bad] == [
        (b.cells, b.column, b.reason) for b in expected_bad
    ]
    assert bad[0].cells == rows[1] and bad[0].column == "event_type"
    assert json.loads(batch.column("properties")[0].as_py()) == {"source": "push", "q": 'bar "chez Lou"'}
    with pytest.raises(RuntimeError, match="distinct column names"):
        as_columns({"a": parsed["user_id"]}, 2)
