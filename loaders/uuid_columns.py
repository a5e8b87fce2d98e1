"""Raw uuid columns stored as DuckDB ``UUID`` (16 bytes), not as 36-character text.

dlt 1.31 has no uuid data type: it rejects Arrow's ``arrow.uuid`` extension
type, and a text column becomes ``VARCHAR`` in DuckDB. Storing ids as text is
slow (DuckDB formats and compresses 36 random characters per value: 3.1 s
against 0.5 s for three uuid columns of 2 M rows, measured) and makes every
join on them compare strings.

``enable_uuid_columns`` teaches dlt two things, process-wide and idempotently:

- schema inference: an ``arrow.uuid`` column is a ``text`` column carrying the
  column hint ``x-uuid: true`` (kept in dlt's stored schema, like dlt's own
  ``x-`` hints);
- the DuckDB type mapper: a column with that hint is created as ``UUID``.

The parquet files dlt writes keep the uuid logical type, which DuckDB reads as
``UUID``: the values are copied as 16-byte integers, never formatted. Tables
created before this existed keep their ``VARCHAR`` columns (dlt never changes
a column's type) until ``loaders load --full-refresh`` recreates them.
``tests/unit/test_uuid_columns.py`` fails loudly if a dlt upgrade breaks this.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

UUID_EXTENSION = "arrow.uuid"
UUID_HINT = "x-uuid"

_ENABLED = False


def is_uuid_type(dtype: pa.DataType) -> bool:
    return isinstance(dtype, pa.BaseExtensionType) and dtype.extension_name == UUID_EXTENSION


def uuid_column_type() -> dict[str, Any]:
    """The dlt column type (with its hint) of a uuid column."""
    return {"data_type": "text", UUID_HINT: True}


def enable_uuid_columns() -> None:
    """Install both patches (see the module docstring)."""
    global _ENABLED
    if _ENABLED:
        return
    from dlt.common.libs import pyarrow as dlt_pyarrow
    from dlt.destinations.impl.duckdb.factory import DuckDbTypeMapper

    infer_type = dlt_pyarrow.get_column_type_from_py_arrow

    def get_column_type_from_py_arrow(dtype: pa.DataType) -> Any:
        if is_uuid_type(dtype):
            return uuid_column_type()
        return infer_type(dtype)

    to_destination_type = DuckDbTypeMapper.to_destination_type

    def duckdb_destination_type(self: DuckDbTypeMapper, column: Any, table: Any) -> str:
        if column.get(UUID_HINT) and column.get("data_type") == "text":
            return "UUID"
        return to_destination_type(self, column, table)

    dlt_pyarrow.get_column_type_from_py_arrow = get_column_type_from_py_arrow
    DuckDbTypeMapper.to_destination_type = duckdb_destination_type  # type: ignore[method-assign, assignment]
    _ENABLED = True
