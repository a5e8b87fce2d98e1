"""bench/bench_volume.py's pure parts, so that a broken benchmark fails CI: its arguments, the
record of a run (results.json) and the tables and plot drawn from one. Nothing is started or timed:
the figures are those of the README's scale-1 run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_volume
from bench_volume import ScaleResult, Step

PHASES = ("full job", "incremental job", "no-new-data job")


def recorded() -> list[dict[str, object]]:
    """A results.json as bench_volume writes it (scale 1 of the README's run, 2026-12-01)."""

    def step(
        wall: float, rss: float, slowest: dict[str, float] | None = None, **phases: float
    ) -> dict[str, object]:
        return {
            "wall": wall,
            "peak_rss_mb": rss,
            "exit_code": 0,
            "phases": phases,
            "slowest": slowest or {},
            "phase_peaks": {},
        }

    return [
        {
            "scale": "1",
            "source_rows": 4301748,
            "steps": {
                "generate": step(149.4, 410.0),
                "full job": step(48.5, 1225.0, load=23.9, build=18.6, freshness=0.6, docs=0.3, publish=3.1),
                "continue": step(6.2, 300.0),
                "incremental job": step(
                    53.8,
                    862.0,
                    {"load cassandra.user_events": 21.5, "dbt gold_ml_user_features": 2.5},
                    load=38.6,
                    build=9.0,
                    freshness=0.5,
                    docs=0.2,
                    publish=3.4,
                ),
                "no-new-data job": {
                    **step(43.8, 840.0, load=30.1, build=7.9, docs=0.2, publish=3.3),
                    "phase_peaks": {"load": 431.0, "build": 266.5, "publish": 552.4},
                },
                "continue again": step(6.0, 301.0),
                "weekly-sweep job": step(20.1, 700.0, load=8.0, build=9.1, docs=0.2, publish=3.0),
            },
            "warehouse_mb": 812.0,
            "commit": "1c1d4ce",
        }
    ]


@pytest.fixture
def results_json(tmp_path: Path) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(recorded()), encoding="utf-8")
    return path


