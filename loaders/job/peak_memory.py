"""Peak resident memory of the job's processes, per phase (``ops.runs.phase_peak_rss_mb``).

The kernel keeps each process's high-water mark of resident memory (``getrusage``:
``ru_maxrss``, KiB on Linux) and, for its children, the largest mark of those it waited for.
``loaders run`` reads them after each phase:

* ``load``: the load's own process (loaders/job/load_process.py), the children's mark;
* every other phase: the job's process, its mark when the phase ended. The mark never goes
  down, so the first phase that shows the job's peak is the one that reached it (dbt's
  build, with DuckDB's buffers, in practice).

These are the figures to hold against the 512 MB bound of a pod's memory limit.
"""

from __future__ import annotations

import resource
import sys

LOAD_PHASE = "load"


def _mb(max_rss: int) -> float:
    # Linux reports KiB; macOS bytes (development machines)
    return max_rss / (2**20 if sys.platform == "darwin" else 2**10)


def job_process_peak_mb() -> float:
    """The job process's own high-water mark so far, MB."""
    return round(_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), 1)


def children_peak_mb() -> float:
    """The largest high-water mark of the job's finished children (the load's process), MB."""
    return round(_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), 1)


def summary(peaks: dict[str, float]) -> str:
    """One line for the run's summary: the load's process and the job's, with the phase of its peak."""
    parts = []
    if LOAD_PHASE in peaks:
        parts.append(f"load process {peaks[LOAD_PHASE]:.0f} MB")
    job = {phase: mb for phase, mb in peaks.items() if phase != LOAD_PHASE}
    if job:
        top = max(job.values())
        first = next(phase for phase, mb in job.items() if mb == top)
        parts.append(f"job process {top:.0f} MB (reached by the end of {first})")
    return "peak memory: " + (", ".join(parts) if parts else "not measured")
