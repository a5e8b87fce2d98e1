"""What ``loaders run`` calls to keep its ``ops`` history, check anomalies and freshness, and
publish the status page and the metrics (loaders/job/command.py stays a list of steps)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loaders.errors import UserError, one_line
from loaders.load.results import SourceResult
from loaders.ops.dbt_artifacts import NodeResult, read_run_results, read_sources_freshness
from loaders.ops.formatting import duration
from loaders.ops.freshness import default_load_thresholds, load_thresholds
from loaders.ops.recorder import RunRecorder
from loaders.settings import PROJECT_DIR, setting

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest


class AnomalyFailed(UserError):
    """LOADERS_ANOMALY_FAIL=true and a check found an anomaly: exit 1, nothing published."""

    exit_code = 1


def dbt_target_path() -> Path:
    return Path(setting("DBT_TARGET_PATH", str(PROJECT_DIR / "target")) or str(PROJECT_DIR / "target"))


@dataclass
class JobRun:
    recorder: RunRecorder
    build_nodes: dict[str, NodeResult] = field(default_factory=dict)  # by unique_id
    build_commands: dict[str, str] = field(
        default_factory=dict
    )  # unique_id -> the invocation that ran it last

    @property
    def run_id(self) -> str:
        return self.recorder.run_id

    @property
    def phase_seconds(self) -> dict[str, float]:
        """The job's per-phase timings (the job fills it; ``ops.runs.phase_seconds``)."""
        return self.recorder.phase_seconds

    @property
    def phase_peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory per phase (``ops.runs.phase_peak_rss_mb``, loaders/job/peak_memory.py)."""
        return self.recorder.phase_peak_rss_mb

    def record_loads(self, results: list[SourceResult]) -> list[SourceResult]:
        """Record the load's per-table results; warn on volume anomalies."""
        found = self.recorder.record_loads(results)
        for anomaly in found:
            print(f"  anomaly ({anomaly.severity}): {anomaly.message}", flush=True)
        return results

    def collect_build_nodes(self, command: str = "build") -> None:
        """The nodes of the dbt invocation that just ended, from run_results.json (not an older file:
        written since the run began): the build's, then its retries', which replace the nodes they
        ran. ``command`` names the invocation (loaders/job/dbt_memory.py's ``invocation_label``)."""
        for node in read_run_results(
            dbt_target_path() / "run_results.json", not_before=self.recorder.started
        ):
            self.build_nodes[node.unique_id] = node
            self.build_commands[node.unique_id] = command

    def record_build(self) -> None:
        """The build's nodes (collect_build_nodes) into ops.dbt_results, each with the invocation
        that gave its final result (``build``, or a retry after DuckDB ran out of memory)."""
        by_command: dict[str, list[NodeResult]] = {}
        for unique_id, node in self.build_nodes.items():
            by_command.setdefault(self.build_commands.get(unique_id, "build"), []).append(node)
        for command, nodes in by_command.items():
            self.recorder.record_build(command, nodes)

    def check_freshness(self, *, manifest: Manifest | None, vars_yaml: str | None) -> None:
        """``dbt source freshness`` (event time) and the load time per table, into ``ops.freshness``.
        Never fails the job: warn and error are printed and recorded (freshness.py says why)."""
        from loaders.job.dbt_runner import run_dbt

        since = datetime.now(UTC)
        try:
            # dbt's own log lines stay out of the job's output (and of its summary's node counts):
            # the summary below says what it found
            run_dbt(["source", "freshness", "--log-level", "none"], vars_yaml=vars_yaml, manifest=manifest)
        except Exception as exc:
            print(f"  freshness: dbt source freshness failed ({one_line(exc)}); load time only")
        target = dbt_target_path()
        event_time = read_sources_freshness(target / "sources.json", not_before=since)
        rows = self.recorder.record_freshness(
            event_time, load_thresholds(target / "manifest.json"), default_load_thresholds()
        )
        counts = {s: sum(1 for r in rows if r.status == s) for s in ("pass", "warn", "error")}
        print(
            f"  freshness: {counts['pass']} pass, {counts['warn']} warn, {counts['error']} error "
            f"({len(event_time)} tables on event time, {len(rows) - len(event_time)} on load time)"
        )
        for row in rows:
            if row.status != "pass":
                lag = duration(row.lag_seconds) if row.lag_seconds is not None else "never measured"
                print(
                    f"  freshness {row.status}: {row.label} {row.measure.replace('_', ' ')} lag {lag}"
                    + (f" ({row.message})" if row.message else "")
                )
        for anomaly in self.recorder.anomalies:
            if anomaly.kind == "freshness_lag":
                print(f"  anomaly ({anomaly.severity}): {anomaly.message}", flush=True)

    def before_publish(self) -> None:
        """Fail the publish on anomalies when LOADERS_ANOMALY_FAIL=true; else record the run as ok."""
        failing = [a for a in self.recorder.anomalies if a.severity == "error"]
        if failing:
            raise AnomalyFailed(
                f"{len(failing)} anomal{'y' if len(failing) == 1 else 'ies'} ({failing[0].message}): nothing "
                "published, readers keep the last good warehouse; check the source, or rerun with "
                "LOADERS_ANOMALY_FAIL=false to publish anyway"
            )
        self.recorder.mark_ok()


def _one_line(exc: BaseException) -> str:
    text = one_line(exc) or type(exc).__name__
    return text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}"


@contextmanager
def recorded_run(warehouse: Path, *, full_refresh: bool) -> Iterator[JobRun]:
    """One run in ``ops.runs`` (call it holding the warehouse lock); on the way out, the run's
    final row, then the status page and the metrics in the published folder (even when the run
    failed: monitoring must show it)."""
    started = time.monotonic()
    recorder = RunRecorder(warehouse, full_refresh=full_refresh)
    killed = recorder.start()
    print(f"run {recorder.run_id}", flush=True)
    for run_id in killed:
        print(f"  run {run_id} never finished (killed): recorded as killed", flush=True)
    error: str | None = None
    try:
        yield JobRun(recorder)
    except BaseException as exc:
        error = "interrupted" if isinstance(exc, KeyboardInterrupt) else _one_line(exc)
        raise
    finally:
        recorder.phase_seconds.setdefault("total", time.monotonic() - started)
        _finish(recorder, error)


def _finish(recorder: RunRecorder, error: str | None) -> None:
    from loaders.ops.publish_monitoring import publish_monitoring

    try:
        recorder.finish(error)
        page, metrics = publish_monitoring(recorder.warehouse)
        print(f"status page:         {page} (serve: loaders serve)")
        print(f"metrics:             {metrics}", flush=True)
    except Exception as exc:
        print(f"warning: the run's monitoring output failed ({_one_line(exc)})", flush=True)
