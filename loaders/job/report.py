"""The job's closing report: the analyses' results, read from the published warehouse."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from loaders.settings import PROJECT_DIR

ANALYSES_DIR = PROJECT_DIR / "analyses"


@dataclass(frozen=True)
class AnalysisResult:
    name: str
    columns: list[str]
    rows: list[tuple[object, ...]]


def run_analyses(warehouse: Path, analyses_dir: Path = ANALYSES_DIR) -> list[AnalysisResult]:
    """Run every ``analyses/*.sql`` unchanged against the warehouse, opened read-only."""
    results: list[AnalysisResult] = []
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for path in sorted(analyses_dir.glob("*.sql")):
            cursor = conn.execute(path.read_text(encoding="utf-8"))
            columns = [d[0] for d in cursor.description or []]
            results.append(AnalysisResult(path.stem, columns, cursor.fetchall()))
    return results


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], numbers.Number) or row[i] is None for row in rows) for i in range(len(columns))
    ]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=False)
        ).rstrip()

    lines = [fmt(list(columns)), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "null"
    return str(value)


def render(results: Sequence[AnalysisResult]) -> str:
    blocks = []
    for result in results:
        title = result.name.replace("_", " ")
        blocks.append(f"== {title} ({len(result.rows)} rows) ==\n{format_table(result.columns, result.rows)}")
    return "\n\n".join(blocks)
