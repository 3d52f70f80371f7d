from __future__ import annotations

import gc
import json

import pytest

from processor.windows import Decided, WindowSpec, WindowState

MIN = 60_000
SPEC = WindowSpec(size_ms=10 * MIN, slide_ms=5 * MIN, delay_ms=10 * MIN)


def tx(
    minute: float,
    amount: float = 10.0,
    decision: str = "approve",
    card: str = "c1",
    merchant: str = "m1",
) -> Decided:
    return Decided(card, merchant, int(minute * MIN), amount, decision)


def test_each_event_lands_in_two_sliding_windows() -> None:
    assert list(SPEC.starts(12 * MIN)) == [5 * MIN, 10 * MIN]
    assert list(SPEC.starts(10 * MIN)) == [5 * MIN, 10 * MIN]
    assert list(SPEC.starts(9 * MIN + 59_999)) == [0, 5 * MIN]


def test_windows_close_only_when_the_watermark_passes_their_end() -> None:
    state = WindowState(spec=SPEC)
    closed, late = state.advance([tx(1, 10), tx(3, 30, "block"), tx(6, 5, card="c2")])
    assert closed == [] and late == 0
    closed, _ = state.advance([tx(19, 1)])  # watermark 9 min: only [-5, 5) has ended
    assert {(r["entity_type"], r["window_start_ms"], r["tx_count"]) for r in closed} == {
        ("card", -5 * MIN, 2),
        ("merchant", -5 * MIN, 2),
    }
    closed, _ = state.advance([tx(20, 1)])  # watermark 10 min: [0, 10) closes
    assert {(r["entity_type"], r["entity_id"]) for r in closed} == {
        ("card", "c1"),
        ("card", "c2"),
        ("merchant", "m1"),
    }
    merchant = next(r for r in closed if r["entity_type"] == "merchant")
    assert merchant == {
        "entity_type": "merchant",
        "entity_id": "m1",
        "window_start_ms": 0,
        "window_end_ms": 10 * MIN,
        "tx_count": 3,
        "amount_sum": 45.0,
        "amount_max": 30.0,
        "fraud_decisions": 1,
    }
    again, _ = state.advance([])
    assert again == []  # emitted once


def test_late_rows_are_counted_not_aggregated() -> None:
    state = WindowState(spec=SPEC)
    state.advance([tx(40)])  # watermark becomes 30 min
    closed, late = state.advance([tx(12, 99.0)])  # both of its windows ended before 30 min
    assert late == 2 and all(r["amount_max"] != 99.0 for r in closed)


def test_state_round_trips_and_replays_identically() -> None:
    batches = [[tx(1), tx(2, 20, "review")], [tx(8, card="c9")], [tx(31)]]
    first = WindowState(spec=SPEC)
    outputs = [first.advance(b) for b in batches[:2]]
    saved = json.loads(json.dumps(first.to_dict()))
    resumed = WindowState.from_dict(saved, SPEC)
    assert resumed.advance(batches[2]) == first.advance(batches[2])
    assert outputs[0] == ([], 0)


def test_open_windows_cost_the_garbage_collector_nothing() -> None:
    """Totals are replaced, not mutated, so the collector untracks them: a driver with many
    open windows pays nothing for them in each full collection."""
    state = WindowState(spec=SPEC)
    state.advance([tx(1, 10), tx(2, 20, "block"), tx(3, 5, card="c2")])  # updates in place
    resumed = WindowState.from_dict(json.loads(json.dumps(state.to_dict())), SPEC)
    gc.collect()
    for windows in (state, resumed):
        assert windows.open[("card", "c1", 0)] == (2.0, 30.0, 20.0, 1.0)
        assert not any(gc.is_tracked(totals) for totals in windows.open.values())
        assert not any(gc.is_tracked(key) for key in windows.open)


def test_bad_spec() -> None:
    with pytest.raises(ValueError, match="multiple"):
        WindowSpec(size_ms=10, slide_ms=3)
    with pytest.raises(ValueError, match="delay"):
        WindowSpec(delay_ms=-1)
