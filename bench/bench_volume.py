"""Cost against volume: the whole job at several scales, side by side, as a table and a PNG plot.

For each scale, on a stack of its own (PostgreSQL and Cassandra started by stack/*.sh on other
ports and in another folder, so the shared development stack is never touched):

  * generate     `datagen --scale S --reset`: the demo history (about 4 M source rows per scale unit)
  * full job     `loaders run` on an empty warehouse: load (full), dbt build, docs, publish
  * incremental  `datagen --continue` (one more day of activity and edits), then `loaders run`
  * no new data  `loaders run` once more with nothing new: the job's fixed cost
  * weekly sweep `datagen --continue` again, then `loaders run` with LOADERS_CASSANDRA_SWEEP_HOURS=156:
                 the Cassandra loads read the late-arrival window only (their full sweep, which
                 finds hard deletes and rows of any lateness, comes weekly instead of every run)
  * scan floor   `bench/cassandra_baseline.py floor`: the bare raw-cell scans of the three Cassandra
                 tables, whole (what every sweep reads) and windowed (what an incremental run has the
                 server read), with the loader's parallelism and no dlt: the part of a job's Cassandra
                 load that no loader can avoid, and so the floor of the incremental jobs' shares

Every figure is the child process's wall time and peak RSS (wait4: the job and what it waited for),
with the job's own phase seconds read back from `ops.runs`. The reference for the incremental job
is the full job at the same scale, measured in the same run: the target is cost that grows with
the change (about one day), not with the history (six months).

    .venv/bin/python bench/bench_volume.py --scales 1,5,10          # about an hour at scale 10
    .venv/bin/python bench/bench_volume.py --scales 0.1,0.5 --plot /tmp/volume.png
    .venv/bin/python bench/bench_volume.py --from-results WORK/results.json   # table and plot again, no run
    .venv/bin/python bench/bench_volume.py --from-results OLD.json --from-results NEW.json \
        --save-results docs/bench-volume-results.json    # scales of two runs in one table and plot

Each run records its figures, and the commit it ran, in WORK/results.json, after each scale (a scale that fails keeps the ones before it); `--from-results` prints the
tables and draws the plot from such files without starting anything (a scale recorded in several
files: the last one given wins).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHASES_SHOWN = ("load", "build", "freshness", "docs", "publish")
PEAK_PHASES_SHOWN = ("load", "build", "publish")
# The incremental job once more with LOADERS_CASSANDRA_SWEEP_HOURS=156: a daily job whose Cassandra
# loads read the late-arrival window and sweep the whole table (hard deletes, any lateness) weekly.
WEEKLY_SWEEP_JOB = "weekly-sweep job"
WEEKLY_SWEEP_ENV = {"LOADERS_CASSANDRA_SWEEP_HOURS": "156"}
JOBS = ("full job", "incremental job", "no-new-data job", WEEKLY_SWEEP_JOB)
SCAN_FLOOR = "scan floor"  # its parts: "scan <table>" (whole tables), "window <table>" (the window)


@dataclass
class Step:
    wall: float
    peak_rss_mb: float
    exit_code: int
    phases: dict[str, float] = field(default_factory=dict)
    # the job's slowest table loads and dbt nodes, seconds (from ops.table_loads, ops.dbt_results)
    slowest: dict[str, float] = field(default_factory=dict)
    # the job's peak RSS by phase, MB (ops.runs.phase_peak_rss_mb: the load's own process for
    # "load", the job's process after each of its phases; empty in records made before it)
    phase_peaks: dict[str, float] = field(default_factory=dict)


@dataclass
class ScaleResult:
    scale: str
    source_rows: int
    steps: dict[str, Step]
    warehouse_mb: float = 0.0
    commit: str = ""  # the project's commit the scale ran at (git rev-parse --short HEAD)


def save_results(results: list[ScaleResult], path: Path) -> None:
    """The figures of a run as JSON (what --from-results reads back)."""
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")


def recorded_scales(
    scales: list[str], measure: Callable[[str], ScaleResult], path: Path
) -> list[ScaleResult]:
    """``measure`` each scale in turn, recording the results in ``path`` after each one: a scale
    that fails (or a killed run) keeps the scales measured before it."""
    results: list[ScaleResult] = []
    for scale in scales:
        results.append(measure(scale))
        save_results(results, path)
    return results


def load_results(path: Path) -> list[ScaleResult]:
    """Results recorded by save_results; SystemExit with one line when the file is not such a record."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        return [
            ScaleResult(
                str(r["scale"]),
                int(r["source_rows"]),
                {name: Step(**step) for name, step in r["steps"].items()},
                float(r.get("warehouse_mb", 0.0)),
                str(r.get("commit", "")),
            )
            for r in recorded
        ]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise SystemExit(
            f"bench: {path} is not a results.json of bench_volume ({type(exc).__name__}: {exc})"
        ) from None


