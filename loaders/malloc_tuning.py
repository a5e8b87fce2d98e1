"""Freed big blocks go back to the OS, not into RSS: glibc's mmap threshold held, Arrow on malloc.

glibc serves an allocation of 128 KiB or more with an mmap of its own and unmaps it when it
is freed, but only until the first such block is freed: it then raises the threshold to that
block's size (up to 32 MiB, the "dynamic mmap threshold") and serves the next big blocks from
the heaps of its arenas (one per thread allocating at the same time, up to 8 per CPU). A block
freed in the middle of an arena's heap stays there, resident. The loaders allocate big
short-lived blocks from several threads at once: libpq copies each COPY row into a block of
its own (a 1 MiB text: a 1 MiB block, in each stream's thread), pyarrow hands the parquet
pages to Python's file object as bytes. How much the arenas keep then depends on how the
threads happen to interleave: extracting 300 MiB of 1 MiB texts peaked at 412-449 MB here and
at 522 MB on a fresh CI machine of the same kind. With the threshold held, the same extract
peaks at the same figure every run (404 MB, before the read's batches were halved), at no
measurable CPU cost (2 M payments loaded: 5.6-6.4 s of CPU against 5.2-6.7 s).

``hold_mmap_threshold`` (called first by the ``loaders`` entry point) sets
``mallopt(M_MMAP_THRESHOLD, 128 KiB)`` in the running process, which also turns the dynamic
adjustment off, and exports ``MALLOC_MMAP_THRESHOLD_`` so that child processes start with it
(glibc reads it at start; the container image sets it too). A ``MALLOC_MMAP_THRESHOLD_``
already in the environment is kept: glibc applied it when the process started. On another C
library (musl, macOS) nothing is changed.

``use_system_memory_pool`` (called by every load, ``loaders.load.runner.make_pipeline``) makes
pyarrow allocate with that malloc too. Its default pool (mimalloc in pyarrow 26) keeps freed
segments until the thread that allocated them allocates again, and purges them after a delay:
the Cassandra loads held ~100 MB more with it, and what it holds depends on the threads' timing
again (a parquet writer's page buffers, the converted batches of the read streams). With the
system pool and the held threshold, every buffer of 128 KiB or more is unmapped when it is
freed, whatever the timing. ``ARROW_DEFAULT_MEMORY_POOL`` in the environment is kept.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 128 << 10  # glibc's own starting value, held
ENV_VARIABLE = "MALLOC_MMAP_THRESHOLD_"
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def hold_mmap_threshold() -> bool:
    """Hold glibc's mmap threshold (see the module docstring); True when it is held."""
    if os.environ.get(ENV_VARIABLE, "").strip():
        return True  # glibc read it at the process's start
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) != 1:
        return False
    os.environ[ENV_VARIABLE] = str(MMAP_THRESHOLD_BYTES)
    return True


def use_system_memory_pool() -> bool:
    """pyarrow allocates with malloc (see the module docstring); False when the environment chose a pool."""
    if os.environ.get(ARROW_POOL_VARIABLE, "").strip():
        return False
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    return True
