"""Read dbt's artifacts: ``run_results.json`` (the build's nodes) and ``sources.json``
(``dbt source freshness``), as plain typed rows.

Parsed directly from the JSON (the few fields used are stable across dbt's artifact
versions v4-v6), rather than with dbt-artifacts-parser, which pins a model class per schema
version and fails on a newer one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loaders.errors import one_line


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    node: str
    kind: str
    status: str
    seconds: float
    rows_affected: int | None
    failures: int | None
    message: str | None


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    table_name: str
    newest: datetime | None  # max(loaded_at_field)
    checked_at: datetime | None
    lag_seconds: float | None
    warn_after_seconds: float | None
    error_after_seconds: float | None
    status: str  # pass | warn | error (a runtime error counts as error, with its message)
    message: str | None


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first_line(text: object) -> str | None:
    return None if text is None else one_line(text, 500) or None


def _load(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _current_document(path: Path, not_before: datetime | None) -> dict[str, Any] | None:
    """The artifact's JSON, or None when missing, unreadable or written by an invocation before ``not_before``."""
    document = _load(path)
    if document is None:
        return None
    started = invocation_started(document)
    if not_before is not None and (started is None or started < not_before):
        return None
    return document


def invocation_started(document: dict[str, Any]) -> datetime | None:
    metadata = document.get("metadata") or {}
    return parse_time(metadata.get("invocation_started_at") or metadata.get("generated_at"))


def read_run_results(path: Path, *, not_before: datetime | None = None) -> list[NodeResult]:
    """The nodes of ``run_results.json``; [] if missing, unreadable or older than ``not_before``
    (a stale file from an earlier invocation, e.g. when the build failed before writing it)."""
    document = _current_document(path, not_before)
    if document is None:
        return []
    rows = []
    for result in document.get("results") or []:
        unique_id = str(result.get("unique_id", ""))
        parts = unique_id.split(".")
        adapter = result.get("adapter_response") or {}
        rows_affected = adapter.get("rows_affected")
        failures = result.get("failures")
        rows.append(
            NodeResult(
                unique_id=unique_id,
                node=parts[2] if len(parts) > 2 else unique_id,
                kind=parts[0] if parts else "node",
                status=str(result.get("status", "unknown")),
                seconds=float(result.get("execution_time") or 0.0),
                rows_affected=int(rows_affected) if isinstance(rows_affected, int) else None,
                failures=int(failures) if isinstance(failures, int) else None,
                message=_first_line(result.get("message")),
            )
        )
    return rows


_PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def threshold_seconds(rule: dict[str, Any] | None) -> float | None:
    if not rule or rule.get("count") is None or rule.get("period") not in _PERIOD_SECONDS:
        return None
    return float(rule["count"]) * _PERIOD_SECONDS[rule["period"]]


def read_sources_freshness(path: Path, *, not_before: datetime | None = None) -> list[SourceFreshness]:
    """The tables of ``sources.json``; [] if missing, unreadable or older than ``not_before``."""
    document = _current_document(path, not_before)
    if document is None:
        return []
    rows = []
    for result in document.get("results") or []:
        parts = str(result.get("unique_id", "")).split(".")  # source.<project>.<source>.<table>
        if len(parts) < 4:
            continue
        criteria = result.get("criteria") or {}
        status = str(result.get("status", "error"))
        lag = result.get("max_loaded_at_time_ago_in_s")
        rows.append(
            SourceFreshness(
                source=parts[2],
                table_name=parts[3],
                newest=parse_time(result.get("max_loaded_at")),
                checked_at=parse_time(result.get("snapshotted_at")),
                lag_seconds=float(lag) if lag is not None else None,
                warn_after_seconds=threshold_seconds(criteria.get("warn_after")),
                error_after_seconds=threshold_seconds(criteria.get("error_after")),
                status=status if status in {"pass", "warn", "error"} else "error",
                message=_first_line(result.get("error")) if status not in {"pass", "warn", "error"} else None,
            )
        )
    return rows
