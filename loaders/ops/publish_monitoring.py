"""Write the status page and the metrics of the build warehouse's ``ops`` schema into the
published folder, atomically (a new file renamed over the old one), after every run.

Layout: ``PUBLISHED_DIR/monitoring/status.html`` and ``PUBLISHED_DIR/monitoring/metrics``
(outside the docs folder, whose versions the publish step swaps, so that a failed run,
which publishes no docs, still updates them). ``loaders serve`` serves them as
``/status.html`` and ``/metrics`` beside the dbt docs.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from loaders.ops.facts import read_facts
from loaders.ops.metrics import render_metrics
from loaders.ops.status_page import render

MONITORING_DIR = "monitoring"
STATUS_FILE = "status.html"
METRICS_FILE = "metrics"
PAGE_RUNS = 30


def monitoring_dir(published: Path | None = None) -> Path:
    from loaders.job.publish import published_dir

    return (published or published_dir()) / MONITORING_DIR


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def publish_monitoring(warehouse: Path, published: Path | None = None) -> tuple[Path, Path]:
    with duckdb.connect(str(warehouse)) as conn:
        facts = read_facts(conn, runs=PAGE_RUNS)
    folder = monitoring_dir(published)
    folder.mkdir(parents=True, exist_ok=True)
    page, metrics = folder / STATUS_FILE, folder / METRICS_FILE
    _write_atomically(page, render(facts).encode("utf-8"))
    _write_atomically(metrics, render_metrics(facts))
    return page, metrics
