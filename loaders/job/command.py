"""The whole job, as the Kubernetes CronJob runs it: one writer, start to finish.

Steps, under one lock on the warehouse (a second run fails fast, or waits with --wait):
  1. load     extract-load PostgreSQL and Cassandra into raw_postgres / raw_cassandra (incremental),
              in a process of its own under the job's lock: its memory is freed before the build
  2. build    dbt build: seeds, staging, intermediate, gold marts and every test (in an
              incremental run, staging tests read only the loads newer than the published warehouse,
              and only the models and tests fed by the raw tables those loads changed run:
              loaders/job/build_plan.py; none changed, dbt is not started)
     freshness dbt source freshness and the load time of each table into ops.freshness (warns only)
     reconcile per table: the source's rows (counted by the load in its own read) = raw's live
              rows = the staging model's rows, into ops.reconciliation; a difference nothing
              explains stops the job here (exit 2, nothing published)
  3. docs     dbt docs generate (static site), from the SQL the build compiled
  4. publish  only if the build passed: a readers' copy of the warehouse (gold, ops, staging and
              intermediate without personal data, no raw schema) and the docs of what it holds are
              swapped in atomically (published/warehouse.duckdb, read-only; published/docs/)
  5. report   the analyses of analyses/ run against the published warehouse, and a test summary

A failing step stops the job with one line naming the cause and a non-zero exit;
readers keep the last good warehouse. Exit codes: 0 success, 1 dbt build failed
(nothing published), 2 configuration or source error.

Every run is recorded in the warehouse's ops schema (runs, table_loads, dbt_results,
freshness, anomalies) and ends by writing the status page and the metrics to
PUBLISHED_DIR/monitoring/ (`loaders status`, `loaders serve`). Volume and freshness
anomalies warn; LOADERS_ANOMALY_FAIL=true makes them hold the publish back (exit 1).
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

import duckdb

from loaders.errors import UserError
from loaders.job import peak_memory, publish, reconcile_step, report
from loaders.job.build_plan import ProjectTables, plan_build
from loaders.job.dbt_memory import build_with_memory_retry, invocation_label
from loaders.job.dbt_runner import DbtOutcome, parse_project, release_dbt_database, run_dbt
from loaders.job.load_process import load_in_own_process
from loaders.job.project_fingerprint import project_fingerprint
from loaders.job.pseudonym_key import pseudonym_key
from loaders.load.reconciliation import failure as reconciliation_failure
from loaders.load.results import SourceResult
from loaders.ops.job_run import JobRun, recorded_run
from loaders.settings import PROJECT_DIR, setting, warehouse_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip", action="append", default=[], choices=["load", "docs"], help="skip a step (repeatable)"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="reload every source table, rebuild incremental models and test every row",
    )
    parser.add_argument(
        "--test-every-row",
        action="store_true",
        help="run the data tests on every row, not only on the loads newer than the published warehouse "
        "(do it after changing a staging model's SQL)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait for a running job or load to finish instead of failing fast"
    )
    parser.add_argument("--as-of-date", help="dbt variable as_of_date (YYYY-MM-DD) for gold_ml_user_features")
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="also run dbt's unit tests (they test the SQL logic, not the data: CI and `make test` run them; "
        "the scheduled job skips them, as dbt recommends for production)",
    )


# dbt's unit tests check the SQL logic, not the data: the scheduled job leaves them to CI,
# as dbt recommends for production (`loaders run --unit-tests` runs them too).
SKIP_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


def build_command(*, full_refresh: bool, unit_tests: bool) -> list[str]:
    """The job's `dbt build` arguments."""
    return ["build", *(["--full-refresh"] if full_refresh else []), *([] if unit_tests else SKIP_UNIT_TESTS)]


# macros/tests/loads_under_test.sql: staging tests read only the rows of loads committed after it
TESTS_SCOPE_ENV = "OUTINGS_TEST_LOADS_AFTER"


