"""stack/check_disk.sh: the preflight of `make setup` (the first step of `.ci/run`) and `make test` against a full disk.

It compares the free space of the project and of TMPDIR with what the caller needs; the real `df`
of this machine is the input, so the two thresholds are taken far below and far above it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "stack" / "check_disk.sh"


def check(need_gb: int, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), str(need_gb), "the test run"],
        env={**os.environ, "TMPDIR": str(tmpdir)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_enough_space_passes_silently(tmp_path: Path) -> None:
    done = check(0, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_too_little_space_is_one_line_naming_the_folder_and_the_fix(tmp_path: Path) -> None:
    free_gb = shutil.disk_usage(tmp_path).free // 2**30
    done = check(free_gb + 1_000_000, tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: the test run needs about {free_gb + 1_000_000} GB free, but ")
    assert " MB left: free some space (" in line and line.endswith("and run it again")
