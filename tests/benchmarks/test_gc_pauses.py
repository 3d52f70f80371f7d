import gc

from benchmarks.gc_pauses import CollectionPauses


def test_collection_pauses_are_timed_per_generation_while_installed() -> None:
    with CollectionPauses() as pauses:
        gc.collect(2)
        gc.collect(0)
    gc.collect(2)  # after the block: not counted
    full = pauses.summary()
    assert full["count"] == 1 and full["total_ms"] >= 0 and full["max_ms"] == full["total_ms"]
    assert pauses.summary(0)["count"] >= 1
    assert all(seconds >= 0 for _, seconds in pauses.pauses)
