"""The last run's metrics as OpenMetrics text (prometheus-client), for ``/metrics``.

Names and labels (the chart's PrometheusRule uses exactly these):

  outings_job_last_run_success                          1 if the last finished run was ok, else 0
  outings_job_last_run_timestamp_seconds                when the last finished run ended (Unix time)
  outings_job_phase_seconds{phase}                      the last finished run's seconds per phase
  outings_job_phase_peak_rss_bytes{phase}               its peak resident memory per phase (load: the
                                                        load's process; others: the job's, by the phase's end)
  outings_table_rows_loaded{source,table}               rows the last load extracted per table
  outings_table_freshness_lag_seconds{source,table}     event-time lag (load-time lag if no event time)
  outings_table_load_lag_seconds{source,table}          seconds since the table was last loaded
  outings_table_freshness_status{source,table}          worst of both clocks: 0 ok, 1 warn, 2 error
  outings_dbt_test_failures                             tests failed or errored in the last build
  outings_dbt_nodes_retried                             its nodes built again after DuckDB ran out of memory
                                                        (loaders/job/dbt_memory.py; raise DBT_DUCKDB_MEMORY_LIMIT)
  outings_reconciliation_difference_rows{source,table}  unexplained source/warehouse difference
  outings_anomalies_open{table,kind}                    anomalies the last checks found

The file is written when a run ends, so lags are as of that moment: alert on the job not
running with ``time() - outings_job_last_run_timestamp_seconds``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest

from loaders.ops.facts import FreshnessFacts, OpsFacts

CONTENT_TYPE = CONTENT_TYPE_LATEST
FRESHNESS_CODES = {"pass": 0, "warn": 1, "error": 2}


def registry_of(facts: OpsFacts) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = (), unit: str = "") -> Gauge:
        return Gauge(name, doc, labels, registry=registry, unit=unit)

    last = facts.last_finished_run
    if last is not None:
        gauge("outings_job_last_run_success", "1 if the last finished job run succeeded, else 0").set(
            1 if last.status == "ok" else 0
        )
        moment = last.ended or last.started
        gauge("outings_job_last_run_timestamp_seconds", "when the last finished job run ended").set(
            moment.timestamp()
        )
        phases = gauge("outings_job_phase_seconds", "seconds per phase of the last finished run", ("phase",))
        for phase, seconds in last.phases.items():
            phases.labels(phase).set(seconds)
        peaks = gauge(
            "outings_job_phase_peak_rss_bytes",
            "peak resident memory per phase of the last finished run (load: its own process)",
            ("phase",),
        )
        for phase, mb in last.peak_rss_mb.items():
            peaks.labels(phase).set(mb * 2**20)
    rows = gauge(
        "outings_table_rows_loaded", "rows extracted per table by the last load", ("source", "table")
    )
    loading_run = next((r.run_id for r in facts.runs if facts.rows_of(r.run_id)), None)
    if loading_run is not None:
        for (source, table), count in facts.rows_of(loading_run).items():
            rows.labels(source, table).set(count)
    lag = gauge(
        "outings_table_freshness_lag_seconds",
        "event-time lag of each table at the last check",
        ("source", "table"),
    )
    load_lag = gauge(
        "outings_table_load_lag_seconds", "seconds since each table was last loaded", ("source", "table")
    )
    status = gauge(
        "outings_table_freshness_status",
        "freshness of each table: 0 ok, 1 warn, 2 error",
        ("source", "table"),
    )
    by_table: dict[tuple[str, str], dict[str, FreshnessFacts]] = {}
    for f in facts.freshness:
        by_table.setdefault((f.source, f.table_name), {})[f.measure] = f
    for (source, table), measures in sorted(by_table.items()):
        event, loaded = measures.get("event_time"), measures.get("load_time")
        shown = event if event is not None and event.lag_seconds is not None else loaded
        if shown is not None and shown.lag_seconds is not None:
            lag.labels(source, table).set(shown.lag_seconds)
        if loaded is not None and loaded.lag_seconds is not None:
            load_lag.labels(source, table).set(loaded.lag_seconds)
        status.labels(source, table).set(max(FRESHNESS_CODES.get(m.status, 2) for m in measures.values()))
    if facts.tests:
        last_tests = next(c for r in facts.runs if (c := facts.tests.get(r.run_id)) is not None)
        gauge("outings_dbt_test_failures", "tests failed or errored in the last build").set(
            sum(n for s, n in last_tests.items() if s in {"fail", "error", "runtime error"})
        )
        gauge(
            "outings_dbt_nodes_retried", "nodes of the last build built again after DuckDB ran out of memory"
        ).set(len(facts.retried_nodes))
    difference = gauge(
        "outings_reconciliation_difference_rows",
        "unexplained source/warehouse row difference",
        ("source", "table"),
    )
    for r in facts.reconciliation:
        difference.labels(r.source, r.table_name).set(r.difference or 0)
    open_anomalies = gauge("outings_anomalies_open", "anomalies found by the last checks", ("table", "kind"))
    for a in facts.anomalies:
        open_anomalies.labels(a.table_name, a.kind).inc()
    return registry


def render_metrics(facts: OpsFacts) -> bytes:
    text: bytes = generate_latest(registry_of(facts))  # type: ignore[no-untyped-call]
    return text
