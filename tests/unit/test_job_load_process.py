"""The job's load in a process of its own: under the job's lock, its failure as the job's one line."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loaders.job.load_process import (
    LoadOutcome,
    LoadProcessFailed,
    child_command,
    load_in_own_process,
    read_outcome,
    results_of,
    write_outcome,
)
from loaders.load.lock import held_lock_fd, inherited_lock_env, warehouse_lock
from loaders.load.results import SourceResult, TableResult

# a child that takes the warehouse lock without waiting, says so, and exits
TAKES_THE_LOCK = (
    "import sys\n"
    "from loaders.load.lock import warehouse_lock\n"
    "with warehouse_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
)


def _child(
    warehouse: Path, env: dict[str, str], pass_fds: tuple[int, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TAKES_THE_LOCK, str(warehouse)],
        env={**os.environ, **env},
        pass_fds=pass_fds,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_child_passed_the_lock_writes_under_it_and_leaves_it_held(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with warehouse_lock(warehouse):
        env, fd = inherited_lock_env(warehouse)
        child = _child(warehouse, env, (fd,))
        assert child.returncode == 0, child.stderr
        assert child.stdout == "locked\n"
        # the child did not let the parent's lock go: any other process still fails fast
        other = _child(warehouse, {})
        assert other.returncode != 0
        assert "WarehouseBusy" in other.stderr and "is being written by" in other.stderr
    assert held_lock_fd(warehouse) is None
    assert _child(warehouse, {}).returncode == 0  # released by the parent at the end


def test_a_descriptor_of_another_warehouse_lock_is_not_taken_for_this_one(tmp_path: Path) -> None:
    mine, other = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    with warehouse_lock(mine), warehouse_lock(other):
        env, fd = inherited_lock_env(other)
        child = _child(mine, env, (fd,))  # told of b's lock, asked for a's: a is busy
        assert child.returncode != 0 and "is being written by" in child.stderr


def test_the_lock_to_pass_must_be_held() -> None:
    with pytest.raises(RuntimeError, match="not held by this process"):
        inherited_lock_env(Path("/nonexistent/warehouse.duckdb"))


def test_without_the_lock_a_second_writer_still_fails_fast(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with warehouse_lock(warehouse):
        env = {"LOADERS_WAREHOUSE_LOCK_FD": "0"}  # a descriptor that is not the lock file
        child = _child(warehouse, env)
        assert child.returncode != 0 and "is being written by" in child.stderr


def test_the_outcome_goes_back_whole(tmp_path: Path) -> None:
    results = [
        SourceResult(
            "postgres", "postgres_to_raw", tables=[TableResult("postgres", "users", rows_extracted=3)]
        )
    ]
    path = tmp_path / "outcome.pickle"
    write_outcome(path, LoadOutcome(results))
    outcome = read_outcome(path)
    assert outcome is not None and results_of(outcome, 0) == results
    assert not path.with_name(path.name + ".partial").exists()
    path.write_bytes(b"\x80\x04 half a pickle")
    assert read_outcome(path) is None
    assert read_outcome(tmp_path / "never-written") is None


def test_the_childs_error_is_the_jobs_one_line_and_exit_code() -> None:
    with pytest.raises(LoadProcessFailed) as failure:
        results_of(LoadOutcome(error="postgres: the source is down: start it and rerun", exit_code=3), 3)
    assert str(failure.value) == "postgres: the source is down: start it and rerun"
    assert failure.value.exit_code == 3


@pytest.mark.parametrize(
    ("returncode", "said"),
    [
        (-9, "was killed by SIGKILL (out of memory?)"),
        (-15, "was killed by SIGTERM"),
        (1, "exited with code 1"),
    ],
)
def test_a_child_that_died_without_an_outcome_fails_the_job_in_one_line(returncode: int, said: str) -> None:
    with pytest.raises(LoadProcessFailed) as failure:
        results_of(None, returncode)
    message = str(failure.value)
    assert said in message and "rerun `loaders run`" in message and "\n" not in message
    assert failure.value.exit_code == 2


def test_a_real_load_failing_in_the_child_is_one_line_and_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a real child process and a real load: no stack configured, so the load fails on its settings
    monkeypatch.setenv("LOCAL_STACK_DIR", str(tmp_path / "no-stack"))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    for name in ("POSTGRES_DSN", "CASSANDRA_HOSTS", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CASSANDRA_HOSTS", "127.0.0.1:1")  # nothing listens there
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    with warehouse_lock(warehouse), pytest.raises(LoadProcessFailed) as failure:
        load_in_own_process(warehouse, full_refresh=False)
    message = str(failure.value)
    assert "POSTGRES_DSN is not set" in message and "\n" not in message
    assert failure.value.exit_code != 0
    assert held_lock_fd(warehouse) is None  # the job's lock, released by the job only


# the job (here: a stand-in process) starts the load's process and is killed with SIGKILL
JOB_WITH_A_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1]])\n"
    "time.sleep(3600)\n"
)
CHILD_THAT_DIES_WITH_THE_JOB = (
    "import os, time\n"
    "from loaders.job.load_child import die_with_parent\n"
    "die_with_parent(os.getppid())\n"
    "print(os.getpid(), flush=True)\n"
    "time.sleep(3600)\n"
)


def test_the_load_process_dies_with_a_killed_job() -> None:
    job = subprocess.Popen(
        [sys.executable, "-c", JOB_WITH_A_CHILD, CHILD_THAT_DIES_WITH_THE_JOB],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert job.stdout is not None
        child = int(job.stdout.readline())
        assert _alive(child)
        os.kill(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
        for _ in range(600):  # the kernel signals it at once; bounded, never timed
            if not _alive(child):
                break
            time.sleep(0.1)
        assert not _alive(child), "the load's process outlived the killed job"
    finally:
        job.kill()
        job.wait(timeout=60)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has died (its parent, the killed job, no longer reaps it)


def test_the_jobs_own_process_imports_none_of_the_loads_libraries() -> None:
    # what the job imports to build, reconcile, publish and record (in a fresh interpreter: the
    # test process has imported everything); the load's libraries stay in the load's process
    code = (
        "import sys\n"
        "from loaders.cli import build_parser\n"
        "build_parser('run')\n"
        "import loaders.job.command, loaders.job.reconcile_step, loaders.job.publish, loaders.ops.job_run\n"
        "import loaders.ops.publish_monitoring, loaders.job.report\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in LOAD_LIBRARIES)))\n"
    ).replace("LOAD_LIBRARIES", repr({"pyarrow", "numpy", "dlt", "cassandra", "psycopg2", "pandas"}))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


def test_the_child_logs_as_the_job_does(tmp_path: Path) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.WARNING)
        assert "--verbose" not in child_command(full_refresh=True, outcome=tmp_path / "o")
        root.setLevel(logging.DEBUG)  # `loaders -v run`
        command = child_command(full_refresh=True, outcome=tmp_path / "o")
        assert "--verbose" in command and "--full-refresh" in command
        assert command[command.index("--parent") + 1] == str(os.getpid())
    finally:
        root.setLevel(level)
