"""One writer on the warehouse at a time: an fcntl lock file beside it, held for the whole run.

``warehouse_lock(path, wait)`` is a context manager: a second process fails
fast with a one-line error naming the holder (or, with ``wait``, blocks until
the holder is done). The kernel releases the lock when its holder exits, even
on ``kill -9``, so a crashed run never leaves a stale lock behind.

The lock is re-entrant inside one process (``loaders run`` holds it for the
whole job and calls the load, which takes it again), and a child process can run
under its parent's lock: ``inherited_lock_env`` names the parent's locked file
descriptor, which the child receives (``pass_fds``). flock locks belong to the open
file, so the child's ``warehouse_lock`` re-locks that same open file (it cannot
be held by anyone else) instead of opening the lock file anew (which would wait for
its own parent), and never unlocks it: the parent does, when the job ends. A killed
parent or child cannot leave the lock behind: it goes when the last of them exits.
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
_fds: dict[str, int] = {}  # lock path -> the locked file descriptor, in this process
_guard = threading.Lock()
INHERITED_LOCK_FD = "LOADERS_WAREHOUSE_LOCK_FD"  # a child's inherited, locked descriptor


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


def held_lock_fd(warehouse: Path | str) -> int | None:
    """The locked descriptor of the warehouse's lock if this process holds it, else None."""
    with _guard:
        return _fds.get(str(lock_path(Path(warehouse).resolve())))


def inherited_lock_env(warehouse: Path | str) -> tuple[dict[str, str], int]:
    """For a child process that must write under this process's lock: the environment variable
    naming the locked descriptor, and the descriptor to pass it (``pass_fds``)."""
    fd = held_lock_fd(warehouse)
    if fd is None:
        raise RuntimeError(f"the lock of {warehouse} is not held by this process")
    return {INHERITED_LOCK_FD: str(fd)}, fd


def _inherited_fd(path: Path) -> int | None:
    """The descriptor of ``path`` that the parent passed, if it locked this very lock file."""
    value = os.environ.get(INHERITED_LOCK_FD, "").strip()
    if not value.isdigit():
        return None
    fd = int(value)
    try:
        mine, passed = os.stat(path), os.fstat(fd)
    except OSError:
        return None
    if (mine.st_dev, mine.st_ino) != (passed.st_dev, passed.st_ino):
        return None  # another warehouse's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the open file the parent locked: never blocks
    except OSError:
        return None  # not the parent's locked open file: lock as any other process
    return fd


@contextmanager
def _registered(key: str, fd: int) -> Iterator[None]:
    """This process holds the lock ``key`` through descriptor ``fd`` for the block (re-entry
    and ``held_lock_fd`` see it)."""
    with _guard:
        _held[key], _fds[key] = 1, fd
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
            _fds.pop(key, None)


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

    inherited = _inherited_fd(path)
    if inherited is not None:  # the parent's lock: held until the parent lets it go
        with _registered(key, inherited):
            yield path
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
        try:
            with _registered(key, fd):
                yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
