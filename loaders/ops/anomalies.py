"""Volume and freshness anomaly checks against a robust baseline (median and MAD).

Volume: the rows a load extracted from one table, against the previous N loads of the same
table *and mode* (a full load is not compared with incremental ones); the current load is
never part of its own baseline. Freshness: a table's event-time lag against its previous N
lags. A value is anomalous when it leaves the band

    lower = min(median - k * max(sigma, sqrt(median)), median / factor, median - min_rows)
    upper = max(median + k * max(sigma, 3 * sqrt(median)), median * factor, median + min_rows)

where sigma = 1.4826 * MAD (the normal-consistent MAD). Rows per load are counts, and
bursty ones (a new outing brings a heavy-tailed number of participants): a MAD of a few
loads underestimates their noise, so the spread is at least the Poisson one, sqrt(median),
below the median and three times that above it. The factor and min_rows floors keep small
tables and a baseline whose MAD is 0 quiet. Nothing is judged before the baseline has
``min_baseline`` values. Freshness lags use sigma alone (they are not counts).

Settings: LOADERS_ANOMALY_BASELINE_LOADS (N, default 14), LOADERS_ANOMALY_MIN_BASELINE (5),
LOADERS_ANOMALY_SENSITIVITY (k, 4), LOADERS_ANOMALY_FACTOR (2), LOADERS_ANOMALY_MIN_ROWS (10),
LOADERS_ANOMALY_FAIL (false: anomalies warn; true: they fail the publish).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from loaders.errors import UserError
from loaders.settings import setting

MAD_TO_SIGMA = 1.4826
FRESHNESS_MIN_SECONDS = 3600.0  # a lag grows by less than an hour: never an anomaly


@dataclass(frozen=True)
class AnomalySettings:
    baseline_loads: int = 14
    min_baseline: int = 5
    sensitivity: float = 4.0
    factor: float = 2.0
    min_rows: float = 10.0
    fail: bool = False

    @classmethod
    def from_env(cls) -> AnomalySettings:
        def number(name: str, default: float) -> float:
            text = setting(name, str(default)) or str(default)
            try:
                return float(text)
            except ValueError:
                raise UserError(
                    f"{name}={text!r} is not a number: unset it or use e.g. {name}={default:g}"
                ) from None

        fail_text = (setting("LOADERS_ANOMALY_FAIL", "false") or "false").strip().lower()
        if fail_text not in {"true", "false", "1", "0", "yes", "no"}:
            raise UserError(f"LOADERS_ANOMALY_FAIL={fail_text!r}: use true or false")
        return cls(
            baseline_loads=max(1, int(number("LOADERS_ANOMALY_BASELINE_LOADS", cls.baseline_loads))),
            min_baseline=max(1, int(number("LOADERS_ANOMALY_MIN_BASELINE", cls.min_baseline))),
            sensitivity=number("LOADERS_ANOMALY_SENSITIVITY", cls.sensitivity),
            factor=max(1.0, number("LOADERS_ANOMALY_FACTOR", cls.factor)),
            min_rows=number("LOADERS_ANOMALY_MIN_ROWS", cls.min_rows),
            fail=fail_text in {"true", "1", "yes"},
        )


@dataclass(frozen=True)
class Baseline:
    median: float
    mad: float
    size: int
    lower: float
    upper: float


@dataclass(frozen=True)
class Anomaly:
    source: str
    table_name: str
    kind: str  # volume_zero | volume_drop | volume_spike | freshness_lag
    severity: str  # warn | error
    mode: str
    observed: float
    baseline: Baseline
    message: str


def baseline(
    values: Sequence[float], settings: AnomalySettings, min_margin: float, *, counts: bool = True
) -> Baseline | None:
    """Median, MAD and the band of the previous values (most recent first, trimmed to N)."""
    window = list(values)[: settings.baseline_loads]
    if len(window) < settings.min_baseline:
        return None
    median = statistics.median(window)
    mad = statistics.median(abs(v - median) for v in window)
    sigma = MAD_TO_SIGMA * mad
    poisson = math.sqrt(max(median, 0.0)) if counts else 0.0
    k = settings.sensitivity
    lower = min(median - k * max(sigma, poisson), median / settings.factor, median - min_margin)
    upper = max(median + k * max(sigma, 3 * poisson), median * settings.factor, median + min_margin)
    return Baseline(median, mad, len(window), lower, upper)


@dataclass(frozen=True)
class LoadVolume:
    source: str
    table_name: str
    mode: str
    rows: int


def check_volume(
    current: LoadVolume, previous_rows: Sequence[int], settings: AnomalySettings
) -> Anomaly | None:
    """previous_rows: rows of the earlier loads of the same table and mode, most recent first."""
    band = baseline([float(v) for v in previous_rows], settings, settings.min_rows)
    if band is None:
        return None
    rows = current.rows
    if rows == 0 and band.lower > 0:
        kind, what = "volume_zero", "dropped to zero"
    elif rows < band.lower:
        kind, what = "volume_drop", f"dropped below {band.lower:.0f}"
    elif rows > band.upper:
        kind, what = "volume_spike", f"spiked above {band.upper:.0f}"
    else:
        return None
    severity = "error" if settings.fail else "warn"
    message = (
        f"{current.source}.{current.table_name}: {rows} rows in this {current.mode or 'load'} load, {what} "
        f"(median {band.median:.0f}, MAD {band.mad:.0f} of the previous {band.size} loads)"
    )
    return Anomaly(
        current.source, current.table_name, kind, severity, current.mode, float(rows), band, message
    )


def check_freshness(
    source: str,
    table_name: str,
    lag_seconds: float,
    previous_lags: Sequence[float],
    settings: AnomalySettings,
) -> Anomaly | None:
    """An event-time lag far above the table's usual lag (the source stopped producing rows,
    or the loader stopped bringing them)."""
    band = baseline(previous_lags, settings, FRESHNESS_MIN_SECONDS, counts=False)
    if band is None or lag_seconds <= band.upper:
        return None
    severity = "error" if settings.fail else "warn"
    message = (
        f"{source}.{table_name}: newest event {lag_seconds / 3600:.1f} h old, above {band.upper / 3600:.1f} h "
        f"(median lag {band.median / 3600:.1f} h of the previous {band.size} checks)"
    )
    return Anomaly(source, table_name, "freshness_lag", severity, "", lag_seconds, band, message)