def test_arguments_default_and_parse() -> None:
    args = bench_volume.parse_args([])
    assert args.scales == ["1", "5", "10"] and args.ports == (54419, 19142, 17110)
    assert args.from_results is None and not args.keep_stack
    args = bench_volume.parse_args(["--scales", "0.25, 1", "--ports", "1,2,3", "--keep-stack"])
    assert args.scales == ["0.25", "1"] and args.ports == (1, 2, 3) and args.keep_stack


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scales", "1,x"], "--scales takes positive numbers separated by commas, not '1,x'"),
        (["--scales", "0"], "--scales takes positive numbers"),
        (["--ports", "1,2"], "--ports takes three ports"),
        (["--ports", "a,b,c"], "--ports takes three port numbers separated by commas"),
    ],
)
def test_bad_arguments_exit_2_naming_the_fix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        bench_volume.parse_args(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_a_run_is_recorded_and_read_back_the_same(tmp_path: Path, results_json: Path) -> None:
    results = bench_volume.load_results(results_json)
    assert isinstance(results[0], ScaleResult) and isinstance(results[0].steps["full job"], Step)
    assert results[0].steps["incremental job"].phases["load"] == 38.6
    copy = tmp_path / "copy.json"
    bench_volume.save_results(results, copy)
    assert bench_volume.load_results(copy) == results
    assert json.loads(copy.read_text(encoding="utf-8")) == recorded()
    older = recorded()  # a record made before the phases' peak RSS was kept
    for step in older[0]["steps"].values():  # type: ignore[attr-defined]
        del step["phase_peaks"]
    results_json.write_text(json.dumps(older), encoding="utf-8")
    assert bench_volume.load_results(results_json)[0].steps["full job"].phase_peaks == {}


def test_a_file_that_is_not_a_record_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "results.json"
    broken.write_text('[{"scale": "1"}]', encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        bench_volume.load_results(broken)
    assert str(caught.value).startswith(f"bench: {broken} is not a results.json of bench_volume (KeyError")
    assert "\n" not in str(caught.value)


def test_the_tables_show_the_recorded_figures(results_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench_volume.print_tables(bench_volume.load_results(results_json))
    lines = capsys.readouterr().out.splitlines()
    (row,) = [line for line in lines if line.split()[:2] == ["1", "4,301,748"]]
    # scale, rows, generate, full, incremental, incremental / full, no new data, weekly sweep,
    # weekly sweep / full, the greatest peak RSS, the warehouse, the commit
    assert row.split() == [
        "1",
        "4,301,748",
        "149.4",
        "48.5",
        "53.8",
        f"{53.8 / 48.5:.0%}",
        "43.8",
        "20.1",
        f"{20.1 / 48.5:.0%}",
        "1225",
        "812",
        "1c1d4ce",
    ]
    phases_at = lines.index(
        "phases (seconds, from ops.runs): full job / incremental job / no-new-data job / weekly-sweep job"
    )
    phase_row = next(line for line in lines[phases_at + 2 :] if line.split()[:1] == ["1"])
    assert phase_row.split() == [
        "1",
        "23.9/38.6/30.1/8.0",
        "18.6/9.0/7.9/9.1",
        "0.6/0.5/-/-",
        "0.3/0.2/0.2/0.2",
        "3.1/3.4/3.3/3.0",
    ]
    peaks_at = next(i for i, line in enumerate(lines) if line.startswith("peak RSS per job phase (MB"))
    # load / build / publish, each for the four jobs; only the no-new-data job's were recorded
    assert lines[peaks_at + 2].split() == ["1", "-/-/431/-", "-/-/266/-", "-/-/552/-"]
    rss_at = lines.index("peak RSS per step (MB)")
    assert lines[rss_at + 1].split()[0] == "1" and "incremental job: 862" in lines[rss_at + 1]
    slowest_at = lines.index("slowest parts of each job (seconds, from ops.table_loads and ops.dbt_results)")
    assert lines[slowest_at + 2].split() == [
        "1",
        "incremental",
        "job",
        "load",
        "cassandra.user_events",
        "21.5,",
        "dbt",
        "gold_ml_user_features",
        "2.5",
    ]
    assert lines[slowest_at + 1].split() == ["1", "full", "job", "-"]


def test_from_results_prints_and_plots_without_running_anything(
    results_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "plots" / "volume.png"
    assert bench_volume.main(["--from-results", str(results_json), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "4,301,748" in out and f"plot: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_record_without_the_weekly_sweep_job_still_prints(
    results_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """results.json files written before the weekly-sweep job (and the commit): dashes."""
    older = json.loads(results_json.read_text(encoding="utf-8"))
    del older[0]["commit"]
    results_json.write_text(json.dumps(older), encoding="utf-8")
    results = bench_volume.load_results(results_json)
    assert results[0].commit == ""
    for name in ("continue again", "weekly-sweep job"):
        del results[0].steps[name]
    bench_volume.print_tables(results)
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.split()[:2] == ["1", "4,301,748"]]
    assert row.split()[6:10] == ["43.8", "-", "-", "1225"] and row.split()[-1] == "-"


def _scale(scale: str, full_wall: float, commit: str) -> dict[str, object]:
    record = recorded()[0]
    steps = dict(record["steps"])  # type: ignore[call-overload]
    steps["full job"] = {**steps["full job"], "wall": full_wall}
    return {**record, "scale": scale, "steps": steps, "commit": commit}


def test_records_of_two_runs_merge_by_scale_the_last_one_winning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older, newer, merged = tmp_path / "older.json", tmp_path / "newer.json", tmp_path / "merged.json"
    older.write_text(json.dumps([_scale("5", 177.9, "1c1d4ce"), _scale("10", 1.0, "da12f3c")]))
    newer.write_text(json.dumps([_scale("10", 701.8, "60c9db0"), _scale("1", 58.5, "60c9db0")]))
    argv = ["--from-results", str(older), "--from-results", str(newer), "--save-results", str(merged)]
    assert bench_volume.main([*argv, "--plot", str(tmp_path / "p.png")]) == 0
    results = bench_volume.load_results(merged)
    assert [(r.scale, r.steps["full job"].wall, r.commit) for r in results] == [
        ("1", 58.5, "60c9db0"),
        ("5", 177.9, "1c1d4ce"),
        ("10", 701.8, "60c9db0"),
    ]
    rows = [
        line.split() for line in capsys.readouterr().out.splitlines() if line.split()[1:2] == ["4,301,748"]
    ]
    assert [(row[0], row[3], row[-1]) for row in rows] == [
        ("1", "58.5", "60c9db0"),
        ("5", "177.9", "1c1d4ce"),
        ("10", "701.8", "60c9db0"),
    ]


def test_save_results_needs_records_to_merge(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        bench_volume.parse_args(["--save-results", "x.json"])
    assert caught.value.code == 2
    assert "--save-results writes the merged record of --from-results files" in capsys.readouterr().err


def test_a_scale_whose_jobs_did_not_all_run_prints_dashes(
    results_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scale recorded up to its full job (a failed incremental build): its row, with dashes."""
    results = bench_volume.load_results(results_json)
    for name in ("incremental job", "no-new-data job", "continue again", "weekly-sweep job"):
        del results[0].steps[name]
    bench_volume.print_tables(results)
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.split()[:2] == ["1", "4,301,748"]]
    assert row.split()[2:10] == ["149.4", "48.5", "-", "-", "-", "-", "-", "1225"]


def test_the_scan_floor_is_read_from_its_last_line_and_shown_beside_the_full_job(
    results_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "scan-floor.log"
    log.write_text(
        "scan   user_events   2,000,000 rows in 9.5 s\n"
        + json.dumps(
            {"scan user_events": 9.5, "window user_events": 4.0, "scan messages": 3.0, "window messages": 1.0}
        )
        + "\n",
        encoding="utf-8",
    )
    parts = bench_volume.floor_parts(log)
    assert parts == {
        "scan user_events": 9.5,
        "window user_events": 4.0,
        "scan messages": 3.0,
        "window messages": 1.0,
    }
    (with_floor,) = bench_volume.load_results(results_json)
    with_floor.steps[bench_volume.SCAN_FLOOR] = Step(18.0, 150.0, 0, {}, parts)
    assert bench_volume.floor_seconds(with_floor, "scan") == 12.5
    assert bench_volume.floor_seconds(with_floor, "window") == 5.0
    (without,) = bench_volume.load_results(results_json)
    without.scale = "2"
    assert bench_volume.floor_seconds(without, "scan") is None
    bench_volume.print_tables([with_floor, without])
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Cassandra scan floor"))
    assert lines[at + 1].split()[:5] == ["1", "whole", "12.5", f"{12.5 / 48.5:.0%}", "window"]
    assert lines[at + 1].split()[5:7] == ["5.0", f"{5.0 / 48.5:.0%}"]
    assert lines[at + 2].split() == ["2", "not", "measured"]


def test_each_scale_is_recorded_as_it_ends_so_a_failing_scale_keeps_the_ones_before(tmp_path: Path) -> None:
    measured = bench_volume.load_results(_write(tmp_path / "recorded.json", recorded()))[0]
    asked: list[str] = []

    def measure(scale: str) -> ScaleResult:
        asked.append(scale)
        if scale == "10":
            raise RuntimeError("the scale-10 publish ran out of memory")
        return measured

    path = tmp_path / "results.json"
    with pytest.raises(RuntimeError, match="scale-10"):
        bench_volume.recorded_scales(["1", "10", "5"], measure, path)
    assert asked == ["1", "10"]
    kept = bench_volume.load_results(path)
    assert [r.scale for r in kept] == ["1"] and kept[0] == measured


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path
