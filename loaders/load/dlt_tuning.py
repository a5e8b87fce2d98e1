"""Faster parquet files from dlt's writer, for files that live seconds (extract → DuckDB).

dlt 1.31 writes every column with dictionary encoding and statistics. For
uuid, timestamp and decimal columns (high cardinality) the dictionary is tried
and dropped page after page, and nobody reads the statistics: together they
were 70 % of the extract's parquet time on 2 M payments. ``tune_parquet_writer``
keeps dictionaries for text columns only and skips statistics.

It replaces ``ParquetDataWriter._create_writer`` with the same code plus those
two options, only on the dlt version it was written against; on another
version it does nothing (files are then slower to write, never different).
``tests/unit/test_load_dlt_tuning.py`` checks it is in effect.

dlt's buffered writer flushes its buffer to the file every ``buffer_max_items``
rows (5,000): a count of rows, not bytes. With rows of 1 MB texts, 5,000 rows
would be 5 GB in memory. ``bound_writer_buffer`` also flushes once the Arrow
items waiting in the buffer hold ``BUFFER_MAX_BYTES`` (16 MiB): memory bounded
in bytes. pyarrow's parquet writer holds about as much again while it writes a
flush, so the buffer counts twice in the extract's peak (32 MiB measured 14 MB
more than 16 MiB on rows of 1 MiB texts); narrow batches (more than 5,000 rows
each) are written one by one anyway.
"""

from __future__ import annotations

from typing import Any

TUNED_DLT_VERSION = "1.31."
BUFFER_MAX_BYTES = 16 << 20  # Arrow bytes dlt's writer may hold before it writes them to the file


def _dictionary_columns(schema: Any) -> list[str]:
    import pyarrow as pa

    return [
        f.name
        for f in schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or pa.types.is_dictionary(f.type)
    ]


def _buffered_bytes(items: list[Any]) -> int:
    return sum(int(getattr(item, "nbytes", 0) or 0) for item in items)


def bound_writer_buffer() -> bool:
    """Make dlt's buffered writer flush by bytes too (see the module docstring); True when in effect."""
    import dlt
    from dlt.common.data_writers.buffered import BufferedDataWriter

    if getattr(BufferedDataWriter.write_data_item, "_loaders_tuned", False):
        return True
    if not dlt.__version__.startswith(TUNED_DLT_VERSION):
        return False
    write_data_item = BufferedDataWriter.write_data_item

    def bounded_write_data_item(self: Any, item: Any, columns: Any) -> int:
        rows = int(write_data_item(self, item, columns))
        if self._buffered_items and _buffered_bytes(self._buffered_items) >= BUFFER_MAX_BYTES:
            self._flush_items()
        return rows

    bounded_write_data_item._loaders_tuned = True  # type: ignore[attr-defined]
    BufferedDataWriter.write_data_item = bounded_write_data_item  # type: ignore[method-assign]
    return True


def tune_parquet_writer() -> bool:
    """Install the tuned writer and the byte-bounded buffer; True when in effect."""
    import dlt
    from dlt.common.data_writers.writers import ParquetDataWriter

    bound_writer_buffer()
    if getattr(ParquetDataWriter._create_writer, "_loaders_tuned", False):
        return True
    if not dlt.__version__.startswith(TUNED_DLT_VERSION):
        return False

    def _create_writer(self: Any, schema: Any) -> Any:
        import pyarrow
        import pyarrow.parquet
        from packaging.version import Version

        kwargs = {
            "flavor": self.parquet_format.flavor,
            "version": self.parquet_format.version,
            "compression": self.parquet_format.compression,
            "data_page_size": self.parquet_format.data_page_size,
            "coerce_timestamps": self.parquet_format.coerce_timestamps,
            "allow_truncated_timestamps": self.parquet_format.allow_truncated_timestamps,
            "use_compliant_nested_type": self.parquet_format.use_compliant_nested_type,
            "write_page_index": self.parquet_format.write_page_index,
            "use_dictionary": _dictionary_columns(schema),
            "write_statistics": False,
        }
        if Version(pyarrow.__version__).major >= 21:
            kwargs["use_content_defined_chunking"] = self.parquet_format.use_content_defined_chunking
        return pyarrow.parquet.ParquetWriter(self._f, schema, **kwargs)

    _create_writer._loaders_tuned = True  # type: ignore[attr-defined]
    ParquetDataWriter._create_writer = _create_writer  # type: ignore[method-assign]
    return True
