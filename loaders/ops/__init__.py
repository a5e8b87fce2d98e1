"""Monitoring of the job: the ``ops`` schema (run history, loads, dbt results, freshness,
anomalies), the status page, ``loaders status``, the Prometheus metrics and ``loaders serve``."""
