"""The generator's fast paths give exactly what the slow, general ones give."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import pytest
from cassandra.cqltypes import (
    DateType,
    Int32Type,
    LongType,
    MapType,
    SimpleDateType,
    TimeUUIDType,
    UTF8Type,
    UUIDType,
)
from cassandra.query import UNSET_VALUE

from datagen.cassandra_store import ROW_OVERHEAD, _text_map, row_encoder
from datagen.randomness import _UUID_EPOCH_TICKS, _V4_BITS, _V4_MASK, new_uuid, timeuuid
from datagen.timeline import EPOCH, pg_text


def _timeuuid_by_fields(rng: random.Random, ms: int) -> uuid.UUID:
    ticks = ms * 10_000 + rng.randrange(10_000) + _UUID_EPOCH_TICKS
    clock_seq = rng.getrandbits(14)
    node = rng.getrandbits(48)
    fields = (
        ticks & 0xFFFFFFFF,
        (ticks >> 32) & 0xFFFF,
        (ticks >> 48) & 0x0FFF | 0x1000,
        0x80 | (clock_seq >> 8),
        clock_seq & 0xFF,
        node,
    )
    return uuid.UUID(fields=fields)


def test_timeuuid_is_the_version_1_uuid_of_its_fields() -> None:
    fast, slow = random.Random(11), random.Random(11)
    for step in range(20_000):
        ms = 1_760_000_000_000 + step * 7_919
        made, expected = timeuuid(fast, ms), _timeuuid_by_fields(slow, ms)
        assert made == expected
        assert made.bytes == expected.bytes and str(made) == str(expected) and hash(made) == hash(expected)
        assert made.version == 1 and made.variant == uuid.RFC_4122
        assert (made.time - _UUID_EPOCH_TICKS) // 10_000 == ms


def test_new_uuid_is_a_version_4_uuid() -> None:
    fast, slow = random.Random(5), random.Random(5)
    for _ in range(5_000):
        made = new_uuid(fast)
        assert made == uuid.UUID(int=(slow.getrandbits(128) & _V4_MASK) | _V4_BITS)
        assert made.version == 4 and made.variant == uuid.RFC_4122
        assert {made: 1}[uuid.UUID(str(made))] == 1


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"screen": "home"},
        {"query": 'zoë\'s "bday" 🎂', "screen": "search", "": ""},
        {"k": "tab\tnew\nline"},
    ],
)
@pytest.mark.parametrize("protocol_version", [3, 4, 5])
def test_text_map_is_what_the_driver_serialises(value: dict[str, str], protocol_version: int) -> None:
    driver = MapType.apply_parameters([UTF8Type, UTF8Type])
    assert _text_map(value) == driver.serialize(value, protocol_version)


TEXT_MAP = MapType.apply_parameters([UTF8Type, UTF8Type])
# user_events' column types, then a type with no fast path (the driver's own serialiser)
ROW_TYPES = [UUIDType, SimpleDateType, DateType, TimeUUIDType, UTF8Type, TEXT_MAP, LongType, Int32Type]


def _random_row(rng: random.Random) -> tuple[object, ...]:
    def maybe(value: object) -> object:
        return None if rng.random() < 0.3 else value

    ms = rng.randrange(1_700_000_000_000, 1_800_000_000_000)
    return (
        new_uuid(rng),
        2**31 + ms // 86_400_000,
        ms,
        timeuuid(rng, ms),
        maybe(rng.choice(["app_open", "zoë's 🎂", "tab\tnew\nline", ""])),
        maybe({"screen": rng.choice(["home", "search"]), "q": "é" * rng.randrange(5)}),
        maybe(rng.randrange(-(2**63), 2**63)),
        maybe(rng.randrange(-(2**31), 2**31)),
    )


@pytest.mark.parametrize("protocol_version", [4, 5])
def test_row_encoder_gives_the_drivers_bytes_and_the_rows_size(protocol_version: int) -> None:
    nullable = (4, 5, 7)  # None: not written; at 6, None is a null
    encode = row_encoder(ROW_TYPES, protocol_version, nullable=nullable, never_null=(0, 1))
    rng = random.Random(3)
    for _ in range(3_000):
        row = _random_row(rng)
        values, size = encode(row)
        expected = [
            (UNSET_VALUE if i in nullable else None)
            if value is None
            else cql_type.serialize(value, protocol_version)
            for i, (cql_type, value) in enumerate(zip(ROW_TYPES, row, strict=True))
        ]
        assert values == expected
        assert size == ROW_OVERHEAD + sum(len(value) for value in expected if isinstance(value, bytes))


def test_row_encoder_refuses_a_row_of_another_width() -> None:
    encode = row_encoder(ROW_TYPES[:2], 5, nullable=(), never_null=(0,))
    with pytest.raises(ValueError):
        encode((new_uuid(random.Random(1)),))


def test_pg_text_is_the_iso_instant() -> None:
    rng = random.Random(9)
    moments = [0, 1, 86_399_999_999, 1_760_000_000_000_000, -1, -86_400_000_001]
    moments += [rng.randrange(-(10**16), 10**17) for _ in range(5_000)]
    for us in moments:
        expected = EPOCH + timedelta(microseconds=us)
        assert datetime.fromisoformat(pg_text(us)) == expected
        assert pg_text(us).endswith("+00:00")
