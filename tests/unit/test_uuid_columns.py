"""uuid columns land in DuckDB as UUID through dlt (a real dlt pipeline into a scratch DuckDB file)."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from loaders.uuid_columns import UUID_HINT, enable_uuid_columns


def uuid_array(values: list[uuid.UUID | None]) -> pa.Array:
    storage = pa.array([v.bytes if v else None for v in values], type=pa.binary(16))
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def test_schema_inference_marks_uuid_columns() -> None:
    """Fails if a dlt upgrade renames the function the loader patches."""
    from dlt.common.libs import pyarrow as dlt_pyarrow

    enable_uuid_columns()
    schema = pa.schema([pa.field("id", pa.uuid()), pa.field("n", pa.int64()), pa.field("s", pa.string())])
    columns = dlt_pyarrow.py_arrow_to_table_schema_columns(schema)
    assert columns["id"]["data_type"] == "text" and columns["id"][UUID_HINT] is True
    assert columns["n"]["data_type"] == "bigint"
    assert UUID_HINT not in columns["s"]


def _column_types(path: Path, table: str) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_test' and table_name = ?",
            [table],
        ).fetchall()
        # dlt's own columns depend on process-wide dlt settings other tests may have made
        return {name: data_type for name, data_type in rows if not name.startswith("_dlt_")}
    finally:
        con.close()


@pytest.fixture
def pipeline(tmp_path: Path):
    import dlt

    enable_uuid_columns()
    warehouse = tmp_path / "warehouse.duckdb"
    return warehouse, dlt.pipeline(
        pipeline_name="uuid_columns_test",
        pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw_test",
    )


def test_uuid_columns_are_duckdb_uuid_and_merge_on_them(pipeline) -> None:
    warehouse, p = pipeline
    ids = [uuid.uuid4() for _ in range(3)]
    owner = uuid.uuid4()
    first = pa.table({"id": uuid_array(ids), "owner": uuid_array([owner, None, owner]), "n": [1, 2, 3]})
    merge = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}, "primary_key": "id"}
    p.run(first, table_name="things", **merge)
    assert _column_types(warehouse, "things") == {"id": "UUID", "owner": "UUID", "n": "BIGINT"}
    # a second load changes one row and adds one: merged on the uuid key
    new_id = uuid.uuid4()
    p.run(
        pa.table({"id": uuid_array([ids[1], new_id]), "owner": uuid_array([None, None]), "n": [20, 4]}),
        table_name="things",
        **merge,
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = dict(con.execute("select id, n from raw_test.things").fetchall())
    finally:
        con.close()
    assert rows == {ids[0]: 1, ids[1]: 20, ids[2]: 3, new_id: 4}
