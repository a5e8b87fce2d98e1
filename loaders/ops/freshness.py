"""Freshness of every raw table, on two clocks, recorded in ``ops.freshness``:

- event time: ``dbt source freshness`` (the newest value of each table's ``loaded_at_field``
  in models/staging/_sources.yml, against that source's warn_after / error_after);
- load time: the last run that loaded the table (``ops.table_loads``), against the
  source's ``meta: load_freshness: {warn_after_hours, error_after_hours}`` in the same YAML,
  else LOADERS_LOAD_FRESHNESS_WARN_HOURS / _ERROR_HOURS (default 26 / 50).

Neither fails the job: a stale table is published all the same (holding the new build back
would only make the readers' copy older still); a warn is printed, an error is printed,
shown on the status page, exported as ``outings_table_freshness_status`` 2 and makes
``loaders status`` exit 1, which is how it alerts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from loaders.settings import setting

HOUR = 3600.0
DEFAULT_LOAD_WARN_HOURS = 26.0
DEFAULT_LOAD_ERROR_HOURS = 50.0


@dataclass(frozen=True)
class Thresholds:
    warn_after_seconds: float | None
    error_after_seconds: float | None


def status_of(lag_seconds: float | None, thresholds: Thresholds) -> str:
    """pass | warn | error for a lag (None: never measured = error)."""
    if lag_seconds is None:
        return "error"
    if thresholds.error_after_seconds is not None and lag_seconds > thresholds.error_after_seconds:
        return "error"
    if thresholds.warn_after_seconds is not None and lag_seconds > thresholds.warn_after_seconds:
        return "warn"
    return "pass"


def source_key(dbt_source: str) -> str:
    """The loaders' name of a source (``postgres``) from dbt's (``raw_postgres``)."""
    return dbt_source.removeprefix("raw_")


def _hours(value: object, default: float) -> float:
    """Hours from a setting (text) or the manifest's meta (a JSON value); ``default`` when not a number."""
    if not isinstance(value, (int, float, str)):
        return default
    try:
        return float(value)
    except ValueError:
        return default


def default_load_thresholds() -> Thresholds:
    warn = _hours(setting("LOADERS_LOAD_FRESHNESS_WARN_HOURS"), DEFAULT_LOAD_WARN_HOURS)
    error = _hours(setting("LOADERS_LOAD_FRESHNESS_ERROR_HOURS"), DEFAULT_LOAD_ERROR_HOURS)
    return Thresholds(warn * HOUR, error * HOUR)


def load_thresholds(manifest_path: Path) -> dict[str, Thresholds]:
    """Per source (loaders' name): the load-time thresholds of its YAML ``meta.load_freshness``."""
    default = default_load_thresholds()
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Thresholds] = {}
    for node in (manifest.get("sources") or {}).values():
        meta = {**(node.get("source_meta") or {}), **((node.get("config") or {}).get("meta") or {})}
        rule = meta.get("load_freshness") or {}
        warn = rule.get("warn_after_hours")
        error = rule.get("error_after_hours")
        out[source_key(str(node.get("source_name", "")))] = Thresholds(
            _hours(warn, 0) * HOUR if warn is not None else default.warn_after_seconds,
            _hours(error, 0) * HOUR if error is not None else default.error_after_seconds,
        )
    return out


@dataclass(frozen=True)
class FreshnessRow:
    source: str
    table_name: str
    measure: str  # event_time | load_time
    checked_at: datetime
    newest: datetime | None
    lag_seconds: float | None
    warn_after_seconds: float | None
    error_after_seconds: float | None
    status: str
    message: str | None = None

    @property
    def label(self) -> str:
        return f"{self.source}.{self.table_name}"
