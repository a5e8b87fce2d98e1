"""The per-table summary printed at the end of a load."""

from __future__ import annotations

from collections.abc import Sequence

from loaders.load.reconciliation import load_checks, tally
from loaders.load.results import SourceResult


def _rate(rows: int, seconds: float) -> str:
    if rows == 0:
        return "-"
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def _table_notes(results: Sequence[SourceResult]) -> list[str]:
    """What change capture found beyond ordinary changes, one line per table that has any."""
    lines = []
    for result in results:
        for t in result.tables:
            notes = []
            if t.deleted_rows:
                notes.append(f"{t.deleted_rows:,} deleted in the source (tombstoned in raw)")
            if t.late_rows:
                notes.append(f"{t.late_rows:,} changed after the last load but stamped before it")
            if t.future_rows:
                notes.append(f"WARNING {t.future_rows:,} stamped in the future (a skewed clock?): loaded")
            if t.rejected_rows:
                notes.append(f"WARNING {t.rejected_rows:,} rejected (bad cells, see ops.rejected_rows)")
            if t.lost_rows:
                notes.append(
                    f"ERROR raw lacked {t.lost_rows:,} source row(s): reloaded in full by the next run"
                )
            if notes:
                lines.append(f"  {t.source}.{t.table}: " + "; ".join(notes))
    return lines


def _reconciliation_lines(results: Sequence[SourceResult]) -> list[str]:
    checks = load_checks(t for r in results for t in r.tables)
    if not checks:
        return []
    counts = tally(checks)
    line = f"reconciliation (source rows in the load's read = live rows in raw): {counts.matching} of "
    line += f"{counts.total} tables match"
    if counts.uncounted:
        line += f"; not counted this run: {', '.join(counts.uncounted)}"
    return [line, *(f"  MISMATCH {c.line()}" for c in counts.mismatched)]


def render(results: Sequence[SourceResult], warehouse: str) -> str:
    header = ("source", "table", "mode", "rows extracted", "rows in raw", "seconds", "rows/s")
    rows: list[tuple[str, ...]] = []
    for result in results:
        for t in result.tables:
            rows.append(
                (
                    t.source,
                    t.table,
                    t.mode or "-",
                    f"{t.rows_extracted:,}",
                    "-" if t.rows_in_raw is None else f"{t.rows_in_raw:,}",
                    f"{t.seconds:.2f}",
                    _rate(t.rows_extracted, t.seconds),
                )
            )
    lines = [f"load summary (warehouse {warehouse})"]
    if rows:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        right = {3, 4, 5, 6}

        def fmt(r: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=False))
            )

        lines.append(fmt(header))
        lines.extend(fmt(r) for r in rows)
    lines.extend(_table_notes(results))
    lines.extend(_reconciliation_lines(results))
    for result in results:
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in result.phases.items())
        notes = []
        if result.resumed_packages:
            notes.append(f"finished {result.resumed_packages} interrupted package(s)")
        if result.repaired_rows:
            notes.append(f"removed {result.repaired_rows} duplicate row(s)")
        status = "FAILED" if result.error else "ok"
        extra = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"{result.pipeline}: {status}{': ' + phases if phases else ''}{extra}")
    return "\n".join(lines)