def data_tests_scope_env(tested_through: datetime | None) -> dict[str, str | None]:
    """The build's environment: tests scoped to loads newer than the published (tested) warehouse."""
    return {TESTS_SCOPE_ENV: tested_through.isoformat() if tested_through is not None else None}


def data_tests_scope_line(tested_through: datetime | None) -> str:
    if tested_through is None:
        return "data tests: every row (--full-refresh, --test-every-row, or no published warehouse yet)"
    return (
        f"data tests on staging: the rows of loads committed after {tested_through.isoformat()} "
        "(older rows were tested before the last publish)"
    )


def _tested_through(readers_copy: Path) -> datetime | None:
    """The published copy's newest tested load; None (test every row) when it cannot be read."""
    try:
        return publish.newest_committed_load(readers_copy)
    except duckdb.Error as exc:  # corrupt, truncated, or held open read-write by a reader
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(
            f"  WARNING the published warehouse {readers_copy} cannot be read ({reason}): the data tests run on "
            "every row and this run's publish replaces it (readers must open it read-only)",
            flush=True,
        )
        return None


def _step(name: str) -> float:
    print(f"\n==> {name}", flush=True)
    return time.monotonic()


def run(args: argparse.Namespace) -> int:
    from loaders.load.lock import warehouse_lock  # the loaders' single-writer lock

    warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    with (
        warehouse_lock(warehouse_path(), wait=args.wait),  # ops.runs has one writer too
        recorded_run(warehouse_path(), full_refresh=args.full_refresh) as ops_run,
    ):
        return _run(args, ops_run)


