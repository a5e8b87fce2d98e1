"""dlt's parquet writer, tuned: dictionaries for text only, no statistics (fails loudly on a dlt upgrade)."""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from loaders.load.dlt_tuning import tune_parquet_writer


def test_tuned_writer_skips_dictionaries_of_high_cardinality_columns() -> None:
    assert tune_parquet_writer(), (
        "dlt version changed: re-check loaders/load/dlt_tuning.py against dlt's writer"
    )
    from dlt.common.data_writers.writers import ArrowToParquetWriter

    ids = pa.ExtensionArray.from_storage(
        pa.uuid(), pa.array([uuid.uuid4().bytes for _ in range(100)], pa.binary(16))
    )
    table = pa.table({"id": ids, "status": pa.array(["a", "b"] * 50), "n": pa.array(range(100))})
    sink = io.BytesIO()
    writer = ArrowToParquetWriter(sink)
    writer.write_header({})
    writer.write_data([table])
    writer.write_footer()
    writer.close()
    meta = pq.ParquetFile(io.BytesIO(sink.getvalue())).metadata
    columns = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i) for i in range(3)}
    assert (
        "RLE_DICTIONARY" in columns["status"].encodings or "PLAIN_DICTIONARY" in columns["status"].encodings
    )
    assert not any("DICTIONARY" in e for e in columns["id"].encodings)
    assert not columns["n"].is_stats_set
    assert pq.read_table(io.BytesIO(sink.getvalue())).column("status").to_pylist() == ["a", "b"] * 50


def test_dlt_runs_one_load_job_at_a_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """dlt's own configuration resolves the loaders' default: parallel load jobs share DuckDB's
    memory_limit, and at scale 10 they ran out of it (loaders/load/config.py)."""
    import dlt

    from loaders.load.config import apply_dlt_defaults

    monkeypatch.delenv("LOAD__WORKERS", raising=False)
    apply_dlt_defaults()
    assert dlt.config.get("load.workers", int) == 1
    monkeypatch.setenv("LOAD__WORKERS", "4")  # still the environment's to override
    apply_dlt_defaults()
    assert dlt.config.get("load.workers", int) == 4
