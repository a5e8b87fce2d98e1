"""Raw cell bytes -> Arrow: each converter agrees with the driver's own decoding."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pyarrow as pa
import pytest
from cassandra import cqltypes
from cassandra.util import Date

from loaders.cassandra.columns import UnsupportedTypeError, converter, record_batch

PROTOCOL = 5
TEXT_MAP = cqltypes.MapType.apply_parameters([cqltypes.UTF8Type, cqltypes.UTF8Type])


def encode(cql_type, values):
    return [None if v is None else cql_type.to_binary(v, PROTOCOL) for v in values]


def convert(cql_type, values):
    fn, arrow_type = converter(cql_type)
    array = fn(encode(cql_type, values))
    assert array.type == arrow_type
    assert len(array) == len(values)
    return array.to_pylist()


@pytest.mark.parametrize("cql_type", [cqltypes.UUIDType, cqltypes.TimeUUIDType])
def test_uuid_keeps_its_16_bytes(cql_type) -> None:
    values = [uuid.uuid4(), None, uuid.uuid1(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), None]
    if cql_type is cqltypes.TimeUUIDType:
        values = [v if v is None or v.version == 1 else uuid.uuid1() for v in values]
    assert convert(cql_type, values) == values


def test_uuid_without_nulls_and_single_value() -> None:
    values = [uuid.uuid4() for _ in range(1000)]
    assert convert(cqltypes.UUIDType, values) == values
    assert convert(cqltypes.UUIDType, [None]) == [None]


def test_timestamp_is_utc_microseconds() -> None:
    values = [
        dt.datetime(2024, 5, 1, 12, 0, 0, 123000),
        None,
        dt.datetime(1969, 12, 31, 23, 59, 59, 999000),
        dt.datetime(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
    ]
    got = convert(cqltypes.DateType, values)
    assert got == [None if v is None else v.replace(tzinfo=dt.UTC) for v in values]


def test_timestamp_out_of_arrow_range_is_null() -> None:
    fn, _ = converter(cqltypes.DateType)
    huge = (2**62).to_bytes(8, "big", signed=True)
    assert fn([huge, None]).to_pylist() == [None, None]


def test_date_from_cassandra_epoch_offset() -> None:
    values = [Date(dt.date(2024, 2, 29)), None, Date(dt.date(1970, 1, 1)), Date(dt.date(1900, 3, 4))]
    got = convert(cqltypes.SimpleDateType, values)
    assert got == [None if v is None else v.date() for v in values]


def test_bigint_int_double_boolean() -> None:
    assert convert(cqltypes.LongType, [2**63 - 1, None, -(2**63), 0, 42]) == [
        2**63 - 1,
        None,
        -(2**63),
        0,
        42,
    ]
    assert convert(cqltypes.Int32Type, [1, None, -5]) == [1, None, -5]
    assert convert(cqltypes.DoubleType, [1.5, None]) == [1.5, None]
    assert convert(cqltypes.BooleanType, [True, False, None]) == [True, False, None]


def test_empty_fixed_width_value_is_null() -> None:
    fn, _ = converter(cqltypes.LongType)
    assert fn([b"", (7).to_bytes(8, "big")]).to_pylist() == [None, 7]


def test_text_keeps_quotes_emoji_accents_newlines() -> None:
    values = ["plain", None, "", "quote ' and \" ; -- ", "émoji 🎉 çà", "line\nbreak\r\n\ttab", "\x00nul"]
    assert convert(cqltypes.UTF8Type, values) == values


def test_invalid_utf8_is_rejected() -> None:
    fn, _ = converter(cqltypes.UTF8Type)
    with pytest.raises(pa.ArrowInvalid):
        fn([b"\xff\xfe"])


def test_text_map_to_json_text() -> None:
    values = [{"a": "b", "é": 'x"y\n🎉'}, None, {}, {"k": ""}]
    got = convert(TEXT_MAP, values)
    assert json.loads(got[0]) == {"a": "b", "é": 'x"y\n🎉'}
    assert got[1] is None and got[2] is None  # Cassandra stores an empty map as no map
    assert json.loads(got[3]) == {"k": ""}


def test_map_json_keeps_cassandra_key_order() -> None:
    cell = TEXT_MAP.to_binary({"b": "2", "a": "1"}, PROTOCOL)  # the driver serialises in given order
    fn, _ = converter(TEXT_MAP)
    assert fn([cell]).to_pylist() == ['{"b":"2","a":"1"}']


def test_other_collections_as_json() -> None:
    list_int = cqltypes.ListType.apply_parameters([cqltypes.Int32Type])
    set_text = cqltypes.SetType.apply_parameters([cqltypes.UTF8Type])
    map_int = cqltypes.MapType.apply_parameters([cqltypes.Int32Type, cqltypes.UUIDType])
    some = uuid.uuid4()
    assert [json.loads(x) if x else x for x in convert(list_int, [[1, 2], None])] == [[1, 2], None]
    assert json.loads(convert(set_text, [{"x", "y"}])[0]) == ["x", "y"]
    assert json.loads(convert(map_int, [{3: some}])[0]) == {"3": str(some)}


def test_unsupported_type() -> None:
    with pytest.raises(UnsupportedTypeError):
        converter(cqltypes.InetAddressType)


def test_record_batch_from_rows() -> None:
    types = [cqltypes.UUIDType, cqltypes.LongType, TEXT_MAP]
    pairs = [converter(t) for t in types]
    schema = pa.schema([("id", pairs[0][1]), ("n", pairs[1][1]), ("props", pairs[2][1])])
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = [
        tuple(
            t.to_binary(v, PROTOCOL) if v is not None else None
            for t, v in zip(types, (a, 1, {"x": "1"}), strict=False)
        ),
        tuple(
            t.to_binary(v, PROTOCOL) if v is not None else None
            for t, v in zip(types, (b, None, None), strict=False)
        ),
    ]
    batch = record_batch(rows, [p[0] for p in pairs], schema)
    assert batch.to_pylist() == [
        {"id": a, "n": 1, "props": '{"x":"1"}'},
        {"id": b, "n": None, "props": None},
    ]
    assert record_batch([], [p[0] for p in pairs], schema).num_rows == 0


def random_text(rng, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("seed", range(24))
def test_vectorised_map_json_equals_the_per_cell_encoding(seed: int) -> None:
    import random

    from loaders.cassandra.columns import decode_text_map, dumps, text_map_json, text_map_json_per_cell
    from loaders.cassandra.map_json import text_maps_to_json

    rng = random.Random(seed)
    plain = "abcxyz019 -_é🎉ü"
    nasty = plain + '"\\\n\t\x01/' + "".join(map(chr, range(0x20))) + '\x7f"\\'
    values: list = []
    for _ in range(rng.randint(0, 300)):
        roll = rng.random()
        if roll < 0.1:
            values.append(None)
        elif roll < 0.15:
            values.append({})
        else:
            alphabet = nasty if rng.random() < 0.2 else plain
            values.append(
                {random_text(rng, alphabet): random_text(rng, alphabet) for _ in range(rng.randint(1, 6))}
            )
    cells = encode(TEXT_MAP, values)
    fast = text_maps_to_json(cells, lambda cell: dumps(decode_text_map(cell)))  # no fallback: must not raise
    assert text_map_json(cells).equals(fast)
    slow = text_map_json_per_cell(cells)
    assert fast.to_pylist() == slow.to_pylist()
    for text, value in zip(fast.to_pylist(), values, strict=False):
        assert (json.loads(text) if text else None) == (value or None)


def test_map_json_all_null_empty_and_escaped_only() -> None:
    from loaders.cassandra.columns import decode_text_map, dumps, text_map_json
    from loaders.cassandra.map_json import text_maps_to_json

    slow = lambda cell: dumps(decode_text_map(cell))  # noqa: E731
    assert text_maps_to_json([], slow).to_pylist() == []
    assert text_maps_to_json([None, b"\0\0\0\0", None], slow).to_pylist() == [None, None, None]
    assert text_map_json([]).to_pylist() == []
    assert text_map_json([None, b"\0\0\0\0"]).to_pylist() == [None, None]
    cells = encode(TEXT_MAP, [{'q"': "a\\b"}])
    assert json.loads(text_map_json(cells)[0].as_py()) == {'q"': "a\\b"}


def test_map_json_with_a_null_value_cell() -> None:
    from loaders.cassandra.columns import text_map_json

    # count 1, key "k", value length -1 (null): not writable by CQL, still decoded safely
    cell = (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"k" + (-1).to_bytes(4, "big", signed=True)
    good = encode(TEXT_MAP, [{"a": "b"}])[0]
    assert [json.loads(x) for x in text_map_json([cell, good]).to_pylist()] == [{"k": None}, {"a": "b"}]


def test_malformed_map_cell_falls_back_to_the_per_cell_decoder_which_raises() -> None:
    from loaders.cassandra.columns import text_map_json
    from loaders.cassandra.map_json import text_maps_to_json

    truncated = encode(TEXT_MAP, [{"key": "value"}])[0][:-2]
    with pytest.raises((IndexError, ValueError)):
        text_maps_to_json([truncated], lambda cell: b"{}")
    with pytest.raises((IndexError, ValueError)):
        text_map_json([truncated])


def test_random_row_ids_are_distinct_hex() -> None:
    from loaders.cassandra.columns import random_ids

    ids = random_ids(10_000).to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids[:100])


def test_fixed_width_cells_stay_aligned_whatever_the_lengths_of_the_others() -> None:
    import os

    from loaders.cassandra.columns import fixed_buffer

    good = [os.urandom(16) for _ in range(3)]
    # 17 + 15 bytes: the column's bytes sum to n * 16 although two cells are not uuids
    cells = [good[0], os.urandom(17), good[1], os.urandom(15), None, b"", good[2]]
    raw, mask = fixed_buffer(cells, 16)
    assert mask is not None and mask.tolist() == [False, True, False, True, True, True, False]
    rows = raw.reshape(-1, 16)
    assert [bytes(rows[i]) for i in (0, 2, 6)] == good
    assert not rows[[1, 3, 4, 5]].any()  # zero-filled nulls
    odd = [good[0], os.urandom(17), good[1], os.urandom(15)]  # no null, the same total of bytes
    raw, mask = fixed_buffer(odd, 16)
    assert mask is not None and mask.tolist() == [False, True, False, True]
    assert raw.tobytes() == good[0] + bytes(16) + good[1] + bytes(16)
    raw, mask = fixed_buffer(good, 16)
    assert mask is None and raw.tobytes() == b"".join(good)
    raw, mask = fixed_buffer([], 16)
    assert mask is None and raw.size == 0
