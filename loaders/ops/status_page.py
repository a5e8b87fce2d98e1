"""The status page: one self-contained HTML file (inline CSS and SVG, no script, no CDN).

Sections: the last runs, phase durations over time, rows per table per run, freshness lag
per table (both clocks, against their thresholds), test pass/warn/fail history,
reconciliation differences and open anomalies. Figures carry ``data-*`` attributes (what
they show) next to their text, which the browser test reads back.
"""

from __future__ import annotations

from html import escape

from loaders.ops import svg
from loaders.ops.facts import FreshnessFacts, OpsFacts, RunFacts
from loaders.ops.formatting import count, duration, moment

TEST_STATUSES = ("pass", "warn", "fail", "error", "skipped")
PHASE_ORDER = ("load", "build", "freshness", "docs", "publish", "report")

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} .muted{color:#777;font-size:12px}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px}
.ok,.pass,.success{background:#59a14f} .warn{background:#c9a227} .error,.failed,.fail,.mismatch{background:#e15759}
.killed{background:#7f7f7f} .running{background:#4e79a7} .not_counted{background:#bab0ac}
.summary{font-size:15px;margin:8px 0 0}
"""


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def _phases(facts: OpsFacts) -> list[str]:
    seen = {p for r in facts.runs for p in r.phases if p != "total"}
    return [p for p in PHASE_ORDER if p in seen] + sorted(seen - set(PHASE_ORDER))


def run_numbers(facts: OpsFacts) -> dict[str, str]:
    """#1 is the oldest run on the page: the charts' x labels and the rows table's headers."""
    return {r.run_id: f"#{len(facts.runs) - i}" for i, r in enumerate(facts.runs)}


def render(facts: OpsFacts) -> str:
    runs = list(reversed(facts.runs))  # oldest first, for the charts
    last = facts.last_finished_run
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        "<title>Outings data platform: job status</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Outings data platform: job status</h1>",
        f'<div class="muted" id="generated" data-at="{facts.read_at.isoformat()}">generated '
        f"{moment(facts.read_at)} from the warehouse's <code>ops</code> schema</div>",
    ]
    if last is None:
        parts.append('<p class="summary" id="summary">No run recorded yet: run <code>loaders run</code>.</p>')
    else:
        stale = [f for f in facts.freshness if f.status == "error"]
        parts.append(
            f'<p class="summary" id="summary" data-status="{escape(last.status)}">Last run '
            f"<code>{escape(last.run_id)}</code> {_badge(last.status)} ended {moment(last.ended)}; "
            f"{len(stale)} stale table check(s), {len(facts.anomalies)} open anomal"
            f"{'y' if len(facts.anomalies) == 1 else 'ies'}"
            + (
                f", {facts.rejected_rows} rows quarantined in <code>ops.rejected_rows</code>"
                if facts.rejected_rows
                else ""
            )
            + ".</p>"
        )
    parts += _runs_section(facts)
    parts += _phases_section(facts, runs)
    parts += _rows_section(facts, runs)
    parts += _freshness_section(facts)
    parts += _tests_section(facts, runs)
    parts += _reconciliation_section(facts)
    parts += _anomalies_section(facts)
    parts.append("</body></html>")
    return "\n".join(parts)


def _runs_section(facts: OpsFacts) -> list[str]:
    out = [
        '<h2>Last runs</h2><table id="runs"><tr><th>#</th><th>run</th><th>started</th><th>status</th>'
        '<th class="num">duration</th><th>versions</th><th>error</th></tr>'
    ]
    for i, r in enumerate(facts.runs):
        versions = ", ".join(f"{k} {v}" for k, v in r.versions.items() if v)
        seconds = r.phases.get("total", r.seconds)
        out.append(
            f'<tr data-run="{escape(r.run_id)}" data-status="{escape(r.status)}">'
            f"<td>#{len(facts.runs) - i}</td><td><code>{escape(r.run_id)}</code></td><td>{moment(r.started)}</td>"
            f"<td>{_badge(r.status)}</td>"
            f'<td class="num" data-seconds="{"" if seconds is None else f"{seconds:.3f}"}">{duration(seconds)}</td>'
            f'<td class="muted">{escape(versions)}</td><td>{escape(r.error or "")}</td></tr>'
        )
    out.append("</table>")
    return out


def _phases_section(facts: OpsFacts, runs: list[RunFacts]) -> list[str]:
    phases = _phases(facts)
    chart = svg.stacked_bars(
        [r.run_id for r in runs],
        [r.phases for r in runs],
        phases,
        chart_id="phase-chart",
        unit="s",
        labels=run_numbers(facts),
    )
    return ["<h2>Phase durations per run (oldest left)</h2>", chart]


def _rows_section(facts: OpsFacts, runs: list[RunFacts]) -> list[str]:
    loading = [r for r in runs if facts.rows_of(r.run_id)][-8:]
    out = ["<h2>Rows loaded per table per run</h2>", '<table id="rows"><tr><th>table</th><th>runs</th>']
    numbers = run_numbers(facts)
    out += [f'<th class="num" title="{escape(r.run_id)}">{numbers[r.run_id]}</th>' for r in loading]
    out.append("</tr>")
    for (source, table), by_run in sorted(facts.rows_loaded.items()):
        label = f"{source}.{table}"
        spark = svg.sparkline([by_run.get(r.run_id) for r in runs], label=label)
        cells = "".join(
            f'<td class="num" data-table="{escape(label)}" data-run="{escape(r.run_id)}" '
            f'data-value="{by_run[r.run_id]}">{count(by_run[r.run_id])}</td>'
            if r.run_id in by_run
            else '<td class="num">-</td>'
            for r in loading
        )
        out.append(f"<tr><td>{escape(label)}</td><td>{spark}</td>{cells}</tr>")
    out.append("</table>")
    return out


def _freshness_section(facts: OpsFacts) -> list[str]:
    out = [
        "<h2>Freshness per table</h2>",
        '<p class="muted">event time: the newest business timestamp (dbt source freshness); load time: '
        "since the table was last loaded. Bars on 1.5 x the error threshold, marks at warn and error.</p>",
        '<table id="freshness"><tr><th>table</th><th>event time</th><th class="num">lag</th><th></th>'
        '<th>load time</th><th class="num">lag</th><th></th><th class="num">thresholds (warn / error)</th></tr>',
    ]
    tables: dict[str, dict[str, FreshnessFacts]] = {}
    for f in facts.freshness:
        tables.setdefault(f"{f.source}.{f.table_name}", {})[f.measure] = f
    for label, measures in sorted(tables.items()):
        cells = []
        thresholds = []
        for measure in ("event_time", "load_time"):
            fresh = measures.get(measure)
            if fresh is None:
                cells.append("<td>-</td><td></td><td></td>")
                continue
            lag = "" if fresh.lag_seconds is None else f"{fresh.lag_seconds:.0f}"
            cells.append(
                f'<td data-table="{escape(label)}" data-measure="{measure}" data-status="{escape(fresh.status)}" '
                f'data-lag="{lag}">{_badge(fresh.status)}</td><td class="num">{duration(fresh.lag_seconds)}</td>'
                f"<td>{svg.threshold_bar(fresh.lag_seconds, fresh.warn_after_seconds, fresh.error_after_seconds, fresh.status)}"
                f"{' ' + escape(fresh.message) if fresh.message else ''}</td>"
            )
            thresholds.append(f"{duration(fresh.warn_after_seconds)} / {duration(fresh.error_after_seconds)}")
        out.append(
            f"<tr><td>{escape(label)}</td>{''.join(cells)}"
            f'<td class="num muted">{escape("; ".join(dict.fromkeys(thresholds)))}</td></tr>'
        )
    out.append("</table>")
    return out


def _tests_section(facts: OpsFacts, runs: list[RunFacts]) -> list[str]:
    with_tests = [r for r in runs if r.run_id in facts.tests]
    stacks = [{s: float(n) for s, n in facts.tests[r.run_id].items()} for r in with_tests]
    statuses = [s for s in TEST_STATUSES if any(s in st for st in stacks)]
    statuses += sorted({s for st in stacks for s in st} - set(statuses))
    out = [
        "<h2>dbt tests per run: pass / warn / fail</h2>",
        svg.stacked_bars(
            [r.run_id for r in with_tests],
            stacks,
            statuses,
            chart_id="test-chart",
            unit="tests",
            labels=run_numbers(facts),
        ),
    ]
    if facts.test_failures:
        out.append('<table id="test-failures"><tr><th>test</th><th>status</th><th>message</th></tr>')
        out += [
            f"<tr><td>{escape(node)}</td><td>{_badge(status)}</td><td>{escape(message)}</td></tr>"
            for node, status, message in facts.test_failures
        ]
        out.append("</table>")
    if facts.retried_nodes:
        by_retry: dict[str, list[str]] = {}
        for node, retry in facts.retried_nodes:
            by_retry.setdefault(retry, []).append(node)
        said = "; ".join(f"{escape(retry)}: {escape(', '.join(nodes))}" for retry, nodes in by_retry.items())
        out.append(
            f'<p id="memory-retries" class="muted">Last build: {len(facts.retried_nodes)} node(s) built again '
            f"after DuckDB ran out of memory ({said}); DBT_DUCKDB_MEMORY_LIMIT sets the limit.</p>"
        )
    return out


def _reconciliation_section(facts: OpsFacts) -> list[str]:
    rows = [
        f'<tr data-table="{escape(label)}" data-difference="{"" if r.difference is None else r.difference}">'
        f'<td>{escape(label)}</td><td class="num">{count(r.source_rows)}</td><td class="num">{count(r.raw_rows)}</td>'
        f'<td class="num">{count(r.staging_rows)}</td><td class="num">{count(r.in_flight_rows)}</td>'
        f'<td class="num">{count(r.difference)}</td><td>{_badge(r.status)}</td></tr>'
        for r in facts.reconciliation
        for label in [f"{r.source}.{r.table_name}"]
    ]
    return _table_section(
        "Reconciliation: source vs warehouse",
        "reconciliation",
        '<th>table</th><th class="num">source</th><th class="num">raw</th><th class="num">staging</th>'
        '<th class="num">in flight</th><th class="num">difference</th><th>status</th>',
        rows,
        none="No reconciliation recorded yet.",
    )


def _anomalies_section(facts: OpsFacts) -> list[str]:
    rows = [
        f'<tr data-table="{escape(label)}" data-kind="{escape(a.kind)}" data-observed="{a.observed:.0f}">'
        f"<td>{escape(label)}</td><td>{escape(a.kind)}</td><td>{_badge(a.severity)}</td>"
        f'<td class="num">{a.observed:.0f}</td><td class="num">{a.baseline_median:.0f}</td>'
        f"<td>{escape(a.message)}</td></tr>"
        for a in facts.anomalies
        for label in [f"{a.source}.{a.table_name}"]
    ]
    return _table_section(
        "Open anomalies",
        "anomalies",
        '<th>table</th><th>kind</th><th>severity</th><th class="num">observed</th>'
        '<th class="num">baseline median</th><th>detail</th>',
        rows,
        none="None: the last checks found nothing unusual.",
    )


def _table_section(title: str, table_id: str, header_cells: str, rows: list[str], *, none: str) -> list[str]:
    """A heading, then the table (header and rows), or a muted line saying there is nothing to show."""
    if not rows:
        return [f"<h2>{title}</h2>", f'<p class="muted" id="{table_id}-none">{none}</p>']
    return [f"<h2>{title}</h2>", f'<table id="{table_id}"><tr>{header_cells}</tr>', *rows, "</table>"]