def _run(args: argparse.Namespace, ops_run: JobRun) -> int:
    from loaders.load.lock import warehouse_lock  # the loaders' single-writer lock

    started = time.monotonic()
    build_path = warehouse_path()
    build_path.parent.mkdir(parents=True, exist_ok=True)
    timings = ops_run.phase_seconds  # recorded in ops.runs
    key = pseudonym_key()  # the readers' pseudonyms: a missing key fails before any work
    with warehouse_lock(build_path, wait=args.wait):
        loads: list[SourceResult] | None = None  # the load's own counts, for the reconciliation
        if "load" not in args.skip:
            t = _step("load: PostgreSQL and Cassandra → raw schemas")
            # in a process of its own, under this lock: what the load holds goes back to the
            # system before dbt builds (loaders/job/load_process.py)
            loads = load_in_own_process(build_path, full_refresh=args.full_refresh)
            ops_run.record_loads(loads)
            _phase_done(ops_run, "load", t)

        t = _step("build: dbt build (seeds, models, tests)")
        build_cmd = build_command(full_refresh=args.full_refresh, unit_tests=args.unit_tests)
        vars_yaml = f"{{as_of_date: '{args.as_of_date}'}}" if args.as_of_date else None
        readers_copy = publish.published_warehouse_path()
        every_row = args.full_refresh or args.test_every_row
        tested_through = None if every_row else _tested_through(readers_copy)
        print(f"  {data_tests_scope_line(tested_through)}", flush=True)
        manifest = parse_project(vars_yaml=vars_yaml)  # one parse for the build and the docs
        fingerprint = project_fingerprint(vars_yaml)
        plan = plan_build(
            build_path,
            ProjectTables.from_manifest(manifest) if manifest is not None else None,
            tested_through=tested_through,
            published_fingerprint=publish.published_project_fingerprint(readers_copy),
            fingerprint=fingerprint,
        )
        print(f"  {plan.line()}", flush=True)
        if plan.nothing_to_build:
            build = DbtOutcome(command="build", success=True)
        else:

            def invoke(command: list[str], env: dict[str, str | None]) -> DbtOutcome:
                outcome = run_dbt(command, vars_yaml=vars_yaml, env=env, manifest=manifest)
                ops_run.collect_build_nodes(invocation_label(command, env))
                return outcome

            build, _ = build_with_memory_retry(
                [*build_cmd, *plan.select_arguments()], invoke, data_tests_scope_env(tested_through)
            )
        _phase_done(ops_run, "build", t)
        ops_run.record_build()
        t = _step(
            "freshness: dbt source freshness (event time) and load time per table (never fails the job)"
        )
        ops_run.check_freshness(manifest=manifest, vars_yaml=vars_yaml)
        _phase_done(ops_run, "freshness", t)
        if not build.success:
            for failure in build.failures[:20]:
                print(f"  FAILED {failure}")
            raise _BuildFailed(
                f"dbt build failed ({len(build.failures)} errors): nothing published, readers keep the last "
                "good warehouse; fix the model or data named above and rerun `loaders run`"
            )

        t = _step("reconcile: source = raw = staging, per table")
        checks = reconcile_step.reconcile_warehouse(build_path, loads)
        print(f"  {reconcile_step.summary_line(checks)}", flush=True)
        _phase_done(ops_run, "reconcile", t)
        mismatch = reconciliation_failure(checks)
        if mismatch is not None:
            raise mismatch

        docs_link: Path | None = None
        # nothing built: the published docs describe this warehouse still (same project, same rows)
        docs_stand = plan.nothing_to_build and publish.published_docs_path().exists()
        if "docs" not in args.skip and not docs_stand:
            t = _step("docs: dbt docs generate")
            # a build of every model compiled every model and test into this manifest: the docs
            # reuse that SQL instead of compiling the project again (3-4 s); analyses are plain SQL
            reuse = ["--no-compile"] if plan.everything_because is not None else []
            docs = run_dbt(["docs", "generate", *reuse], vars_yaml=vars_yaml, manifest=manifest)
            if not docs.success:
                raise _BuildFailed("dbt docs generate failed: nothing published; see dbt's message above")
            _phase_done(ops_run, "docs", t)
        elif docs_stand:
            print("\n==> docs: nothing was built, the published docs stand", flush=True)

        ops_run.before_publish()  # LOADERS_ANOMALY_FAIL=true: an anomaly holds the publish back
        release_dbt_database()  # its memory serves the publish, not beside it
        t = _step("publish: swap the readers' copy in (no raw schema, personal columns hashed or dropped)")
        dbt_target = Path(setting("DBT_TARGET_PATH", str(PROJECT_DIR / "target")) or "")
        published = publish.publish_warehouse(
            build_path, manifest_path=dbt_target / "manifest.json", key=key, project_fingerprint=fingerprint
        )
        if "docs" not in args.skip:
            docs_link = publish.published_docs_path() if docs_stand else publish.publish_docs(dbt_target)
        _phase_done(ops_run, "publish", t)

    t = _step("report")
    print(report.render(report.run_analyses(published)))
    print(f"\n{plan.line() if plan.nothing_to_build else build.line()}")
    for warning in build.warnings:
        print(f"  warn  {warning}")
    print(f"\npublished warehouse: {published} (open it read-only)")
    if docs_link is not None:
        print(f"published docs:      {docs_link}/index.html (serve: make docs)")
    _phase_done(ops_run, "report", t)
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    print(f"job done in {time.monotonic() - started:.1f} s ({steps})")
    print(peak_memory.summary(ops_run.phase_peak_rss_mb))
    return 0


def _phase_done(ops_run: JobRun, phase: str, started: float) -> None:
    """A phase's seconds and its peak memory (the load's: its own process), for ops.runs."""
    ops_run.phase_seconds[phase] = time.monotonic() - started
    ops_run.phase_peak_rss_mb[phase] = (
        peak_memory.children_peak_mb()
        if phase == peak_memory.LOAD_PHASE
        else peak_memory.job_process_peak_mb()
    )


class _BuildFailed(UserError):
    """The build or its tests failed: exit 1, nothing published."""

    exit_code = 1
