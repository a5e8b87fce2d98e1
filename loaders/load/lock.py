"""One writer on the warehouse at a time: an fcntl lock file beside it, held for the whole run.

``warehouse_lock(path, wait)`` is a context manager: a second process fails
fast with a one-line error naming the holder (or, with ``wait``, blocks until
the holder is done). The kernel releases the lock when its holder exits, even
on ``kill -9``, so a crashed run never leaves a stale lock behind.

The lock is re-entrant inside one process (``loaders run`` holds it for the
whole job and calls the load, which takes it again).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loaders.errors import UserError

_held: dict[str, int] = {}  # lock path -> depth, in this process
_guard = threading.Lock()


class WarehouseBusy(UserError):
    """Another run holds the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"
    return text or "another process"


@contextmanager
def warehouse_lock(warehouse: Path | str, wait: bool = False) -> Iterator[Path]:
    """Hold the warehouse's write lock for the duration of the block."""
    path = lock_path(Path(warehouse).resolve())
    key = str(path)
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _guard:
                _held[key] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise WarehouseBusy(
                    f"the warehouse {warehouse} is being written by {_holder(path)}: "
                    "wait for it to finish, or rerun with --wait to queue behind it"
                ) from None
            print(f"waiting for the warehouse lock held by {_holder(path)} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))
        os.write(fd, f"pid {os.getpid()} ({command}) since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        with _guard:
            _held[key] = 1
        try:
            yield path
        finally:
            with _guard:
                _held.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
