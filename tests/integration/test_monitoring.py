"""Monitoring end to end: the `ops` schema after real job runs, the anomaly checks, `loaders
status`, the metrics and the status page in a real headless Chromium.

One module fixture runs the job six times on the real stores (scale 0.01, a few seconds of
load each) and keeps every run's output:

  1. first run: full loads, ok
  2. a day appended (`datagen --continue`), incremental, ok
  3. a day appended, the job killed with SIGKILL when its build starts (after the load)
  4. a day appended and a bad value in Cassandra: the build fails (and run 3 is recorded killed)
  5. the value fixed, a day appended: ok, and ordinary day-to-day variation raises no anomaly;
     with the default event-time thresholds the generator's history (it ends on a fixed day
     in the past) is stale: `loaders status` after it exits 1
  6. nothing appended (a day without data) and LOADERS_ANOMALY_FAIL=true: every busy table
     loads zero rows, the check fires and holds the publish back

The baseline needs 3 earlier loads here (LOADERS_ANOMALY_MIN_BASELINE=3; 5 by default).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from loaders.cassandra.connection import connected
from loaders.settings import CassandraSettings

REPO = Path(__file__).resolve().parents[2]
LOADERS = Path(sys.executable).parent / "loaders"
DATAGEN = Path(sys.executable).parent / "datagen"
SCALE, SEED = "0.01", "7"
# event-time freshness is judged on the generator's history, which ends on a fixed past date:
# generous thresholds, except in run 5 (the defaults: stale)
GENEROUS = {"LOADERS_EVENT_FRESHNESS_WARN_HOURS": "100000", "LOADERS_EVENT_FRESHNESS_ERROR_HOURS": "200000"}


@dataclass
class JobRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def run_id(self) -> str:
        first = next(line for line in self.stdout.splitlines() if line.startswith("run "))
        return first.split()[1]


def _run(args: list[str], env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOADERS), *args], cwd=REPO, env={**env, **extra}, text=True, capture_output=True, timeout=900
    )


def _job(env: dict[str, str], **extra: str) -> JobRun:
    done = _run(["run"], env, **extra)
    return JobRun(done.returncode, done.stdout, done.stderr)


def _killed_job(env: dict[str, str], at: str) -> JobRun:
    """Start `loaders run`, SIGKILL it when it prints the step ``at``."""
    proc = subprocess.Popen(
        [str(LOADERS), "run"],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(f"==> {at}"):
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    return JobRun(proc.returncode, "".join(lines), "")


@dataclass
class History:
    env: dict[str, str]
    runs: list[JobRun]
    status_when_stale: subprocess.CompletedProcess[str]  # `loaders status` right after run 5

    @property
    def warehouse(self) -> Path:
        return Path(self.env["WAREHOUSE_PATH"])

    @property
    def published(self) -> Path:
        return Path(self.env["PUBLISHED_DIR"])

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return conn.execute(query, params or []).fetchall()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    work = tmp_path_factory.mktemp("monitoring")
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "PUBLISHED_DIR": str(work / "published"),
        "DLT_DATA_DIR": str(work / "dlt"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "LOADERS_ANOMALY_MIN_BASELINE": "3",
        **GENEROUS,
    }

    def generate(*args: str) -> None:
        done = subprocess.run(
            [str(DATAGEN), "--quiet", *args], cwd=REPO, env=env, text=True, capture_output=True, timeout=900
        )
        assert done.returncode == 0, done.stderr[-2000:]

    generate("--scale", SCALE, "--seed", SEED, "--reset")
    runs = [_job(env)]
    generate("--continue")
    runs.append(_job(env))
    generate("--continue")
    runs.append(_killed_job(env, "build"))
    generate("--continue")
    settings = CassandraSettings.from_env(owner=True)
    with connected(settings) as (_cluster, session):
        session.set_keyspace(settings.keyspace)
        user_id, notification_id = uuid.uuid4(), 10**12 + 14
        insert = session.prepare(
            "insert into notification_states (user_id, notification_id, status, updated_at) values (?, ?, ?, ?)"
        )
        try:
            session.execute(insert, (user_id, notification_id, "ARCHIVED", datetime.now(UTC)))
            runs.append(_job(env))
            session.execute(insert, (user_id, notification_id, "SEEN", datetime.now(UTC)))
            generate("--continue")
            defaults = {k: v for k, v in env.items() if k not in GENEROUS}
            runs.append(_job(defaults))
            status_when_stale = _run(["status"], defaults)
            runs.append(_job(env, LOADERS_ANOMALY_FAIL="true"))
        finally:
            session.execute(
                "delete from notification_states where user_id = %s and notification_id = %s",
                (user_id, notification_id),
            )
    yield History(env, runs, status_when_stale)


def test_every_run_is_in_ops_runs_with_its_outcome(history: History) -> None:
    first, second, killed, failed, fixed, held_back = history.runs
    for run, code in ((first, 0), (second, 0), (failed, 1), (fixed, 0), (held_back, 1)):
        assert run.returncode == code, (run.stdout[-3000:], run.stderr[-3000:])
    assert killed.returncode == -signal.SIGKILL
    rows = history.sql("select run_id, status, error, ended is not null from ops.runs order by started")
    assert [r[0] for r in rows] == [r.run_id for r in history.runs]
    assert [r[1] for r in rows] == ["ok", "ok", "killed", "failed", "ok", "failed"]
    assert f"found by run {failed.run_id}" in rows[2][2]
    assert f"run {killed.run_id} never finished (killed): recorded as killed" in failed.stdout
    assert "dbt build failed" in rows[3][2] and "anomal" in rows[5][2]
    assert [r[3] for r in rows] == [True, True, False, True, True, True]
    # phases and versions
    phases = dict(history.sql("select run_id, map_keys(phase_seconds) from ops.runs"))
    assert {"load", "build", "freshness", "docs", "publish", "report", "total"} <= set(phases[fixed.run_id])
    assert {"load", "build", "freshness"} <= set(phases[failed.run_id]) and "publish" not in phases[
        failed.run_id
    ]
    assert phases[killed.run_id] == []  # it never recorded its end
    # peak memory per phase: the load's own process, then the job's mark (it never goes down)
    peaks = dict(
        history.sql(
            "select run_id, map_entries(phase_peak_rss_mb) from ops.runs where run_id = ?", [fixed.run_id]
        )
    )[fixed.run_id]
    by_phase = {entry["key"]: entry["value"] for entry in peaks}
    assert set(phases[fixed.run_id]) - {"total"} == set(by_phase), by_phase
    assert by_phase["load"] > 50  # a Python process that ran dlt and the drivers
    job_marks = [mb for phase, mb in by_phase.items() if phase != "load"]
    assert job_marks == sorted(job_marks) and job_marks[0] > 50, by_phase
    assert f"peak memory: load process {by_phase['load']:.0f} MB, job process" in fixed.stdout
    versions = history.sql("select distinct dbt_version, dlt_version, duckdb_version from ops.runs")
    assert versions == [(_version("dbt-core"), _version("dlt"), _version("duckdb"))]


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def test_table_loads_record_every_load_of_every_run(history: History) -> None:
    loads = history.sql(
        "select run_id, source, table_name, mode, rows_extracted, rows_in_raw from ops.table_loads order by all"
    )
    by_run: dict[str, list[tuple[Any, ...]]] = {}
    for row in loads:
        by_run.setdefault(row[0], []).append(row)
    # every run loaded the ten tables before it ended (the killed one too: it died after its load)
    assert [len(by_run.get(r.run_id, [])) for r in history.runs] == [10] * 6
    first = {(r[1], r[2]): r for r in by_run[history.runs[0].run_id]}
    assert {r[3] for r in first.values()} == {"full"}
    assert all(r[4] == r[5] and r[4] > 0 for r in first.values())
    # every later load is incremental and knows the rows now in raw
    later = [r for run in history.runs[1:] for r in by_run[run.run_id]]
    # (PostgreSQL reads its changes; Cassandra sweeps every run by default)
    assert {r[3] for r in later if r[1] == "postgres"} == {"incremental"}
    assert {r[3] for r in later if r[1] == "cassandra"} == {"sweep"}
    assert all(r[5] is not None and r[5] > 0 for r in later)


def test_dbt_results_and_freshness_are_recorded(history: History) -> None:
    second, failed, fixed = history.runs[1], history.runs[3], history.runs[4]
    failing = history.sql(
        "select node, status from ops.dbt_results where run_id = ? and status in ('fail', 'error')",
        [failed.run_id],
    )
    assert any("accepted_values" in node and "notification_states" in node for node, _ in failing)
    statuses = dict(
        history.sql(
            "select kind, count(*) from ops.dbt_results where run_id = ? group by kind", [fixed.run_id]
        )
    )
    assert statuses.get("model", 0) >= 19 and statuses.get("test", 0) > 50
    fresh = """select measure, count(*), count(*) filter (where status = 'pass') from ops.freshness
               where run_id = ? group by measure order by measure"""
    assert history.sql(fresh, [second.run_id]) == [("event_time", 10, 10), ("load_time", 10, 10)]
    # run 5, on the default thresholds: the generated events are weeks old, the loads recent
    # (notification_states holds the state this module wrote just before: it is fresh)
    assert history.sql(fresh, [fixed.run_id]) == [("event_time", 10, 1), ("load_time", 10, 10)]
    assert history.sql(
        "select table_name from ops.freshness where run_id = ? and measure = 'event_time' and status = 'pass'",
        [fixed.run_id],
    ) == [("notification_states",)]


def test_ordinary_variation_raises_no_anomaly_and_a_day_without_data_does(history: History) -> None:
    fixed, held_back = history.runs[4], history.runs[5]
    assert history.sql("select message from ops.anomalies where run_id = ?", [fixed.run_id]) == []
    found = history.sql(
        "select source, table_name, kind, severity, observed, baseline_size from ops.anomalies where run_id = ?",
        [held_back.run_id],
    )
    tables = {(s, t) for s, t, *_ in found}
    # the busy append-only tables (28 notifications and 18 payments a day at this scale) drop to zero
    assert {("postgres", "notifications"), ("postgres", "payments")} <= tables
    assert all(
        kind == "volume_zero" and severity == "error" and observed == 0
        for _, _, kind, severity, observed, _ in found
    )
    # the current load is not in its own baseline: the 4 earlier incremental loads are
    assert {r[5] for r in found} == {4}
    assert held_back.returncode == 1 and "nothing published" in held_back.stderr
    assert "anomaly (error): postgres.notifications: 0 rows in this incremental load" in held_back.stdout


def test_status_reports_the_last_runs_and_exits_on_a_failed_run(history: History) -> None:
    # the last run failed (anomalies held its publish back): status says so and exits 1
    done = _run(["status", "--runs", "3"], history.env)
    assert done.returncode == 1, done.stdout
    assert history.runs[-1].run_id in done.stdout and history.runs[-4].run_id not in done.stdout
    assert f"the last run {history.runs[-1].run_id} failed" in done.stdout


def test_a_stale_source_makes_status_exit_non_zero(history: History) -> None:
    """Run 5 succeeded and published, but on the default thresholds every table is stale on
    event time: the run says so, and `loaders status` exits 1 naming the tables."""
    fixed, done = history.runs[4], history.status_when_stale
    assert fixed.returncode == 0 and "freshness error: postgres.payments event time lag" in fixed.stdout
    assert done.returncode == 1, done.stdout
    assert "postgres.payments is stale on event time" in done.stdout
    assert "the last run" not in done.stdout.split("NOT OK:")[1]  # the run itself was ok


def test_metrics_parse_and_equal_the_ops_tables(history: History) -> None:
    text = (history.published / "monitoring" / "metrics").read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    value = {(f.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    last_id, last_status, last_ended = history.sql(
        "select run_id, status, epoch(ended) from ops.runs order by started desc limit 1"
    )[0]
    assert value[("outings_job_last_run_success", ())] == (1.0 if last_status == "ok" else 0.0)
    assert value[("outings_job_last_run_timestamp_seconds", ())] == pytest.approx(last_ended)
    phases = dict(
        history.sql(
            "select unnest(map_keys(phase_seconds)), unnest(map_values(phase_seconds)) from ops.runs where run_id = ?",
            [last_id],
        )
    )
    assert {k[1][0][1]: v for k, v in value.items() if k[0] == "outings_job_phase_seconds"} == pytest.approx(
        phases
    )
    peaks = dict(
        history.sql(
            "select unnest(map_keys(phase_peak_rss_mb)), unnest(map_values(phase_peak_rss_mb)) "
            "from ops.runs where run_id = ?",
            [last_id],
        )
    )
    assert {
        k[1][0][1]: v / 2**20 for k, v in value.items() if k[0] == "outings_job_phase_peak_rss_bytes"
    } == pytest.approx(peaks)
    loaded = history.sql(
        "select source, table_name, rows_extracted from ops.table_loads "
        "where run_id = (select run_id from ops.table_loads order by loaded_at desc limit 1)"
    )
    for source, table, rows in loaded:
        assert value[("outings_table_rows_loaded", (("source", source), ("table", table)))] == rows
    for source, table, lag in history.sql(
        "select source, table_name, lag_seconds from ops.freshness where measure = 'event_time' "
        "qualify row_number() over (partition by source, table_name order by checked_at desc) = 1"
    ):
        key = ("outings_table_freshness_lag_seconds", (("source", source), ("table", table)))
        assert value[key] == pytest.approx(lag)
    statuses = {k[1]: v for k, v in value.items() if k[0] == "outings_table_freshness_status"}
    assert len(statuses) == 10 and set(statuses.values()) <= {0.0, 1.0, 2.0}
    failures = history.sql(
        "select count(*) filter (where status in ('fail', 'error')) from ops.dbt_results "
        "where kind in ('test', 'unit_test') and run_id = (select d.run_id from ops.dbt_results d "
        "join ops.runs r using (run_id) where d.kind = 'test' order by r.started desc limit 1)"
    )[0][0]
    assert value[("outings_dbt_test_failures", ())] == failures
    assert families["outings_table_rows_loaded"].type == "gauge"


# -- the status page in a real headless Chromium ------------------------------------------------

ARTIFACTS = REPO / ".stack" / "artifacts"


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium (stack/chromium.sh installs it with apt-get when missing)."""
    done = subprocess.run(
        ["bash", str(REPO / "stack" / "chromium.sh")], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def served(history: History) -> Iterator[str]:
    """`loaders serve` on a free port, serving the published folder."""
    proc = subprocess.Popen(
        [str(LOADERS), "serve", "--dir", str(history.published), "--port", "0"],
        cwd=REPO,
        env={**history.env, "PYTHONUNBUFFERED": "1"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _headless(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class _Elements(HTMLParser):
    """Every element of the rendered DOM with its attributes and its text content."""

    VOID: ClassVar[set[str]] = {"meta", "br", "img", "input", "link", "hr", "line", "rect", "path", "circle"}

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def _dom(html: str) -> list[Element]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def test_the_status_page_in_chromium_shows_the_ops_tables(
    history: History, chromium: str, served: str
) -> None:
    url = f"{served}/status.html"
    rendered = _headless(chromium, "--virtual-time-budget=5000", "--dump-dom", url)
    assert rendered.returncode == 0 and "</html>" in rendered.stdout, rendered.stderr[-2000:]
    elements = _dom(rendered.stdout)

    def having(attr: str, tag: str | None = None) -> list[Element]:
        return [e for e in elements if attr in e.attrs and (tag is None or e.tag == tag)]

    # the charts are there: phases, tests, a sparkline per table, a lag bar per table and clock
    assert {e.attrs.get("id") for e in elements if e.tag == "svg"} >= {"phase-chart", "test-chart"}
    assert len([e for e in elements if e.tag == "svg" and e.attrs.get("class") == "spark"]) == 10
    assert len([e for e in elements if e.tag == "svg" and e.attrs.get("class") == "lagbar"]) == 20

    runs = history.sql(
        "select run_id, status, phase_seconds from ops.runs order by started desc, run_id desc"
    )
    assert [(e.attrs["data-run"], e.attrs["data-status"]) for e in having("data-run", "tr")] == [
        (r[0], r[1]) for r in runs
    ]
    summary = next(e for e in elements if e.attrs.get("id") == "summary")
    finished = next(r for r in runs if r[1] != "running")
    assert summary.attrs["data-status"] == finished[1] and finished[0] in summary.text

    bars = {
        (e.attrs["data-column"], e.attrs["data-series"]): float(e.attrs["data-value"])
        for e in elements
        if e.tag == "rect" and "data-series" in e.attrs and _parent_chart(elements, e) == "phase-chart"
    }
    expected_phases = {
        (run_id, phase): seconds
        for run_id, _, phases in runs
        for phase, seconds in phases.items()
        if phase != "total" and seconds > 0
    }
    assert bars == pytest.approx(expected_phases, rel=1e-5)

    cells = {(e.attrs["data-table"], e.attrs["data-run"]): e for e in having("data-value", "td")}
    loads = history.sql(
        "select source || '.' || table_name, run_id, sum(rows_extracted) from ops.table_loads "
        "where run_id in (select run_id from ops.table_loads group by run_id "
        "order by max(loaded_at) desc limit 8) group by all"
    )
    assert {k: int(e.attrs["data-value"]) for k, e in cells.items()} == {(t, r): n for t, r, n in loads}
    assert all(e.text.strip() == e.attrs["data-value"] for e in cells.values())  # the figure shown

    freshness = history.sql(
        "select source || '.' || table_name, measure, status, round(lag_seconds) from ops.freshness "
        "qualify row_number() over (partition by source, table_name, measure order by checked_at desc) = 1"
    )
    shown = {
        (e.attrs["data-table"], e.attrs["data-measure"]): (e.attrs["data-status"], float(e.attrs["data-lag"]))
        for e in having("data-measure", "td")
    }
    assert shown == {(t, m): (s, lag) for t, m, s, lag in freshness}

    tests = history.sql(
        "select run_id, status, count(*) from ops.dbt_results where kind in ('test', 'unit_test') group by all"
    )
    test_bars = {
        (e.attrs["data-column"], e.attrs["data-series"]): float(e.attrs["data-value"])
        for e in elements
        if e.tag == "rect" and "data-series" in e.attrs and _parent_chart(elements, e) == "test-chart"
    }
    assert test_bars == {(r, s): float(n) for r, s, n in tests}

    anomalies = history.sql(
        "select source || '.' || table_name, kind from ops.anomalies where run_id = "
        "(select run_id from ops.table_loads order by loaded_at desc limit 1)"
    )
    assert {(e.attrs["data-table"], e.attrs["data-kind"]) for e in having("data-kind", "tr")} == set(
        anomalies
    )

    reconciliation = history.sql(
        "select source || '.' || table_name, difference from ops.reconciliation where run_id = "
        "(select run_id from ops.reconciliation order by checked_at desc limit 1)"
    )
    shown_differences = {
        (e.attrs["data-table"], e.attrs["data-difference"]) for e in having("data-difference", "tr")
    }
    assert shown_differences == {(t, "" if d is None else str(d)) for t, d in reconciliation}

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "status.png"
    screenshot.unlink(missing_ok=True)
    shot = _headless(chromium, "--window-size=1200,2600", f"--screenshot={screenshot}", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000


def _parent_chart(elements: list[Element], rect: Element) -> str | None:
    """The id of the last <svg> opened before this rect (the charts do not nest)."""
    chart = None
    for element in elements:
        if element is rect:
            return chart
        if element.tag == "svg":
            chart = element.attrs.get("id")
    return None
