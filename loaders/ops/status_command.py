"""The job's status in the terminal: the last runs, freshness per table, tests, reconciliation
and open anomalies, read from the warehouse's ``ops`` schema (what the status page shows).

Freshness is judged now, not as of the last run: a table that has not moved since it was
checked keeps getting older, so a job that stopped running shows up as stale.

Exit codes (usable as an alert or a probe): 0 all good; 1 the last finished run failed or
was killed, or a table is stale beyond its error threshold; 2 no run recorded (or no
warehouse). Reads the build warehouse (WAREHOUSE_PATH); while a job holds it, the
readers' published copy (PUBLISHED_DIR), whose ``ops`` are as of the last publish.

Examples:
  loaders status              # the last 10 runs
  loaders status --runs 30
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from loaders.errors import UserError
from loaders.job.report import format_table
from loaders.ops.facts import OpsFacts, read_facts
from loaders.ops.formatting import count, duration, moment
from loaders.settings import warehouse_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", type=int, default=10, metavar="N", help="how many recent runs to list (default 10)"
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="the DuckDB file to read (default: WAREHOUSE_PATH, else the published copy)",
    )


def read_status(path: Path | None, runs: int) -> tuple[OpsFacts, Path, str | None]:
    """The facts and where they came from (with a note when the published copy was used)."""
    from loaders.job.publish import published_warehouse_path

    candidates = [path] if path is not None else [warehouse_path(), published_warehouse_path()]
    note = None
    for i, candidate in enumerate(candidates):
        if not candidate.is_file():
            continue
        try:
            with duckdb.connect(str(candidate), read_only=True) as conn:
                facts = read_facts(conn, runs=runs)
        except duckdb.IOException:  # held by the job that is writing it
            note = f"{candidate} is being written by a running job"
            continue
        if i > 0 and note:
            note += f": showing the published copy {candidate} (as of its last publish)"
        return facts, candidate, note
    raise UserError(
        f"no warehouse to read at {', '.join(str(c) for c in candidates)}"
        + (f" ({note})" if note else "")
        + ": run `loaders run` first, or pass --warehouse"
    )


def problems(facts: OpsFacts, now: datetime) -> list[str]:
    """What makes the status non-zero: a failed or killed last run, a table stale beyond error."""
    found = []
    last = facts.last_finished_run
    if last is not None and last.status in {"failed", "killed"}:
        found.append(f"the last run {last.run_id} {last.status}" + (f": {last.error}" if last.error else ""))
    for f in facts.freshness:
        if f.status_at(now) == "error":
            found.append(
                f"{f.source}.{f.table_name} is stale on {f.measure.replace('_', ' ')}: "
                f"lag {duration(f.lag_at(now) if f.newest else f.lag_seconds)} > {duration(f.error_after_seconds)}"
            )
    return found


def _short(text: str | None, width: int = 90) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def render(facts: OpsFacts, now: datetime) -> str:
    blocks = []
    run_rows = [
        (
            r.run_id,
            moment(r.started),
            r.status,
            duration(r.phases.get("total", r.seconds)),
            ", ".join(f"{k} {v:.1f}" for k, v in r.phases.items() if k != "total"),
            _short(r.error),
        )
        for r in facts.runs
    ]
    blocks.append(
        "== runs (newest first) ==\n"
        + format_table(["run", "started", "status", "duration", "phase seconds", "error"], run_rows)
    )
    fresh_rows = [
        (
            f"{f.source}.{f.table_name}",
            f.measure.replace("_", " "),
            f.status_at(now),
            duration(f.lag_at(now)),
            duration(f.warn_after_seconds),
            duration(f.error_after_seconds),
            moment(f.newest),
        )
        for f in facts.freshness
    ]
    blocks.append(
        "== freshness now ==\n"
        + format_table(["table", "clock", "status", "lag", "warn after", "error after", "newest"], fresh_rows)
    )
    last_loading = next((r.run_id for r in facts.runs if facts.rows_of(r.run_id)), None)
    if last_loading is not None:
        load_rows = [(f"{s}.{t}", n) for (s, t), n in sorted(facts.rows_of(last_loading).items())]
        blocks.append(
            f"== rows loaded by run {last_loading} ==\n" + format_table(["table", "rows"], load_rows)
        )
    last_tests = next(
        ((r.run_id, facts.tests[r.run_id]) for r in facts.runs if r.run_id in facts.tests), None
    )
    if last_tests is not None:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(last_tests[1].items()))
        lines = [f"== dbt tests of run {last_tests[0]} ==", summary]
        lines += [f"  {status}  {node}: {message}" for node, status, message in facts.test_failures]
        blocks.append("\n".join(lines))
    if facts.reconciliation:
        rec_rows = [
            (
                f"{r.source}.{r.table_name}",
                count(r.source_rows),
                count(r.raw_rows),
                count(r.staging_rows),
                count(r.in_flight_rows),
                count(r.difference),
                r.status,
            )
            for r in facts.reconciliation
        ]
        blocks.append(
            "== reconciliation ==\n"
            + format_table(
                ["table", "source", "raw", "staging", "in flight", "difference", "status"], rec_rows
            )
        )
    if facts.rejected_rows:
        blocks.append(f"== rejected rows ==\n  {facts.rejected_rows} rows quarantined in ops.rejected_rows")
    if facts.anomalies:
        blocks.append(
            "== open anomalies ==\n" + "\n".join(f"  {a.severity}  {a.message}" for a in facts.anomalies)
        )
    else:
        blocks.append("== open anomalies ==\n  none")
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise UserError("--runs must be at least 1, e.g. --runs 10")
    facts, source, note = read_status(args.warehouse, args.runs)
    if note:
        print(f"note: {note}")
    if not facts.runs:
        raise UserError(f"no run recorded in {source} (no ops.runs): run `loaders run` first")
    now = datetime.now(UTC)
    print(render(facts, now))
    found = problems(facts, now)
    if found:
        print("\nNOT OK:")
        for line in found:
            print(f"  {line}")
        return 1
    print(
        f"\nOK: the last run {facts.last_finished_run.run_id if facts.last_finished_run else '-'} succeeded "
        "and no table is stale beyond its error threshold"
    )
    return 0
