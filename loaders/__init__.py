"""Extract-load of the app's operational stores (PostgreSQL, Cassandra) into DuckDB with dlt."""

__version__ = "0.1.0"
