"""loaders/job/peak_memory.py: the kernel's high-water marks, and the run summary's line."""

from __future__ import annotations

import subprocess
import sys

from loaders.job import peak_memory


def test_a_child_that_held_200_mb_shows_in_the_children_mark() -> None:
    before = peak_memory.children_peak_mb()
    holds = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"  # touch every page
    subprocess.run([sys.executable, "-c", holds], check=True)
    after = peak_memory.children_peak_mb()
    assert after >= 200 > before or before >= 200  # an earlier child of this process may be larger
    assert peak_memory.job_process_peak_mb() > 10  # this Python, with pytest loaded


def test_summary_names_the_load_process_and_the_phase_of_the_jobs_peak() -> None:
    peaks = {"load": 301.4, "build": 612.0, "freshness": 612.0, "docs": 640.2, "publish": 640.2}
    assert peak_memory.summary(peaks) == (
        "peak memory: load process 301 MB, job process 640 MB (reached by the end of docs)"
    )
    assert peak_memory.summary({"build": 500.0}) == (
        "peak memory: job process 500 MB (reached by the end of build)"
    )
    assert peak_memory.summary({}) == "peak memory: not measured"
