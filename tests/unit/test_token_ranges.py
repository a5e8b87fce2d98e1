"""The token-range split covers the Murmur3 ring exactly once: no gap, no overlap, min token included."""

from __future__ import annotations

import itertools
import random

import pytest

from loaders.cassandra.token_ranges import (
    MAX_TOKEN,
    MIN_TOKEN,
    RING_SIZE,
    TokenRange,
    default_split_count,
    split_ring,
)


def assert_exact_cover(ranges: list[TokenRange]) -> None:
    assert ranges, "no ranges"
    first = ranges[0]
    assert first.start == MIN_TOKEN and first.start_inclusive, "the first range must include MIN_TOKEN"
    assert ranges[-1].end == MAX_TOKEN
    for previous, current in itertools.pairwise(ranges):
        assert current.start == previous.end, f"gap or overlap between {previous} and {current}"
        assert not current.start_inclusive, f"{current} would repeat token {current.start}"
        assert current.end > current.start
    assert sum(r.width for r in ranges) == RING_SIZE


def owner_count(ranges: list[TokenRange], token: int) -> int:
    return sum(token in r for r in ranges)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 32, 100, 1000])
def test_even_split_covers_the_ring_exactly_once(n: int) -> None:
    ranges = split_ring(n)
    assert_exact_cover(ranges)
    assert len(ranges) == n


def test_single_range_is_the_whole_ring() -> None:
    assert split_ring(1) == [TokenRange(MIN_TOKEN, MAX_TOKEN, start_inclusive=True)]


@pytest.mark.parametrize("seed", range(20))
def test_split_on_node_tokens_covers_the_ring_and_respects_node_ranges(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [rng.randint(MIN_TOKEN, MAX_TOKEN) for _ in range(rng.randint(1, 300))]
    n = rng.randint(1, 500)
    ranges = split_ring(n, nodes)
    assert_exact_cover(ranges)
    assert len(ranges) >= len(set(nodes))
    ends = {r.end for r in ranges}
    assert set(nodes) <= ends | {MAX_TOKEN}, "every node token must end a range (one replica set per range)"


def test_extreme_node_tokens() -> None:
    for nodes in (
        [MIN_TOKEN],
        [MAX_TOKEN],
        [MIN_TOKEN, MAX_TOKEN],
        [MIN_TOKEN, MIN_TOKEN + 1, 0, MAX_TOKEN - 1],
    ):
        ranges = split_ring(4, nodes)
        assert_exact_cover(ranges)


@pytest.mark.parametrize("token", [MIN_TOKEN, MIN_TOKEN + 1, -1, 0, 1, MAX_TOKEN - 1, MAX_TOKEN])
@pytest.mark.parametrize("nodes", [[], [0], [MIN_TOKEN], [MAX_TOKEN], [-5, 0, 5]])
def test_every_boundary_token_has_exactly_one_owner(token: int, nodes: list[int]) -> None:
    ranges = split_ring(8, nodes)
    assert owner_count(ranges, token) == 1
    assert owner_count(ranges, token) == 1


def test_random_tokens_have_exactly_one_owner() -> None:
    rng = random.Random(7)
    nodes = [rng.randint(MIN_TOKEN, MAX_TOKEN) for _ in range(16)]
    ranges = split_ring(64, nodes)
    for _ in range(2000):
        assert owner_count(ranges, rng.randint(MIN_TOKEN, MAX_TOKEN)) == 1
    for r in ranges:  # the bounds themselves: end is in, start is in only for the first
        assert owner_count(ranges, r.end) == 1
        assert owner_count(ranges, r.start) == 1


def test_wrapping_node_range_is_cut_at_the_ring_ends() -> None:
    # One node owning (100, 100] wraps: everything. The cut at 100 splits it in two pieces.
    ranges = split_ring(1, [100])
    assert ranges == [TokenRange(MIN_TOKEN, 100, start_inclusive=True), TokenRange(100, MAX_TOKEN)]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        split_ring(0)
    with pytest.raises(ValueError):
        split_ring(4, [MAX_TOKEN + 1])
    with pytest.raises(ValueError):
        TokenRange(5, 5)


def test_operator_and_default_split_count() -> None:
    assert TokenRange(MIN_TOKEN, 0, True).operator == ">="
    assert TokenRange(0, 10).operator == ">"
    assert default_split_count(2, 16) == 32
    assert default_split_count(2, 256) == 256
