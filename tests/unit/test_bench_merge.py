"""bench/bench_merge.py end to end on a small table, so that a broken benchmark fails CI: both ways
merge, and the table names each with its figures. Nothing here asserts on the figures themselves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_merge


def test_the_benchmark_merges_both_ways_and_prints_a_row_for_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_merge.main(["--rows", "20000", "--memory-limits", "256MB", "--repeat", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("merge of a package changing all 20,000 rows")
    rows = {line.split()[0]: line.split() for line in table[2:]}
    assert set(rows) == set(bench_merge.KINDS)
    for way in bench_merge.KINDS:
        _, limit, status, seconds, rate, peak, rise = rows[way]
        assert (limit, status) == ("256MB", "ok")
        assert float(seconds) > 0 and int(rate.replace(",", "")) > 0 and float(peak) > float(rise) >= 0
