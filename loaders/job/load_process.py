"""The job's load step in a process of its own, so that its memory goes back to the system.

``loaders run`` loads the sources, then builds with dbt in its own process. Run in the job's
process, the load left about 120 MB resident there (dlt, pyarrow, the Cassandra driver and
libpq with their caches and arenas), under which dbt's build then peaked: the job's peak RSS
was the build's plus that. A process that exits gives all of it back.

``load_in_own_process`` runs ``python -m loaders.job.load_child`` under the job's warehouse
lock (the child receives the locked descriptor: ``loaders/load/lock.py``), with the job's
environment and output, and returns the load's per-table results. The child sends them back
as one pickled ``LoadOutcome`` in a file that only the two of them know (its own output goes to
the job's log as before). A load that fails in the child fails the job with the child's one
line and exit code; a child that dies without an outcome (killed, out of memory) fails it
with one line saying so. The child is killed with its parent (Linux: ``PR_SET_PDEATHSIG``), as
the load was when it ran inside the job; dlt resumes or discards what it left, on the next run.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from loaders.errors import UserError
from loaders.load.results import SourceResult

OUTCOME_FILE = "outcome.pickle"


@dataclass
class LoadOutcome:
    """What the child sends back: the results, or the one-line error and its exit code."""

    results: list[SourceResult] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0


class LoadProcessFailed(UserError):
    """The load's process failed: its one line and exit code, or how it died."""


def child_command(*, full_refresh: bool, outcome: Path) -> list[str]:
    """The child's command line (the same interpreter as the job's)."""
    return [
        sys.executable,
        "-m",
        "loaders.job.load_child",
        "--outcome",
        str(outcome),
        "--parent",
        str(os.getpid()),
        *(["--full-refresh"] if full_refresh else []),
        *(["--verbose"] if logging.getLogger().isEnabledFor(logging.DEBUG) else []),  # `loaders -v run`
    ]


def load_in_own_process(warehouse: Path, *, full_refresh: bool) -> list[SourceResult]:
    """Load PostgreSQL and Cassandra in a child process under this process's warehouse lock."""
    from loaders.load.lock import inherited_lock_env

    lock_env, lock_fd = inherited_lock_env(warehouse)
    with tempfile.TemporaryDirectory(prefix="loaders-load-") as folder:
        outcome_path = Path(folder) / OUTCOME_FILE
        sys.stdout.flush()  # the child writes to the same output: keep the lines in order
        sys.stderr.flush()
        child = subprocess.run(
            child_command(full_refresh=full_refresh, outcome=outcome_path),
            env={**os.environ, **lock_env},
            pass_fds=(lock_fd,),
            check=False,
        )
        outcome = read_outcome(outcome_path)
    return results_of(outcome, child.returncode)


def read_outcome(path: Path) -> LoadOutcome | None:
    """The child's outcome; None when it wrote none (it died first) or not a whole one."""
    try:
        with path.open("rb") as handle:
            outcome = pickle.load(handle)  # written by our own child, in our own private folder
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    return outcome if isinstance(outcome, LoadOutcome) else None


def results_of(outcome: LoadOutcome | None, returncode: int) -> list[SourceResult]:
    """The load's results, or the child's failure as one line (UserError, its exit code)."""
    if outcome is not None and outcome.error is None and returncode == 0:
        return outcome.results
    if outcome is not None and outcome.error is not None:
        failed = LoadProcessFailed(outcome.error)
        failed.exit_code = outcome.exit_code or 2
        raise failed
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        how = f"was killed by {name}" + (" (out of memory?)" if -returncode == signal.SIGKILL else "")
    else:
        how = f"exited with code {returncode} without a result"
    raise LoadProcessFailed(
        f"load failed: its process {how}; nothing lost (dlt resumes or discards its packages "
        "on the next run): rerun `loaders run`"
    )


def write_outcome(path: Path, outcome: LoadOutcome) -> None:
    """Write the outcome whole or not at all (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        pickle.dump(outcome, handle)
    os.replace(partial, path)