def merge_results(records: list[list[ScaleResult]]) -> list[ScaleResult]:
    """The scales of several records in one list, by scale; a scale in several records: the last one."""
    by_scale = {float(r.scale): r for record in records for r in record}
    return [by_scale[scale] for scale in sorted(by_scale)]


def project_commit() -> str:
    """The checkout's commit, with "+changes" when its tracked files differ from it ("" outside git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=PROJECT_DIR, check=False).returncode
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")


def timed(cmd: list[str], env: dict[str, str], log: Path) -> Step:
    """Run ``cmd`` to the end: wall seconds and the peak RSS of it and its waited-for children."""
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    return Step(wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def required(step: Step, what: str, log: Path) -> Step:
    """A step that must succeed: its failure ends the benchmark with the log's tail."""
    if step.exit_code != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SystemExit(f"bench: {what} failed (exit {step.exit_code}); {log}:\n{tail}")
    return step


def stack_env(stack_dir: Path, ports: tuple[int, int, int]) -> dict[str, str]:
    """Start (idempotently) a stack of its own and return the environment that reaches it."""
    pg, cql, storage = ports
    env = {
        **os.environ,
        "LOCAL_STACK_DIR": str(stack_dir),
        "LOCAL_PG_PORT": str(pg),
        "LOCAL_CASSANDRA_PORT": str(cql),
        "LOCAL_CASSANDRA_STORAGE_PORT": str(storage),
    }
    for script in ("stack/postgres.sh", "stack/cassandra.sh"):
        proc = subprocess.run(
            ["bash", script, "up"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: {script} up failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    for line in (stack_dir / "env").read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


def stop_stack(env: dict[str, str]) -> None:
    for script in ("stack/cassandra.sh", "stack/postgres.sh"):
        subprocess.run(["bash", script, "down"], cwd=PROJECT_DIR, env=env, capture_output=True)


def last_run_phases(warehouse: Path, column: str = "phase_seconds") -> dict[str, float]:
    """A map of the newest run recorded in ops.runs: its phase seconds, or ``phase_peak_rss_mb``
    (empty if none)."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        row = conn.execute(
            f"select map_keys({column}), map_values({column}) from ops.runs order by started desc limit 1"
        ).fetchone()
    return dict(zip(row[0], row[1], strict=True)) if row and row[0] is not None else {}


def slowest_parts(warehouse: Path, top: int = 4) -> dict[str, float]:
    """The newest run's slowest table loads and dbt nodes: where a job's seconds go."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "with newest as (select run_id from ops.runs order by started desc limit 1), "
            "parts as ("
            "  select 'load ' || source || '.' || table_name as part, seconds from ops.table_loads "
            "  where run_id = (select run_id from newest) "
            "  union all "
            "  select 'dbt ' || node, seconds from ops.dbt_results where run_id = (select run_id from newest)"
            ") select part, seconds from parts order by seconds desc limit ?",
            [top * 2],
        ).fetchall()
    return {str(part): round(float(seconds), 1) for part, seconds in rows}


def source_rows(warehouse: Path) -> int:
    """Live rows in the raw schemas after the full load (the volume the scale stands for)."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw_postgres', 'raw_cassandra') and table_name not like '_dlt%'"
        ).fetchall()
        total = 0
        for schema, name in tables:
            counted = conn.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
            total += int(counted[0]) if counted else 0
        return total


def floor_parts(log: Path) -> dict[str, float]:
    """The seconds per scan that ``cassandra_baseline.py floor`` printed as its last line."""
    lines = log.read_text(errors="replace").strip().splitlines()
    return {str(k): float(v) for k, v in json.loads(lines[-1]).items()} if lines else {}


def floor_seconds(result: ScaleResult, kind: str) -> float | None:
    """The scan floor's seconds of one kind summed over the tables (``scan``: whole, ``window``)."""
    step = result.steps.get(SCAN_FLOOR)
    if step is None:
        return None
    parts = [seconds for part, seconds in step.slowest.items() if part.startswith(kind + " ")]
    return sum(parts) if parts else None


def bench_scale(
    scale: str, seed: int, end: str, env: dict[str, str], work: Path, keep_data: bool = False
) -> ScaleResult:
    folder = work / f"scale-{scale}"
    folder.mkdir(parents=True)
    warehouse = folder / "warehouse" / "warehouse.duckdb"
    env = {
        **env,
        "WAREHOUSE_PATH": str(warehouse),
        "PUBLISHED_DIR": str(folder / "published"),
        "DLT_DATA_DIR": str(folder / "dlt"),
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
    }
    datagen, loaders = str(BIN / "datagen"), str(BIN / "loaders")
    commit = project_commit()
    steps: dict[str, Step] = {}
    plan = [
        ("generate", [datagen, "--scale", scale, "--seed", str(seed), "--end", end, "--reset", "-q"], False),
        ("full job", [loaders, "run"], True),
        ("continue", [datagen, "--continue", "--seed", str(seed), "-q"], False),
        ("incremental job", [loaders, "run"], True),
        ("no-new-data job", [loaders, "run"], True),
        # the same day of changes once more, with Cassandra's full sweep weekly instead of every run
        ("continue again", [datagen, "--continue", "--seed", str(seed), "-q"], False),
        (WEEKLY_SWEEP_JOB, [loaders, "run"], True),
        (SCAN_FLOOR, [sys.executable, str(PROJECT_DIR / "bench" / "cassandra_baseline.py"), "floor"], False),
    ]
    rows = 0
    for name, cmd, is_job in plan:
        step_env = {**env, **WEEKLY_SWEEP_ENV} if name == WEEKLY_SWEEP_JOB else env
        log = folder / f"{name.replace(' ', '-')}.log"
        print(f"[scale {scale}] {name} …", flush=True)
        step = timed(cmd, step_env, log)
        required(step, f"{name} at scale {scale}", log)  # anomalies only warn by default: a job exits 0
        if is_job:
            step.phases = last_run_phases(warehouse)
            step.phase_peaks = last_run_phases(warehouse, "phase_peak_rss_mb")
            step.slowest = slowest_parts(warehouse)
        if name == "full job":
            rows = source_rows(warehouse)
        if name == SCAN_FLOOR:
            step.slowest = floor_parts(log)
        steps[name] = step
        print(
            f"[scale {scale}] {name}: {step.wall:.1f} s, peak RSS {step.peak_rss_mb:.0f} MB, exit {step.exit_code}",
            flush=True,
        )
        if step.slowest:
            print(f"[scale {scale}]   slowest: " + ", ".join(f"{k} {v:.1f}" for k, v in step.slowest.items()))
    warehouse_mb = warehouse.stat().st_size / 2**20
    if not keep_data:  # the next scale needs the disk: keep the logs and figures, not the data
        for bulky in ("warehouse", "published", "dlt"):
            shutil.rmtree(folder / bulky, ignore_errors=True)
    return ScaleResult(scale, rows, steps, warehouse_mb, commit)


def _wall(result: ScaleResult, name: str) -> float | None:
    step = result.steps.get(name)
    return None if step is None else step.wall


def _seconds(value: float | None, width: int) -> str:
    return "-".rjust(width) if value is None else f"{value:>{width}.1f}"


def _share(value: float | None, whole: float | None, width: int, share_width: int) -> str:
    """A job's seconds and its share of the full job's, or dashes for a job not run."""
    share = "-" if value is None or not whole else f"{value / whole:.0%}"
    return f"{_seconds(value, width)} {share:>{share_width}}"


def print_tables(results: list[ScaleResult]) -> None:
    head = (
        f"{'scale':>6} {'source rows':>12} {'generate s':>11} {'full job s':>11} {'incr. job s':>12} "
        f"{'incr./full':>10} {'no-new s':>9} {'weekly-sweep s':>15} {'weekly/full':>11} "
        f"{'peak RSS MB':>12} {'warehouse MB':>13} {'commit':>10}"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in results:
        s = r.steps
        full = _wall(r, "full job")
        idle = _wall(r, "no-new-data job")
        rss = max(step.peak_rss_mb for step in s.values())
        print(
            f"{r.scale:>6} {r.source_rows:>12,} {_seconds(_wall(r, 'generate'), 11)} {_seconds(full, 11)} "
            f"{_share(_wall(r, 'incremental job'), full, 12, 10)} {_seconds(idle, 9)} "
            f"{_share(_wall(r, WEEKLY_SWEEP_JOB), full, 15, 11)} {rss:>12.0f} {r.warehouse_mb:>13.0f} "
            f"{r.commit or '-':>10}"
        )
    print(f"\nphases (seconds, from ops.runs): {' / '.join(JOBS)}")
    print(f"{'scale':>6} " + " ".join(f"{p:>24}" for p in PHASES_SHOWN))
    for r in results:
        cells = []
        for phase in PHASES_SHOWN:
            values = [r.steps[j].phases.get(phase) if j in r.steps else None for j in JOBS]
            cells.append("/".join("-" if v is None else f"{v:.1f}" for v in values).rjust(24))
        print(f"{r.scale:>6} " + " ".join(cells))
    print(
        "\nCassandra scan floor (bare raw-cell scans, the loader's parallelism, no dlt): whole tables "
        "(every sweep reads them) / the late-arrival window (an incremental run's server-side read), "
        "and each as a share of the full job"
    )
    for r in results:
        full = _wall(r, "full job")
        whole, window = floor_seconds(r, "scan"), floor_seconds(r, "window")
        print(
            f"{r.scale:>6} whole {_share(whole, full, 8, 6)}   window {_share(window, full, 8, 6)}   "
            + ", ".join(f"{k} {v:.1f}" for k, v in r.steps[SCAN_FLOOR].slowest.items())
            if SCAN_FLOOR in r.steps
            else f"{r.scale:>6} not measured"
        )
    print("\npeak RSS per step (MB)")
    for r in results:
        print(f"{r.scale:>6} " + "  ".join(f"{n}: {s.peak_rss_mb:.0f}" for n, s in r.steps.items()))
    print(
        "\npeak RSS per job phase (MB, from ops.runs: load = the load's own process; the others = the "
        f"job's process after that phase): {' / '.join(JOBS)}"
    )
    print(f"{'scale':>6} " + " ".join(f"{p:>24}" for p in PEAK_PHASES_SHOWN))
    for r in results:
        peaks = [
            [r.steps[j].phase_peaks.get(p) if j in r.steps else None for j in JOBS] for p in PEAK_PHASES_SHOWN
        ]
        if not any(v is not None for values in peaks for v in values):
            print(f"{r.scale:>6} not recorded")
            continue
        print(
            f"{r.scale:>6} "
            + " ".join(
                "/".join("-" if v is None else f"{v:.0f}" for v in values).rjust(24) for values in peaks
            )
        )
    print("\nslowest parts of each job (seconds, from ops.table_loads and ops.dbt_results)")
    for r in results:
        for name in JOBS:
            if name in r.steps:
                parts = ", ".join(f"{k} {v:.1f}" for k, v in r.steps[name].slowest.items()) or "-"
                print(f"{r.scale:>6} {name:<16} {parts}")


def plot(results: list[ScaleResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cost, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    color = {name: f"C{i}" for i, name in enumerate(("generate", *JOBS))}  # a step's colour in both plots
    for name in ("generate", *JOBS):
        shown = [r for r in results if name in r.steps]
        cost.plot(
            [float(r.scale) for r in shown],
            [r.steps[name].wall for r in shown],
            marker="o",
            label=name,
            color=color[name],
        )
    cost.set(xlabel="scale (about 4 M source rows each)", ylabel="seconds", title="Cost against scale")
    cost.grid(alpha=0.3)
    cost.legend()
    for name in JOBS:
        shown = [r for r in results if name in r.steps]
        memory.plot(
            [float(r.scale) for r in shown],
            [r.steps[name].peak_rss_mb for r in shown],
            marker="o",
            label=name,
            color=color[name],
        )
    memory.axhline(512, color="red", linestyle="--", linewidth=1, label="512 MB bound")
    memory.set(xlabel="scale", ylabel="peak RSS, MB", title="Peak memory against scale")
    memory.grid(alpha=0.3)
    memory.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="1,5,10", help="comma-separated scales (default 1,5,10)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--end", default=time.strftime("%Y-%m-%dT23:59:59Z", time.gmtime(time.time() - 2 * 86400))
    )
    parser.add_argument("--plot", type=Path, default=PROJECT_DIR / "docs" / "bench-volume.png")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary one)")
    parser.add_argument("--ports", default="54419,19142,17110", help="PostgreSQL, CQL and storage ports")
    parser.add_argument("--keep-stack", action="store_true", help="leave the benchmark's stack running")
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep each scale's warehouse (default: deleted once measured; scale 10 needs tens of GB)",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        action="append",
        default=None,
        metavar="JSON",
        help="print the tables and draw the plot of a recorded run (its WORK/results.json); runs nothing. "
        "Repeat it to show the scales of several runs together (a scale in several files: the last one)",
    )
    parser.add_argument(
        "--save-results",
        type=Path,
        default=None,
        metavar="JSON",
        help="with --from-results: also write the merged record to this file",
    )
    args = parser.parse_args(argv)
    if args.save_results is not None and args.from_results is None:
        parser.error("--save-results writes the merged record of --from-results files; give them too")
    scales = [s.strip() for s in args.scales.split(",")]
    try:
        if not all(float(s) > 0 for s in scales):
            raise ValueError(args.scales)
    except ValueError:
        parser.error(f"--scales takes positive numbers separated by commas, not {args.scales!r}")
    args.scales = scales
    try:
        args.ports = tuple(int(p) for p in args.ports.split(","))
    except ValueError:
        parser.error(f"--ports takes three port numbers separated by commas, not {args.ports!r}")
    if len(args.ports) != 3:
        parser.error("--ports takes three ports: PostgreSQL, CQL, Cassandra storage")
    return args


def report(results: list[ScaleResult], plot_path: Path) -> None:
    print_tables(results)
    plot(results, plot_path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results is not None:
        results = merge_results([load_results(path) for path in args.from_results])
        if args.save_results is not None:
            save_results(results, args.save_results)
            print(f"results: {args.save_results}")
        report(results, args.plot)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-volume-"))
    env = stack_env(work / "stack", args.ports)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    print(f"work folder {work}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    try:
        results = recorded_scales(
            args.scales,
            lambda scale: bench_scale(scale, args.seed, args.end, env, work, args.keep_data),
            work / "results.json",
        )
    finally:
        if not args.keep_stack:
            stop_stack(env)
    print(f"results: {work / 'results.json'}")
    print_tables(results)
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores)")
    plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
