"""The sink state's saved form: the review budget's counts survive a snapshot and a log replay,
and state saved before the budget existed still loads."""

from pathlib import Path

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


def with_ids(table: pa.Table, first: int) -> pa.Table:
    ids = [f"tx-{i}" for i in range(first, first + table.num_rows)]
    return table.append_column("transaction_id", pa.array(ids))


def test_the_transactions_seen_survive_a_log_replay_and_a_snapshot() -> None:
    live = SinkState.empty(FeatureConfig(), SPEC)
    tx, scores, candidates = transactions(200, 0)
    tx = with_ids(tx, 0)
    kept, late, duplicates = live.admit_transactions(pa.concat_tables([tx, tx.slice(0, 3)]))
    assert (int(kept.sum()), late, duplicates) == (200, 0, 3)
    logged = log_table(tx, np.zeros(200, np.int64), no_labels(), scores, candidates)
    replayed = SinkState.empty(FeatureConfig(), SPEC)
    replayed.replay(logged)
    meta, tables = live.to_tables()
    for state in (replayed, SinkState.from_tables(meta, tables)):
        again, late, duplicates = state.admit_transactions(tx.slice(190))
        assert (int(again.sum()), late, duplicates) == (0, 0, 10)


def test_state_saved_while_spark_kept_the_ids_still_drops_late_transactions() -> None:
    # Format 5: the transactions' ids were Spark's; the set starts empty, and the windows'
    # newest event time stands in for its own, so what the watermark passed stays late.
    live = SinkState.empty(FeatureConfig(), SPEC)
    live_batch(live, 0)
    meta, tables = live.to_tables()
    meta["sink_format"] = 5
    del meta["transactions_newest_ms"], tables["transactions_seen"]
    old = SinkState.from_tables(meta, tables)
    newest = int(meta["window_max_event_ms"])
    probe = pa.table(
        {"transaction_id": ["late", "fine"], "event_ms": [newest - 2 * HOUR_MS, newest]}
    )
    kept, late, duplicates = old.admit_transactions(probe)
    assert kept.tolist() == [False, True] and (late, duplicates) == (1, 0)


def test_a_snapshot_written_in_pieces_restores_the_state_exactly(tmp_path: Path) -> None:
    """Cards and merchants are written a few hundred slots at a time (a snapshot holds one
    piece, not a copy of the state); the file reads back as the whole table."""
    import pyarrow.ipc as ipc

    from fraudstream.settings import load_settings
    from ml_model.features.snapshot import PIECE_ROWS
    from processor.sink_state import SinkStore

    rng = np.random.default_rng(5)
    n = 3 * PIECE_ROWS + 17
    tx = pa.table(
        {
            "card_id": pa.array([f"tok_{i:016x}_0000" for i in range(n)]),
            "merchant_id": pa.array([f"m{i % (2 * PIECE_ROWS + 3)}" for i in range(n)]),
            "amount": pa.array(rng.uniform(1, 100, n)),
            "event_ms": pa.array(T0 + np.sort(rng.integers(0, 3 * HOUR_MS, n))),
        }
    )
    config = FeatureConfig()
    live = SinkState.empty(config, SPEC)
    live.features(tx, no_labels())
    live.advance_windows(tx, np.zeros(n, dtype=np.int64))
    settings = load_settings(checkpoint_location=str(tmp_path / "cp"))
    store = SinkStore(str(tmp_path / "state"), settings)
    store._snapshot(0, live, previous=-1)
    cards = ipc.open_file(pa.py_buffer(store.folder.read("snap-000000000000-cards.arrow")))
    assert cards.num_record_batches == 4  # 3 full pieces and the rest
    restored = store.load_before(1, config, SPEC)
    meta, tables = live.to_tables()
    meta_back, tables_back = restored.to_tables()
    assert meta_back == meta
    assert tables_back.keys() == tables.keys()
    for name, table in tables.items():
        back = tables_back[name]
        assert back.schema == table.schema, name
        for column in table.column_names:  # NaN (a card's unknown last place) equals itself
            if pa.types.is_floating(table.schema.field(column).type):
                same = np.array_equal(
                    back[column].to_numpy(), table[column].to_numpy(), equal_nan=True
                )
            else:
                same = back[column].equals(table[column])
            assert same, (name, column)
