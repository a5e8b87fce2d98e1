"""The per-table summary printed at the end of a load."""

from __future__ import annotations

from collections.abc import Sequence

from loaders.load.runner import SourceResult


def _rate(rows: int, seconds: float) -> str:
    if rows == 0:
        return "-"
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


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
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

        lines.append(fmt(header))
        lines.extend(fmt(r) for r in rows)
    for result in results:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.phases.items())
        notes = []
        if result.resumed_packages:
            notes.append(f"finished {result.resumed_packages} interrupted package(s)")
        if result.repaired_rows:
            notes.append(f"removed {result.repaired_rows} duplicate row(s)")
        status = "FAILED" if result.error else "ok"
        extra = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"{result.pipeline}: {status}{': ' + phases if phases else ''}{extra}")
    return "\n".join(lines)
