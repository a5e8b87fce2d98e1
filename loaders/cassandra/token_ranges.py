"""Split the Murmur3 token ring into contiguous ranges that cover it exactly once.

Murmur3 tokens are signed 64-bit integers. The ring is ``[MIN_TOKEN, MAX_TOKEN]``;
Cassandra never assigns ``MIN_TOKEN`` to a partition, but the first range includes
it anyway (``token >= MIN_TOKEN``) so that no row can be missed. Every other range is
half-open on the left, ``start < token <= end``, as Cassandra's own ranges are.

A cluster's token ranges wrap around (the range after the highest node token ends at
the lowest one); rather than special-casing the wrap, the node tokens are used as
cut points on the linear ring, so the wrapping range becomes two pieces: one ending
at ``MAX_TOKEN`` and one starting at ``MIN_TOKEN``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1
RING_SIZE = 2**64  # number of distinct tokens, MIN_TOKEN included


@dataclass(frozen=True, order=True)
class TokenRange:
    """``start < token <= end``, or ``start <= token <= end`` when ``start_inclusive``."""

    start: int
    end: int
    start_inclusive: bool = False

    def __post_init__(self) -> None:
        if not MIN_TOKEN <= self.start <= self.end <= MAX_TOKEN:
            raise ValueError(f"bad token range {self.start}..{self.end}")
        if self.start == self.end and not self.start_inclusive:
            raise ValueError(f"empty token range ({self.start}, {self.end}]")

    def __contains__(self, token: int) -> bool:
        if self.start_inclusive:
            return self.start <= token <= self.end
        return self.start < token <= self.end

    @property
    def width(self) -> int:
        """Number of tokens in the range."""
        return self.end - self.start + (1 if self.start_inclusive else 0)

    @property
    def operator(self) -> str:
        """The CQL comparison for the start bound: ``>=`` or ``>``."""
        return ">=" if self.start_inclusive else ">"


def cut_points(n_splits: int, node_tokens: Iterable[int] = ()) -> list[int]:
    """Sorted distinct interior cut points (each ends a range): node tokens plus even splits.

    Each node range ``(t_i, t_{i+1}]`` (and the wrapping one) is cut into a number of
    pieces proportional to its width so that the whole ring has about ``n_splits``
    pieces, and no piece spans two node ranges (so each piece has one replica set).
    """
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    nodes = sorted({int(t) for t in node_tokens})
    for token in nodes:
        if not MIN_TOKEN <= token <= MAX_TOKEN:
            raise ValueError(f"token {token} is outside the Murmur3 ring")
    # Boundaries of the linear ring's segments: [MIN, n1], (n1, n2], ..., (nk, MAX].
    bounds = [MIN_TOKEN - 1] + [t for t in nodes if t != MAX_TOKEN] + [MAX_TOKEN]
    points: set[int] = set()
    for lower, upper in itertools.pairwise(bounds):
        width = upper - lower  # tokens in (lower, upper]
        pieces = max(1, round(n_splits * width / RING_SIZE))
        for i in range(1, pieces):
            point = lower + width * i // pieces
            if lower < point < upper:
                points.add(point)
        points.add(upper)
    points.discard(MAX_TOKEN)
    return sorted(points)


def split_ring(n_splits: int, node_tokens: Iterable[int] = ()) -> list[TokenRange]:
    """Contiguous ranges covering ``[MIN_TOKEN, MAX_TOKEN]`` exactly once, in ring order."""
    ends = [*cut_points(n_splits, node_tokens), MAX_TOKEN]
    ranges: list[TokenRange] = []
    start = MIN_TOKEN
    for end in ends:
        ranges.append(TokenRange(start, end, start_inclusive=not ranges))
        start = end
    return ranges


def default_split_count(parallelism: int, node_ranges: int, per_worker: int = 16) -> int:
    """``max(parallelism * per_worker, node ranges)``: enough pieces to balance the workers."""
    return max(1, parallelism * per_worker, node_ranges)
