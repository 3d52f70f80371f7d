"""The batch sink's driver state: saved per batch at the cost of what the batch changed, and
restored exactly for a re-run of any batch; labels remembered for one watermark of label time."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pyarrow.ipc as ipc
import pytest

from fraudstream.settings import load_settings
from ml_model.features import FeatureConfig
from processor.driver_state import DriverStateStore
from processor.sink_state import SinkState, SinkStateStore, parse_window_key, window_key
from processor.windows import Decided, WindowSpec

MIN = 60_000
SPEC = WindowSpec(size_ms=10 * MIN, slide_ms=5 * MIN, delay_ms=10 * MIN)
CONFIG = FeatureConfig()


def batch(state: SinkState, number: int, rng: random.Random) -> None:
    """What one micro-batch does to the state: transactions (merchant counts and windows,
    which close as event time moves on) and labels for some of them, a few delivered twice."""
    decided = []
    for i in range(30):
        ms = number * 3 * MIN + rng.randrange(3 * MIN)
        merchant = f"m{rng.randrange(8)}"
        state.add_transaction(merchant, ms)
        decided.append(Decided(f"c{rng.randrange(50)}", merchant, ms, 10.0 + i, "approve"))
    state.windows.advance(decided)
    for tx in decided[:5] + decided[:2]:  # two labels delivered twice
        label_ms = tx.event_ms + 2 * MIN
        state.add_label(f"t{tx.event_ms}", tx.merchant_id, tx.event_ms, label_ms, number % 2 == 0)
    state.forget_old_labels()


def test_every_batch_restores_exactly_from_deltas_and_snapshots(tmp_path: Path) -> None:
    store = SinkStateStore(str(tmp_path / "state"), load_settings(), max_deltas=3)
    state = SinkState.empty(CONFIG, SPEC)
    rng = random.Random(7)
    for number in range(12):
        before = copy.deepcopy(state)
        batch(state, number, rng)
        store.save(number, state)
        assert store.load_before(number, CONFIG, SPEC) == before  # a crash: re-run it
        assert store.load_before(number + 1, CONFIG, SPEC) == state  # the next batch
    assert state.windows.open and state.merchants and state.labels.last_ms
    windows = {p.name[:5] for p in (tmp_path / "state" / "windows").iterdir()}
    assert windows == {"full-", "delta"}
    # A restored state goes on exactly as the one that never stopped.
    restored = store.load_before(12, CONFIG, SPEC)
    batch(state, 12, random.Random(1))
    batch(restored, 12, random.Random(1))
    assert restored == state


def test_a_batch_saves_only_what_it_changed(tmp_path: Path) -> None:
    store = SinkStateStore(str(tmp_path), load_settings())
    state = SinkState.empty(CONFIG, SPEC)
    for merchant in range(50):
        state.add_transaction(f"m{merchant}", MIN)
    store.save(0, state)
    state.add_transaction("m7", 2 * MIN)
    store.save(1, state)
    delta = (tmp_path / "merchants" / "delta-000000000001.arrow").read_bytes()
    assert ipc.open_file(delta).read_all()["key"].to_pylist() == ["m7"]
    assert not list((tmp_path / "windows").iterdir())  # no window touched: nothing written
    assert store.load_before(2, CONFIG, SPEC) == state


def test_labels_are_remembered_for_one_watermark_of_label_time() -> None:
    state = SinkState.empty(CONFIG, SPEC)
    assert state.add_label("t1", "m", 0, 1 * MIN, True)
    assert not state.add_label("t1", "m", 0, 3 * MIN, True)  # redelivered: applied once
    assert state.add_label("t2", "m", 0, 5 * MIN, False)
    assert state.forget_old_labels() == 0  # t1 is 4 min older than the newest: within 10
    state.add_label("t3", "m", 0, 20 * MIN, False)
    assert state.forget_old_labels() == 2
    assert set(state.labels.last_ms) == {"t3"}
    assert state.merchants["m"].frauds == [1]  # the duplicate did not count


def test_a_snapshot_of_the_previous_format_is_converted(tmp_path: Path) -> None:
    """Checkpoints written before the keyed stores (one JSON with every part) resume."""
    old = SinkState.empty(CONFIG, SPEC)
    batch(old, 0, random.Random(3))
    legacy = {
        "merchants": {k: v.to_dict() for k, v in old.merchants.items()},
        "windows": old.windows.to_dict(),
        "labels_seen": old.labels.last_ms,
    }
    DriverStateStore(str(tmp_path), load_settings()).save(0, legacy)
    store = SinkStateStore(str(tmp_path), load_settings())
    converted = store.load_before(1, CONFIG, SPEC)
    assert converted.merchants == old.merchants
    assert converted.windows.open == old.windows.open
    assert converted.labels.last_ms == old.labels.last_ms
    store.save(1, converted)  # written whole, in the keyed form
    assert {p.name for p in (tmp_path / "windows").iterdir()} == {"full-000000000001.arrow"}
    again = store.load_before(2, CONFIG, SPEC)
    assert again.windows.open == old.windows.open and again.merchants == old.merchants


@pytest.mark.parametrize("entity", ["c1", "tok:with:colons", ""])
def test_window_keys_round_trip_whatever_the_entity_id(entity: str) -> None:
    key = ("merchant", entity, 1_700_000_000_000)
    assert parse_window_key(window_key(key)) == key
