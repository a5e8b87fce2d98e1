"""The generator's fast paths give exactly what the slow, general ones give."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import pytest
from cassandra.cqltypes import MapType, UTF8Type

from datagen.cassandra_store import _text_map
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


def test_pg_text_is_the_iso_instant() -> None:
    rng = random.Random(9)
    moments = [0, 1, 86_399_999_999, 1_760_000_000_000_000, -1, -86_400_000_001]
    moments += [rng.randrange(-(10**16), 10**17) for _ in range(5_000)]
    for us in moments:
        expected = EPOCH + timedelta(microseconds=us)
        assert datetime.fromisoformat(pg_text(us)) == expected
        assert pg_text(us).endswith("+00:00")
