"""The sink state's saved form: the review budget's counts survive a snapshot and a log replay,
and state saved before the budget existed still loads."""

import numpy as np
import pyarrow as pa

from ml_model.features import FeatureConfig
from processor.decisions.budget import HOUR_MS
from processor.sink_state import SinkState, log_table
from processor.windows import WindowSpec

SPEC = WindowSpec(delay_ms=HOUR_MS)
T0 = 1_800_000_000_000


def transactions(n: int, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "card_id": pa.array([f"tok_{i % 7:016x}_0000" for i in range(n)]),
            "merchant_id": pa.array([f"m{i % 5}" for i in range(n)]),
            "amount": pa.array(rng.uniform(1, 100, n)),
            "event_ms": pa.array(T0 + np.sort(rng.integers(0, 3 * HOUR_MS, n))),
        }
    )
    return table, rng.uniform(0, 1, n), rng.random(n) < 0.3


def no_labels() -> pa.Table:
    return pa.table(
        {
            "transaction_id": pa.array([], pa.string()),
            "merchant_id": pa.array([], pa.string()),
            "event_ms": pa.array([], pa.int64()),
            "label_ms": pa.array([], pa.int64()),
            "is_fraud": pa.array([], pa.bool_()),
        }
    )


def live_batch(state: SinkState, seed: int) -> pa.Table:
    """What the sink does to the state for one batch, and the log it saves."""
    tx, scores, candidates = transactions(200, seed)
    state.features(tx, no_labels())
    state.scores.step(tx["event_ms"].to_numpy(), scores, candidates)
    fraud = (scores > 0.9).astype(np.int64)
    state.advance_windows(tx, fraud)
    return log_table(tx, fraud, no_labels(), scores, candidates)


def test_replaying_logs_and_restoring_a_snapshot_rebuild_the_budget_counts() -> None:
    config = FeatureConfig()
    live = SinkState.empty(config, SPEC)
    logs = [live_batch(live, seed) for seed in range(3)]
    replayed = SinkState.empty(config, SPEC)
    for logged in logs:
        replayed.replay(logged)
    assert replayed.scores.to_arrow().equals(live.scores.to_arrow())
    assert live.scores.totals.sum() == 600
    meta, tables = live.to_tables()
    restored = SinkState.from_tables(meta, tables)
    assert restored.scores.to_arrow().equals(live.scores.to_arrow())


def test_state_saved_before_the_budget_still_loads_and_replays() -> None:
    live = SinkState.empty(FeatureConfig(), SPEC)
    logged = live_batch(live, 0)
    meta, tables = live.to_tables()
    meta["sink_format"] = 3
    del tables["scores"]
    old = SinkState.from_tables(meta, tables)
    assert old.scores.totals.sum() == 0  # the budget starts counting afresh
    old.replay(logged.drop_columns(["score", "review_candidate"]))  # a log from before
    assert old.scores.totals.sum() == 0 and old.engine.stats.rows == 200  # the log applied
