"""``loaders load``: dlt pipelines from the app's stores into the DuckDB raw schemas.

Modules: ``command`` (CLI), ``runner`` (one pipeline, crash-safe steps),
``sources`` (PostgreSQL built in, Cassandra plugged in lazily), ``lock``
(single writer), ``raw`` (the warehouse side), ``errors`` / ``redact`` (one-line,
secret-free messages), ``summary``, ``config``, ``testhooks`` (crash tests).
"""
