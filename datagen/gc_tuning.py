"""Python's cyclic garbage collector, tuned for a process that makes and drops millions of rows.

The generator allocates a tuple, a UUID and often a dict per row, then a list of serialised
values per row and a batch per partition group, and drops them a chunk later. With the default
thresholds (a young collection every 700 net allocations, an old one whenever the survivors
grew by a quarter) the collector ran thousands of times per table and kept walking the world
built in memory (users, groups, outings: millions of objects at scale 10), none of which is
ever garbage. ``datagen --scale 1 --reset`` on this machine (2026-12-04, idle, alternated): the
generator's processes used 65.2-65.7 s of CPU (wall 63.1 s) with the defaults, 45.5 s (52.7 s)
with the young threshold at 50,000, 46.1-46.4 s with the world frozen too; with both and the
unrolled row encoder (``cassandra_store.row_encoder``), 42.6-43.7 s (49.3-49.6 s) against
61.9 s (60.2 s) for the commit before them.

The collector stays on: the Cassandra driver's futures and callbacks form reference cycles,
and with it disabled the same run peaked at 1,181 MB instead of 282 MB.
"""

from __future__ import annotations

import gc

# Net allocations between two young collections (CPython's default: 700); the older
# generations keep their default ratios to it.
YOUNG_THRESHOLD = 50_000


def collect_less_often() -> None:
    """Collect every YOUNG_THRESHOLD net allocations instead of every 700."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_built_objects() -> None:
    """Move every object alive now out of the collector's reach (it is never garbage).

    Called once the world is built and before the writer processes fork: the children then
    never touch those objects' collector headers either, so their pages stay shared.
    """
    gc.freeze()
