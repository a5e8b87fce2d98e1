"""Benchmark of the merge into raw: dlt's delete-insert as the loaders declare it, beside dlt's default.

An incremental package that changes every row of a raw table (a third of them tombstones: a
mass update and a mass hard delete at once) is merged by ``pipeline.load()`` on the loaders' own
DuckDB settings (``duckdb_config``), two ways, alternating:

  * deduplicated  ``MERGE_DISPOSITION`` (``loaders/table_stats.py``): the staged rows inserted as
                  they are;
  * numbered      the same without ``deduplicated``, dlt's default (the reference): the staged
                  rows numbered by key (``ROW_NUMBER()`` over every row) before the insert.

Each attempt runs in a child process that first builds the raw table (a replace load, not timed),
then resets its peak RSS (``/proc/self/clear_refs``) and times the merge alone: its peak RSS, and
the rise over the RSS the process had when the merge started (dlt, pyarrow, DuckDB loaded). A merge that runs
out of DuckDB's memory is shown as such: under the load's 128MB the reference does with 2 M rows.
Synthetic user_events-like rows (a four-column key), no server needed. Run by hand:

    .venv/bin/python bench/bench_merge.py --rows 2000000 --memory-limits 128MB,1GB --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
KINDS = ("deduplicated", "numbered")
KEY = ["user_id", "day", "event_time", "event_id"]


def _rows(n: int, version: str, tombstone_every: int) -> Any:
    import duckdb

    deleted = (
        f"CASE WHEN i % {tombstone_every} = 0 THEN TIMESTAMPTZ '2026-11-30' END"
        if tombstone_every
        else "NULL"
    )
    return duckdb.sql(
        f"SELECT md5((i % 50000)::VARCHAR) AS user_id, DATE '2026-01-01' + (i % 300)::INTEGER AS day, "
        f"TIMESTAMPTZ '2026-01-01' + to_seconds(i) AS event_time, md5(i::VARCHAR) AS event_id, "
        f"'{version}' AS event_type, '{{\"screen\":\"home\"}}' AS properties, "
        f"CAST({deleted} AS TIMESTAMPTZ) AS _loader_deleted_at FROM range({n}) t(i)"
    ).fetch_arrow_table()


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the high-water mark restarts from now


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(kind: str, rows: int, memory_limit: str, work: Path) -> dict[str, Any]:
    """Build the raw table, then merge a package changing all its rows; the merge's figures."""
    import dlt
    import duckdb
    from dlt.destinations import duckdb as duckdb_destination
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    from loaders.load.config import apply_dlt_defaults, duckdb_config
    from loaders.table_stats import DELETED_AT_COLUMN, MERGE_DISPOSITION, TOMBSTONE_HINT

    apply_dlt_defaults()
    connection = duckdb.connect(str(work / "w.duckdb"), config={**duckdb_config(), "memory_limit": "1GB"})
    pipeline = dlt.pipeline(
        pipeline_name="bench_merge",
        pipelines_dir=str(work / "pipelines"),
        destination=duckdb_destination(credentials=DuckDbCredentials(connection)),
        dataset_name="raw_bench",
    )
    columns: Any = {DELETED_AT_COLUMN: dict(TOMBSTONE_HINT)}

    def resource(table: Any, disposition: Any) -> Any:
        return dlt.resource(
            table, name="user_events", write_disposition=disposition, primary_key=KEY, columns=columns
        )

    pipeline.run(resource(_rows(rows, "v1", 0), "replace")).raise_on_failed_jobs()
    disposition = dict(MERGE_DISPOSITION)
    if kind == "numbered":
        disposition.pop("deduplicated")
    pipeline.extract(resource(_rows(rows, "v2", 3), disposition))
    pipeline.normalize()
    connection.execute("CHECKPOINT")
    connection.execute(f"SET memory_limit = '{memory_limit}'")
    _reset_peak_rss()
    before_mb = _status_mb("VmRSS")
    started = time.perf_counter()
    try:
        pipeline.load()
        status = "ok"
    except Exception as exc:  # the figure to show is which way ran out of memory
        status = "out of memory" if "Out of Memory" in str(exc) or "failed to pin" in str(exc) else "failed"
    seconds = time.perf_counter() - started
    return {
        "kind": kind,
        "memory_limit": memory_limit,
        "seconds": seconds,
        "peak_rss_mb": _status_mb("VmHWM"),
        "rise_mb": _status_mb("VmHWM") - before_mb,
        "status": status,
    }


def _attempt(kind: str, rows: int, memory_limit: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_merge_") as tmp:
        env = {**os.environ, "RUNTIME__LOG_LEVEL": "CRITICAL", "PYTHONPATH": str(PROJECT_DIR)}
        out = subprocess.run(
            [sys.executable, __file__, "_child", kind, str(rows), memory_limit, tmp],
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT_DIR,
        )
        if out.returncode != 0:
            raise SystemExit(f"bench_merge: the {kind} child failed: {out.stderr[-2000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=2_000_000, help="rows of the raw table, all changed (default 2,000,000)"
    )
    parser.add_argument(
        "--memory-limits", default="128MB,1GB", help="DuckDB limits of the merge, comma-separated"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="attempts per way and limit, alternating (default 2)"
    )
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    for limit in args.memory_limits.split(","):
        for attempt in range(args.repeat):
            for kind in KINDS if attempt % 2 == 0 else reversed(KINDS):
                result = _attempt(kind, args.rows, limit)
                print(
                    f"bench_merge: {kind} under {limit}: {result['status']}, {result['seconds']:.2f} s",
                    file=sys.stderr,
                )
                results.append(result)
    print(
        f"merge of a package changing all {args.rows:,} rows of a raw table (a third tombstones), median of {args.repeat}"
    )
    print(
        f"{'way':<14}{'limit':>8}{'status':>16}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>13}{'rise MB':>9}"
    )
    for limit in args.memory_limits.split(","):
        for kind in KINDS:
            mine = [r for r in results if r["kind"] == kind and r["memory_limit"] == limit]
            ok = [r for r in mine if r["status"] == "ok"]
            status = "ok" if len(ok) == len(mine) else ", ".join(sorted({r["status"] for r in mine}))
            seconds = statistics.median(r["seconds"] for r in (ok or mine))
            peak = statistics.median(r["peak_rss_mb"] for r in (ok or mine))
            rise = statistics.median(r["rise_mb"] for r in (ok or mine))
            rate = f"{args.rows / seconds:,.0f}" if ok else "-"
            print(f"{kind:<14}{limit:>8}{status:>16}{seconds:>10.2f}{rate:>12}{peak:>13.0f}{rise:>9.0f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _, _, kind, rows, limit, work = sys.argv
        print(json.dumps(child(kind, int(rows), limit, Path(work))))
        sys.exit(0)
    sys.exit(main())
