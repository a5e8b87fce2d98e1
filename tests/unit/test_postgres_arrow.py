"""Arrow conversions of the PostgreSQL loader: exact, null-safe, offset-safe."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import pyarrow as pa
import pytest

from loaders.postgres.arrow import (
    DLT_ID,
    convert_batch,
    key_table,
    random_uuids,
    uuid_to_text,
)
from loaders.uuid_columns import is_uuid_type


def uuid_array(values: Sequence[uuid.UUID | None]) -> pa.Array:
    storage = pa.array([v.bytes if v else None for v in values], type=pa.binary(16))
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def test_uuid_to_text_is_canonical_with_nulls_and_offsets() -> None:
    values = [uuid.uuid4() for _ in range(50)]
    values[3] = None  # type: ignore[call-overload]
    values[17] = uuid.UUID("00000000-0000-0000-0000-000000000000")
    values[18] = uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
    array = uuid_array(values)
    expected = [str(v) if v else None for v in values]
    assert uuid_to_text(array).to_pylist() == expected
    assert uuid_to_text(array.slice(5, 20)).to_pylist() == expected[5:25]
    assert uuid_to_text(pa.chunked_array([array.slice(0, 10), array.slice(10)])).to_pylist() == expected


def test_uuid_to_text_of_plain_fixed_size_binary() -> None:
    value = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    assert uuid_to_text(pa.array([value.bytes], type=pa.binary(16))).to_pylist() == [str(value)]


def test_convert_batch_types_and_dlt_id() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    amounts = pa.array([Decimal("12.50"), None], type=pa.decimal128(12, 2))
    flags = pa.ExtensionArray.from_storage(pa.bool8(), pa.array([1, None], type=pa.int8()))
    batch = pa.RecordBatch.from_arrays(
        [uuid_array(ids), amounts, flags, pa.array(["a", "b"])], names=["id", "amount", "flag", "note"]
    )
    out = convert_batch(batch, not_null={"id"})
    assert is_uuid_type(out.schema.field("id").type)
    assert not out.schema.field("id").nullable
    assert out.column("amount").type == pa.decimal128(12, 2)
    assert out.column("amount").to_pylist() == [Decimal("12.50"), None]
    assert out.column("flag").type == pa.bool_()  # arrow.bool8 (the scanner's booleans) as plain booleans
    assert out.column("flag").to_pylist() == [True, None]
    assert out.schema.names == ["id", "amount", "flag", "note", "_dlt_load_id", DLT_ID]
    dlt_ids = uuid_to_text(out.column(DLT_ID)).to_pylist()
    assert len(set(dlt_ids)) == 2
    assert out.column("id").to_pylist() == ids  # the uuid bytes as they came


def test_random_uuids_are_unique() -> None:
    ids = uuid_to_text(random_uuids(10000)).to_pylist()
    assert len(set(ids)) == 10000


def test_random_uuids_of_two_calls_never_repeat() -> None:
    """Each call seeds its own generator from the OS: batches (and stream threads) never share a sequence."""
    first = set(uuid_to_text(random_uuids(5000)).to_pylist())
    second = set(uuid_to_text(random_uuids(5000)).to_pylist())
    assert len(first) == len(second) == 5000
    assert not first & second


def test_key_table_makes_uuid_keys_text_and_numbers_rows() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    batch = pa.RecordBatch.from_arrays([uuid_array(ids), pa.array([1, 2, 3])], names=["id", "n"])
    keys = key_table(batch, ["id"])
    assert keys.column("id").to_pylist() == [str(v) for v in ids]
    assert keys.column("__row").to_pylist() == [0, 1, 2]


@pytest.mark.parametrize("n", [0, 1, 7])
def test_convert_empty_and_small_batches(n: int) -> None:
    batch = pa.RecordBatch.from_arrays([uuid_array([uuid.uuid4() for _ in range(n)])], names=["id"])
    out = convert_batch(batch)
    assert out.num_rows == n
