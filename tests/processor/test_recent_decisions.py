"""The monitor's buffer of recent decisions: labels find their transaction's score and decision,
in the labels' order, and only among the last ``capacity`` added, whether a decision waits in
the unsorted tail or was merged into the sorted part (``merge_rows`` 1: every add merges)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from processor.recent_decisions import RecentDecisions, id_keys

MERGES = pytest.mark.parametrize("merge_rows", [1, 3, 8_192])


def ids(*names: str) -> pa.Array:
    return pa.array(list(names), pa.string())


@MERGES
def test_labels_find_their_decisions_in_label_order(merge_rows: int) -> None:
    recent = RecentDecisions(capacity=10, merge_rows=merge_rows)
    recent.add(ids("c", "a", "b"), np.array([0.3, 0.1, 0.2]), np.array([True, False, False]))
    recent.add(ids("d"), np.array([0.4]), np.array([True]))
    found, scores, flagged = recent.find(ids("b", "zz", "d", "a", "c"))
    assert found.tolist() == [True, False, True, True, True]
    assert scores.tolist() == [0.2, 0.4, 0.1, 0.3]
    assert flagged.tolist() == [False, True, False, True]


@MERGES
def test_only_the_last_capacity_decisions_are_kept(merge_rows: int) -> None:
    recent = RecentDecisions(capacity=3, merge_rows=merge_rows)
    recent.add(ids("a", "b"), np.array([0.1, 0.2]), np.zeros(2, bool))
    recent.add(ids("c", "d"), np.array([0.3, 0.4]), np.zeros(2, bool))
    assert len(recent) == 3
    found, scores, _ = recent.find(ids("a", "b", "c", "d"))
    assert found.tolist() == [False, True, True, True]  # "a" was the oldest
    assert scores.tolist() == [0.2, 0.3, 0.4]


@MERGES
def test_chunked_ids_empty_batches_and_an_empty_buffer(merge_rows: int) -> None:
    recent = RecentDecisions(capacity=5, merge_rows=merge_rows)
    found, scores, flagged = recent.find(ids("a"))
    assert found.tolist() == [False] and len(scores) == len(flagged) == 0
    recent.add(ids(), np.zeros(0), np.zeros(0, bool))
    chunked = pa.chunked_array([ids("a"), ids("b")])
    recent.add(chunked, np.array([0.5, 0.6]), np.array([True, False]))
    found, scores, _ = recent.find(pa.chunked_array([ids("b", "a")]))
    assert found.tolist() == [True, True] and scores.tolist() == [0.6, 0.5]
    assert len(recent.find(ids())[0]) == 0


@MERGES
def test_the_same_id_twice_finds_the_first_decision(merge_rows: int) -> None:
    recent = RecentDecisions(capacity=5, merge_rows=merge_rows)
    recent.add(ids("a"), np.array([0.1]), np.array([False]))
    recent.add(ids("a"), np.array([0.9]), np.array([True]))
    _, scores, flagged = recent.find(ids("a"))
    assert scores.tolist() == [0.1] and flagged.tolist() == [False]


def test_keys_are_stable_and_distinct() -> None:
    names = [f"tx-{i:012d}" for i in range(50_000)]
    keys = id_keys(pa.array(names))
    assert keys.dtype == np.uint64 and len(np.unique(keys)) == len(names)
    assert np.array_equal(keys, id_keys(pa.array(names)))  # the same id, the same key


def test_a_long_run_keeps_exactly_the_last_capacity() -> None:
    recent = RecentDecisions(capacity=1_000, merge_rows=300)
    for batch in range(30):
        names = [f"t{batch}-{i}" for i in range(170)]
        recent.add(ids(*names), np.full(170, float(batch)), np.zeros(170, bool))
    assert len(recent) == 1_000
    assert recent.nbytes <= (1_000 + 300) * 25  # the skipped ones are dropped at each merge
    every = [f"t{b}-{i}" for b in range(30) for i in range(170)]
    found, scores, _ = recent.find(ids(*every))
    assert found.sum() == 1_000 and found[-1_000:].all()  # the newest 1,000, no more
    assert scores[-1] == 29.0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RecentDecisions(0)
