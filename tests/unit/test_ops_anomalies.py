"""The robust baseline of the volume and freshness checks (median and MAD, floors)."""

from __future__ import annotations

import random

import pytest

from loaders.ops.anomalies import AnomalySettings, LoadVolume, baseline, check_freshness, check_volume

SETTINGS = AnomalySettings(baseline_loads=14, min_baseline=5, sensitivity=4.0, factor=2.0, min_rows=10.0)


def _load(rows: int) -> LoadVolume:
    return LoadVolume("cassandra", "user_events", "incremental", rows)


def test_a_drop_to_zero_and_a_spike_are_flagged() -> None:
    history = [230, 241, 225, 236, 229, 244, 231]
    zero = check_volume(_load(0), history, SETTINGS)
    assert zero is not None and zero.kind == "volume_zero" and zero.severity == "warn"
    assert zero.baseline.median == 231 and zero.baseline.size == 7
    assert "0 rows" in zero.message and "dropped to zero" in zero.message
    spike = check_volume(_load(1000), history, SETTINGS)
    assert spike is not None and spike.kind == "volume_spike"
    drop = check_volume(_load(60), history, SETTINGS)
    assert drop is not None and drop.kind == "volume_drop"


def test_ordinary_variation_is_not_flagged() -> None:
    rng = random.Random(14)
    for _ in range(200):
        history = [rng.gauss(230, 25) for _ in range(14)]
        today = rng.gauss(230, 25)
        assert check_volume(_load(round(today)), [round(v) for v in history], SETTINGS) is None


def test_a_flat_baseline_has_floors_so_a_small_change_is_not_an_anomaly() -> None:
    history = [100] * 10  # MAD 0: the Poisson spread (10) and the factor 2 bound the band
    assert check_volume(_load(140), history, SETTINGS) is None
    assert check_volume(_load(60), history, SETTINGS) is None
    assert check_volume(_load(219), history, SETTINGS) is None  # within 100 + 4 * 3 * 10
    assert check_volume(_load(221), history, SETTINGS) is not None
    assert check_volume(_load(49), history, SETTINGS) is not None  # below half the median


def test_a_burst_in_a_small_bursty_table_is_ordinary() -> None:
    # outing_participants at scale 0.01: about 5 a day, 21 on a day with a large outing
    assert check_volume(_load(21), [5, 5, 6], AnomalySettings(min_baseline=3)) is None
    # a busy append-only table at the same scale still flags a day without rows
    found = check_volume(_load(0), [28, 28, 28, 29], AnomalySettings(min_baseline=3))
    assert found is not None and found.kind == "volume_zero"


def test_tiny_tables_never_flag_zero() -> None:
    assert check_volume(_load(0), [2, 1, 3, 2, 2, 1], SETTINGS) is None  # median 2 < min_rows


def test_nothing_is_judged_before_the_baseline_is_long_enough() -> None:
    assert check_volume(_load(0), [500, 510, 490, 505], SETTINGS) is None
    assert check_volume(_load(0), [500, 510, 490, 505, 495], SETTINGS) is not None


def test_the_baseline_uses_only_the_n_most_recent_values() -> None:
    band = baseline([10.0] * 5 + [1000.0] * 20, AnomalySettings(baseline_loads=5, min_baseline=5), 0)
    assert band is not None and band.median == 10.0 and band.size == 5


def test_fail_setting_makes_anomalies_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADERS_ANOMALY_FAIL", "true")
    settings = AnomalySettings.from_env()
    assert settings.fail
    found = check_volume(_load(0), [230] * 6, settings)
    assert found is not None and found.severity == "error"
    monkeypatch.setenv("LOADERS_ANOMALY_FAIL", "maybe")
    from loaders.errors import UserError

    with pytest.raises(UserError, match="LOADERS_ANOMALY_FAIL"):
        AnomalySettings.from_env()


def test_freshness_lag_far_above_its_usual_level_is_flagged() -> None:
    usual = [600.0, 900.0, 700.0, 800.0, 650.0, 750.0]  # 10-15 minutes behind
    assert check_freshness("postgres", "payments", 1800.0, usual, SETTINGS) is None  # within the hour floor
    late = check_freshness("postgres", "payments", 6 * 3600.0, usual, SETTINGS)
    assert late is not None and late.kind == "freshness_lag" and "6.0 h" in late.message
