"""Extract-load of the app's Cassandra tables (dlt source over cassandra-driver).

Modules, one job each:

- ``token_ranges``: split the Murmur3 ring into contiguous token ranges (pure).
- ``connection``: cluster/session with the loaders' policies; user-fixable errors.
- ``raw_protocol``: a protocol handler that leaves result cells as raw bytes.
- ``columns``: raw cells -> pyarrow arrays, one vectorised converter per CQL type; bad cells quarantined.
- ``tables``: the three source tables (columns, keys, write-time columns, late-arrival window).
- ``scan``: the parallel, paged, retried token-range scan (the benchmarks' bare and count scans of it
  live in ``bench/cassandra_baseline.py``).
- ``reader``: one table's scan as Arrow tables with each row's write time; quarantined rows reported.
- ``change_capture``: full / incremental / sweep, the write-time cursor, the guarantee (pure).
- ``raw_side``: the scanned rows staged, then diffed against raw once: rows raw lacks or holds
  differently, and the keys a sweep did not see (tombstones), in DuckDB.
- ``source``: the dlt source (resource state, dispositions, per-table ``TableStats``).
"""
