"""Progress lines for long work, on stderr (stdout keeps the results).

``Progress.step`` announces a phase; ``Progress.rows`` reports a running row
count at most every ``interval`` seconds per key, with the rate so far.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, prefix: str = "", stream: TextIO | None = None, interval: float = 2.0) -> None:
        self.prefix = prefix
        self.stream = stream
        self.interval = interval
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def _print(self, text: str) -> None:
        stream = self.stream or sys.stderr
        print(f"{self.prefix}{text}", file=stream, flush=True)

    def step(self, text: str) -> None:
        self._print(text)

    def rows(self, key: str, count: int, verb: str = "read") -> None:
        now = time.monotonic()
        started = self._started.setdefault(key, now)
        if now - self._last.get(key, started) < self.interval:
            return
        self._last[key] = now
        rate = count / max(now - started, 1e-9)
        self._print(f"{key}: {count:,} rows {verb} ({rate:,.0f} rows/s)")
