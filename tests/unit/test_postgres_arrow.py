"""Arrow conversions of the PostgreSQL loader: exact, null-safe, offset-safe."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from loaders.postgres.arrow import (
    DLT_ID,
    convert_batch,
    key_table,
    random_uuids,
    unscaled_to_decimal,
    uuid_to_text,
)
from loaders.load.uuid_columns import is_uuid_type
from loaders.postgres.catalog import SourceColumn


def uuid_array(values: list[uuid.UUID | None]) -> pa.Array:
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


def test_unscaled_to_decimal_is_exact() -> None:
    values = [0, 1, -1, 12345, -99999999999, 9999999999 * 100 + 99, None]
    result = unscaled_to_decimal(pa.array(values, type=pa.int64()), 12, 2)
    assert result.type == pa.decimal128(12, 2)
    expected = [None if v is None else Decimal(v).scaleb(-2) for v in values]
    assert result.to_pylist() == expected
    assert unscaled_to_decimal(pa.array(values, type=pa.int64()).slice(2, 3), 12, 2).to_pylist() == expected[2:5]


def test_convert_batch_types_and_dlt_id() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    opaque = pa.array(["1.5", None])
    batch = pa.RecordBatch.from_arrays(
        [uuid_array(ids), pa.array([1250, 1], type=pa.int64()), opaque, pa.array(["a", "b"])],
        names=["id", "amount", "big", "note"],
    )
    columns = [
        SourceColumn("id", "uuid", "uuid"),
        SourceColumn("amount", "numeric", "numeric(12,2)", (12 << 16 | 2) + 4),
        SourceColumn("big", "numeric", "numeric(30,4)", (30 << 16 | 4) + 4),
        SourceColumn("note", "text", "text"),
    ]
    out = convert_batch(batch, columns, not_null={"id"})
    assert is_uuid_type(out.schema.field("id").type)
    assert not out.schema.field("id").nullable
    assert out.column("amount").to_pylist() == [Decimal("12.50"), Decimal("0.01")]
    assert out.column("big").type == pa.decimal128(30, 4)
    assert out.column("big").to_pylist() == [Decimal("1.5000"), None]
    assert out.schema.names == ["id", "amount", "big", "note", "_dlt_load_id", DLT_ID]
    dlt_ids = uuid_to_text(out.column(DLT_ID)).to_pylist()
    assert len(set(dlt_ids)) == 2
    assert out.column("id").to_pylist() == ids  # the uuid bytes as they came


def test_random_uuids_are_unique() -> None:
    ids = uuid_to_text(random_uuids(10000)).to_pylist()
    assert len(set(ids)) == 10000


def test_key_table_makes_uuid_keys_text_and_numbers_rows() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    batch = pa.RecordBatch.from_arrays([uuid_array(ids), pa.array([1, 2, 3])], names=["id", "n"])
    keys = key_table(batch, ["id"])
    assert keys.column("id").to_pylist() == [str(v) for v in ids]
    assert keys.column("__row").to_pylist() == [0, 1, 2]


@pytest.mark.parametrize("n", [0, 1, 7])
def test_convert_empty_and_small_batches(n: int) -> None:
    batch = pa.RecordBatch.from_arrays([uuid_array([uuid.uuid4() for _ in range(n)])], names=["id"])
    out = convert_batch(batch, [SourceColumn("id", "uuid", "uuid")])
    assert out.num_rows == n
