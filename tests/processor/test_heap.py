from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from processor.heap import FreezeAfterStartUp
from processor.metrics import BatchSummary


def summary(batch_id: int, rows: int) -> BatchSummary:
    return BatchSummary(batch_id, rows, {}, {}, 0.1, None, None, None)


@pytest.fixture
def thawed() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (the freeze is process-wide)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("thawed")
def test_the_heap_is_frozen_once_after_the_first_batch_with_rows() -> None:
    seen: list[int] = []
    freeze = FreezeAfterStartUp(lambda s: seen.append(s.batch_id))
    freeze(summary(0, rows=0))  # the empty first batch: start-up is not over
    assert gc.get_freeze_count() == 0 and not freeze.frozen
    freeze(summary(1, rows=20))
    frozen = gc.get_freeze_count()
    assert freeze.frozen and frozen > 1000  # at least this test process's modules
    later = [[n] for n in range(5000)]  # made after start-up: not frozen by later batches
    freeze(summary(2, rows=20))
    # Not frozen again (that would add the 5,000 lists); frozen objects that other threads
    # (py4j, a sink's thread pools) let go of meanwhile may make the count a little smaller.
    assert gc.get_freeze_count() <= frozen and later
    assert seen == [0, 1, 2]  # every batch still reaches the wrapped callback


@pytest.mark.usefixtures("thawed")
def test_without_a_callback_it_only_freezes() -> None:
    FreezeAfterStartUp()(summary(0, rows=1))
    assert gc.get_freeze_count() > 0
