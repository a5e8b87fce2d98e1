"""Deterministic pause points for the crash tests (never active unless the variable is set).

``LOADERS_TEST_PAUSE_AT=<point>`` makes a run print ``LOADERS_TEST_PAUSED <point>``
to stderr and sleep at that point, so that a test can ``kill -9`` it there:

  extract   after the first batch of rows was handed to dlt (package half written)
  normalize after the first file of the package was normalized (others not yet)
  load      right after a load job committed in DuckDB, before dlt records it done
  complete  all jobs done, before the load is marked complete in _dlt_loads
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

POINTS = ("extract", "normalize", "load", "complete")
_paused: set[str] = set()


def pause_point() -> str | None:
    point = os.environ.get("LOADERS_TEST_PAUSE_AT", "").strip()
    return point if point in POINTS else None


def pause(point: str) -> None:
    if pause_point() != point or point in _paused:
        return
    _paused.add(point)
    print(f"LOADERS_TEST_PAUSED {point}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get("LOADERS_TEST_PAUSE_SECONDS", "3600")))


def install() -> None:
    """Hook the dlt steps that have no callback of their own (only when a pause point is set)."""
    point = pause_point()
    if point == "normalize":
        from dlt.normalize.items_normalizers import ArrowItemsNormalizer

        original_call = ArrowItemsNormalizer.__call__

        def normalized(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original_call(self, *args, **kwargs)
            pause("normalize")
            return result

        ArrowItemsNormalizer.__call__ = normalized  # type: ignore[method-assign]
    elif point == "load":
        from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob

        original_run = DuckDbCopyJob.run

        def ran(self: Any) -> None:
            original_run(self)
            pause("load")

        DuckDbCopyJob.run = ran  # type: ignore[method-assign]
    elif point == "complete":
        from dlt.load.load import Load

        original_complete = Load.complete_package

        def complete(self: Any, *args: Any, **kwargs: Any) -> Any:
            pause("complete")
            return original_complete(self, *args, **kwargs)

        Load.complete_package = complete  # type: ignore[method-assign]
