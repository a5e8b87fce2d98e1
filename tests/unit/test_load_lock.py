"""The warehouse lock: one writer, fail fast or wait, re-entrant in one process, gone with its holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loaders.load.lock import WarehouseBusy, lock_path, warehouse_lock

HOLD = textwrap.dedent(
    """
    import pathlib, sys, time
    from loaders.load.lock import warehouse_lock
    with warehouse_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
        pathlib.Path(sys.argv[1] + ".released").touch()  # still inside the lock: written before its release
    """
)


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    proc = hold(warehouse, 30)
    try:
        with pytest.raises(WarehouseBusy) as failure, warehouse_lock(warehouse):
            pass
        assert proc.poll() is None  # refused while the holder still holds it: it did not wait
        message = str(failure.value)
        assert f"pid {proc.pid}" in message and "--wait" in message and "\n" not in message
    finally:
        proc.kill()
        proc.wait()


def test_wait_queues_behind_the_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    proc = hold(warehouse, 1.5)
    with warehouse_lock(warehouse, wait=True):
        assert Path(f"{warehouse}.released").exists()  # got only once the holder let go
    proc.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    proc = hold(warehouse, 60)
    proc.kill()
    proc.wait()
    with warehouse_lock(warehouse):
        assert lock_path(warehouse.resolve()).exists()


def test_reentrant_in_one_process(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with warehouse_lock(warehouse):
        with warehouse_lock(warehouse):
            pass
        # still held by the outer block: another process fails
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from loaders.load.lock import warehouse_lock\n"
                "try:\n with warehouse_lock(sys.argv[1]): print('got it')\nexcept Exception as e: print(type(e).__name__)",
                str(warehouse),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.strip() == "WarehouseBusy"
    with warehouse_lock(warehouse):
        pass
