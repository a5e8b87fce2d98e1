"""The generator's collector settings: rarer young collections, the built world frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from datagen import gc_tuning


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@pytest.mark.usefixtures("restored_collector")
def test_young_collections_are_rarer_and_the_older_ratios_kept() -> None:
    gc.set_threshold(700, 10, 10)
    gc_tuning.collect_less_often()
    assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, 10, 10)
    assert gc.isenabled()


@pytest.mark.usefixtures("restored_collector")
def test_objects_built_before_the_freeze_are_out_of_the_collectors_reach() -> None:
    world = [{"user": i} for i in range(1_000)]
    before = gc.get_freeze_count()
    gc_tuning.freeze_built_objects()
    assert gc.get_freeze_count() >= before + len(world)
    assert not any(gc.is_tracked(item) and item in gc.get_objects() for item in world[:3])
