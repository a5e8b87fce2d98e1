"""Small server-side SVG charts for the status page (no JavaScript, no library).

Every drawn value carries ``data-*`` attributes naming what it shows, so a browser test can
read the figures back from the rendered page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac")
STATUS_COLORS = {
    "pass": "#59a14f",
    "success": "#59a14f",
    "ok": "#59a14f",
    "warn": "#edc948",
    "fail": "#e15759",
    "error": "#b22222",
    "skipped": "#bab0ac",
    "killed": "#7f7f7f",
    "failed": "#e15759",
    "running": "#4e79a7",
}


def color_of(name: str, index: int) -> str:
    return STATUS_COLORS.get(name, PALETTE[index % len(PALETTE)])


def _attrs(values: Mapping[str, object]) -> str:
    return "".join(f' data-{k}="{escape(str(v))}"' for k, v in values.items())


def stacked_bars(
    columns: Sequence[str],
    stacks: Sequence[Mapping[str, float]],
    series: Sequence[str],
    *,
    chart_id: str,
    unit: str,
    width: int = 720,
    height: int = 200,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """One bar per column (oldest left, labelled ``labels[column]``), stacked by series; a legend below."""
    left, bottom, top = 48, 18, 8
    plot_h = height - bottom - top
    total_max = max((sum(s.get(k, 0.0) for k in series) for s in stacks), default=0.0) or 1.0
    step = (width - left - 8) / max(1, len(columns))
    bar_w = min(28.0, max(2.0, step * 0.7))
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" width="{width}" height="{height + 22}" '
        f'viewBox="0 0 {width} {height + 22}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="4" y="{top + 8}" font-size="10">{total_max:.4g} {escape(unit)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for i, (column, stack) in enumerate(zip(columns, stacks, strict=False)):
        x = left + i * step
        y = float(top + plot_h)
        for j, name in enumerate(series):
            value = float(stack.get(name, 0.0))
            if value <= 0:
                continue
            h = value / total_max * plot_h
            y -= h
            fill = (colors or {}).get(name) or color_of(name, j)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{fill}"'
                f"{_attrs({'column': column, 'series': name, 'value': f'{value:.6g}'})}>"
                f"<title>{escape(column)} {escape(name)}: {value:.4g} {escape(unit)}</title></rect>"
            )
        label = (labels or {}).get(column, str(i + 1))
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 4}" font-size="9" text-anchor="middle">{escape(label)}</text>'
        )
    x = left
    for j, name in enumerate(series):
        fill = (colors or {}).get(name) or color_of(name, j)
        parts.append(f'<rect x="{x}" y="{height + 8}" width="10" height="10" fill="{fill}"/>')
        parts.append(f'<text x="{x + 13}" y="{height + 17}" font-size="11">{escape(name)}</text>')
        x += 18 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float | None], *, label: str, width: int = 160, height: int = 28) -> str:
    """Bars of one table's rows per run (oldest left); a missing run leaves a gap."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    step = width / max(1, len(values))
    parts = [
        f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"{_attrs({"table": label})}>'
    ]
    for i, value in enumerate(values):
        if value is None:
            continue
        h = max(1.0, value / top * (height - 2)) if value > 0 else 0.0
        parts.append(
            f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(1.0, step - 1):.1f}" height="{h:.1f}" '
            f'fill="#4e79a7"{_attrs({"value": f"{value:.0f}"})}/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def threshold_bar(
    lag: float | None,
    warn: float | None,
    error: float | None,
    status: str,
    *,
    width: int = 150,
    height: int = 12,
) -> str:
    """The lag as a bar on a scale of 1.5 x the error threshold, with the warn and error marks."""
    scale = 1.5 * (error or warn or lag or 1.0)
    parts = [
        f'<svg class="lagbar" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="{height}" fill="#eee"/>'
    ]
    if lag is not None:
        w = min(1.0, max(0.0, lag) / scale) * width
        parts.append(
            f'<rect width="{w:.1f}" height="{height}" fill="{color_of(status, 0)}"'
            f"{_attrs({'lag': f'{lag:.0f}', 'status': status})}/>"
        )
    for mark, stroke in ((warn, "#b8860b"), (error, "#8b0000")):
        if mark is not None:
            x = min(1.0, mark / scale) * width
            parts.append(
                f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{stroke}" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return "".join(parts)
