"""``python -m loaders.job.load_child``: the job's load, in the process ``load_process`` starts.

It runs under the job's warehouse lock (the descriptor it was passed), dies with the job, and
writes its ``LoadOutcome`` (results, or the one-line error and exit code) for the job to read.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
from pathlib import Path

from loaders.errors import UserError
from loaders.job.load_process import LoadOutcome, write_outcome

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies (the job's kill -9 stops the load too)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call
        os.kill(os.getpid(), signal.SIGKILL)


def run_child(*, full_refresh: bool) -> LoadOutcome:
    """The load as ``loaders run`` runs it, its errors as the job's one line."""
    from loaders.load.command import load_all
    from loaders.load.errors import user_error
    from loaders.settings import warehouse_path

    try:
        return LoadOutcome(load_all(sources=["postgres", "cassandra"], full_refresh=full_refresh))
    except UserError as exc:
        return LoadOutcome(error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:
        failed = user_error(exc, "load", "loaders run", str(warehouse_path()))
        return LoadOutcome(error=str(failed), exit_code=failed.exit_code)


def main(argv: list[str] | None = None) -> int:
    from loaders.malloc_tuning import hold_mmap_threshold

    hold_mmap_threshold()
    parser = argparse.ArgumentParser(description="loaders run's load step (started by loaders run only)")
    parser.add_argument("--outcome", type=Path, required=True, help="where to write the pickled LoadOutcome")
    parser.add_argument(
        "--parent", type=int, required=True, help="the job's process id (this one dies with it)"
    )
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="debug logging (`loaders -v run`)")
    args = parser.parse_args(argv)
    logging.basicConfig(  # as loaders/cli.py configures the job's own process
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    die_with_parent(args.parent)
    outcome = run_child(full_refresh=args.full_refresh)
    write_outcome(args.outcome, outcome)
    return 0 if outcome.error is None else outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
