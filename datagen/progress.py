"""Progress lines while tables are written, and the closing summary per store."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class TableStat:
    store: str
    table: str
    rows: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class TableReport:
    def __init__(self, stat: TableStat, stream: TextIO, every: float) -> None:
        self.stat = stat
        self.stream = stream
        self.every = every
        self.started = time.perf_counter()
        self.last_print = self.started

    def add(self, rows: int) -> None:
        self.stat.rows += rows
        now = time.perf_counter()
        if now - self.last_print >= self.every:
            self.last_print = now
            elapsed = now - self.started
            print(
                f"  {self.stat.store}.{self.stat.table}: {self.stat.rows:,} rows, {elapsed:.0f} s, "
                f"{self.stat.rows / elapsed:,.0f} rows/s",
                file=self.stream,
                flush=True,
            )


@dataclass
class Progress:
    """Per-table counters; progress goes to ``stream`` (stderr), the summary to stdout."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    every: float = 5.0
    quiet: bool = False
    stats: list[TableStat] = field(default_factory=list)

    def note(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def table(self, store: str, table: str) -> Iterator[TableReport]:
        stat = TableStat(store, table)
        self.stats.append(stat)
        report = TableReport(stat, self.stream, float("inf") if self.quiet else self.every)
        try:
            yield report
        finally:
            stat.seconds = time.perf_counter() - report.started
            if not self.quiet:
                print(
                    f"{store}.{table}: {stat.rows:,} rows in {stat.seconds:.1f} s ({stat.rate:,.0f} rows/s)",
                    file=self.stream,
                    flush=True,
                )

    def add(self, stats: list[TableStat]) -> None:
        """Tables another process wrote, for the summary."""
        self.stats.extend(stats)

    def summary(self) -> str:
        lines = []
        for store in dict.fromkeys(stat.store for stat in self.stats):
            stats = [stat for stat in self.stats if stat.store == store]
            width = max(len("table"), *(len(stat.table) for stat in stats))
            lines.append(f"{store}:")
            lines.append(f"  {'table':<{width}}  {'rows':>11}  {'seconds':>8}  {'rows/s':>9}")
            for stat in stats:
                lines.append(
                    f"  {stat.table:<{width}}  {stat.rows:>11,}  {stat.seconds:>8.1f}  {stat.rate:>9,.0f}"
                )
            rows = sum(stat.rows for stat in stats)
            seconds = sum(stat.seconds for stat in stats)
            rate = rows / seconds if seconds else 0.0
            lines.append(f"  {'total':<{width}}  {rows:>11,}  {seconds:>8.1f}  {rate:>9,.0f}")
        return "\n".join(lines)
