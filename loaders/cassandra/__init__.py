"""Extract-load of the app's Cassandra tables (dlt source over cassandra-driver).

Modules, one job each:

- ``token_ranges``: split the Murmur3 ring into contiguous token ranges (pure).
- ``connection``: cluster/session with the loaders' policies; user-fixable errors.
- ``raw_protocol``: a protocol handler that leaves result cells as raw bytes.
- ``columns``: raw cells -> pyarrow arrays, one vectorised converter per CQL type.
- ``tables``: the three source tables (columns, keys, cursor).
- ``scan``: the parallel, paged, retried token-range scan (and the bare benchmark scan).
- ``source``: the dlt source (incremental state, merge/replace dispositions).
"""
