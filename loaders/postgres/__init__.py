"""PostgreSQL → DuckDB raw_postgres with dlt: Arrow record batches streamed by ADBC (binary COPY).

Modules: ``tables`` (what is loaded, keys and cursors), ``catalog`` (the source's
columns and their types), ``arrow`` (conversions to the raw types), ``session``
(one consistent snapshot, parallel COPY streams), ``source`` (the dlt source:
full or incremental per table).
"""
