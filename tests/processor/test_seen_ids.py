"""The sink's sets of ids seen: exactly a Python set's answers within the window, across the
merges of its sorted parts and a save and load."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from processor.seen_ids import SeenIds

WINDOW = 1_000


def test_the_first_of_repeats_is_admitted_and_later_deliveries_are_not() -> None:
    seen = SeenIds(WINDOW)
    fresh = seen.admit(pa.array(["a", "bb", "a", "c"]), np.array([5, 6, 5, 7]))
    assert fresh.tolist() == [True, True, False, True]
    assert seen.admit(pa.array(["a", "dd"]), np.array([8, 9])).tolist() == [False, True]
    assert len(seen) == 4
    assert seen.admit(pa.array([], pa.string()), np.array([], np.int64)).tolist() == []


def test_ids_older_than_the_window_are_late_and_forgotten() -> None:
    seen = SeenIds(WINDOW)
    seen.admit(pa.array(["old", "new"]), np.array([0, 2_000]))
    assert seen.late(np.array([999, 1_000, 5_000])).tolist() == [True, False, False]
    assert len(seen) == 1  # "old" is past the window of the newest, 2,000


@pytest.mark.parametrize("seed", range(4))
def test_random_deliveries_match_a_python_set(seed: int) -> None:
    # Deliveries drawn from a small pool (many repeats), times moving forward with jitter; a
    # late delivery is the caller's to drop, as the sink does, so the set never sees one.
    rng = np.random.default_rng(seed)
    seen, oracle = SeenIds(WINDOW), {}
    newest = None
    for batch in range(60):
        n = int(rng.integers(0, 400))
        ids = rng.integers(0, 3_000, n)
        ms = batch * 100 + rng.integers(-300, 300, n)
        if newest is not None:
            on_time = ms >= newest - WINDOW
            assert (~seen.late(ms) == on_time).all()
            ids, ms = ids[on_time], ms[on_time]
        names = [f"tx-{i}" for i in ids]
        expected = []
        for name, t in zip(names, ms.tolist(), strict=True):
            known = name in oracle and oracle[name] >= (newest or t) - WINDOW
            expected.append(not known)
            if not known:
                oracle[name] = t
        assert seen.admit(pa.array(names, pa.string()), ms).tolist() == expected
        if len(ms):
            newest = max(newest or int(ms.max()), int(ms.max()))
        if batch % 20 == 19:  # a save and load between batches changes nothing
            seen = SeenIds.from_arrow(seen.to_arrow(), WINDOW, seen.newest_ms)


def test_the_saved_form_is_compact_and_the_older_string_form_still_loads() -> None:
    seen = SeenIds(WINDOW)
    seen.admit(pa.array(["tx-1", "tx-22"]), np.array([10, 20]))
    saved = seen.to_arrow()
    assert saved.schema.field("transaction_id").type == pa.binary(5)  # no object per id
    older = pa.table({"transaction_id": ["tx-1", "tx-22"], "label_ms": [10, 20]})  # format <= 5
    for table in (saved, older):
        loaded = SeenIds.from_arrow(table, WINDOW, 20)
        assert loaded.admit(pa.array(["tx-22", "tx-3"]), np.array([20, 30])).tolist() == [
            False,
            True,
        ]
    nothing = SeenIds.from_arrow(saved.slice(0, 0), WINDOW, None)
    assert not nothing.late(np.array([-(10**15)])).any()  # nothing seen: nothing is late yet
