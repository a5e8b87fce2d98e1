"""PostgreSQL → DuckDB raw_postgres with dlt: Arrow record batches from binary COPY (DuckDB's postgres_scanner).

Modules: ``tables`` (what is loaded, keys and cursors), ``catalog`` (the source's
columns and their types), ``arrow`` (conversions to the raw types), ``session``
(one consistent snapshot, parallel COPY streams), ``scanner`` (the streams' decoder), ``source`` (the dlt source:
full or incremental per table).
"""
