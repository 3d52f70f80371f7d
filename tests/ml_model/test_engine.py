"""The feature engine against a slow statement of its semantics (tests/ml_model/oracle.py), and
the property that makes training and the stream agree: the matrix does not depend on how the
rows are cut into batches, on their order within the watermark, or on the state's storage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ml_model.data.history import History, load_history, parse_day
from ml_model.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    UNKNOWN,
    FeatureConfig,
    FeatureEngine,
    build,
)
from ml_model.features.builder import _arrow
from ml_model.features.engine import LABEL_COLUMNS, TX_COLUMNS, TX_OPTIONAL
from ml_model.features.schema import DAY_MS, HOUR_MS, MINUTE_MS
from ml_model.features.snapshot import from_tables, to_tables
from ml_model.testing import synthetic_history
from tests.ml_model.oracle import oracle

LABELS = list(LABEL_COLUMNS)
HOUR_BUCKETS = FeatureConfig(label_delay_ms=DAY_MS)
MINUTE_BUCKETS = FeatureConfig(label_delay_ms=MINUTE_MS, merchant_bucket_ms=MINUTE_MS)


def history(
    days: float = 12.0, seed: int = 3, config: FeatureConfig = HOUR_BUCKETS
) -> pd.DataFrame:
    frame = synthetic_history(cards=40, days=days, seed=seed, label_delay_ms=config.label_delay_ms)
    # two transactions of one card in the same millisecond: neither is the other's history
    frame.loc[5, ["card_id", "event_ms"]] = frame.loc[4, ["card_id", "event_ms"]].to_numpy()
    return frame


def stream(
    frame: pd.DataFrame,
    config: FeatureConfig,
    lateness_ms: int,
    seed: int,
    *,
    mean_batch: int = 40,
    slab_rows: int = 64,
    restart_at: int | None = None,
    skew_ms: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, FeatureEngine]:
    """Feed transactions and labels as a stream would: in arrival order (event or label time
    plus up to ``skew_ms``, by default the engine's ``lateness_ms``), cut into random
    micro-batches, rows shuffled in each."""
    rng = np.random.default_rng(seed)
    labels = frame[LABELS]
    skew = lateness_ms if skew_ms is None else skew_ms
    arrive = frame["event_ms"].to_numpy() + rng.integers(0, skew + 1, len(frame))
    label_arrive = labels["label_ms"].to_numpy() + rng.integers(0, skew + 1, len(labels))
    moments = np.sort(np.r_[arrive, label_arrive])
    cuts = np.sort(rng.choice(moments, size=max(1, len(frame) // mean_batch), replace=False))
    tx_batch = np.searchsorted(cuts, arrive, "right")
    label_batch = np.searchsorted(cuts, label_arrive, "right")
    engine = FeatureEngine(config, lateness_ms, slab_rows=slab_rows)
    out = np.zeros((len(frame), len(FEATURE_NAMES)), np.float32)
    tx, lt = _arrow(frame, TX_COLUMNS + TX_OPTIONAL), _arrow(labels, LABEL_COLUMNS)
    for b in range(int(tx_batch.max()) + 1):
        rows = np.flatnonzero(tx_batch == b)
        rng.shuffle(rows)
        batch_labels = lt.take(pa.array(np.flatnonzero(label_batch == b), pa.int64()))
        out[rows] = engine.compute(tx.take(pa.array(rows, pa.int64())), batch_labels)
        if restart_at is not None and b == restart_at:
            engine = restored(engine)
    return out, tx_batch, label_batch, engine


def restored(engine: FeatureEngine) -> FeatureEngine:
    """The engine after a trip through its saved form (JSON meta, Arrow IPC tables)."""
    meta, tables = to_tables(engine)
    again = {}
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        again[name] = pa.ipc.open_file(sink.getvalue()).read_all()
    return from_tables(json.loads(json.dumps(meta)), again)


@pytest.mark.parametrize("config", [HOUR_BUCKETS, MINUTE_BUCKETS], ids=["hour-buckets", "minute"])
def test_one_batch_equals_the_definitions(config: FeatureConfig) -> None:
    frame = history(config=config)
    got = build(frame, frame[LABELS], config)
    assert np.array_equal(got, oracle(frame, frame[LABELS], config))
    # the test exercises every part: merchant risk, locations, categories, the tie
    assert (got[:, FEATURE_INDEX["merchant_days_since_last_fraud"]] != UNKNOWN).any()
    assert (got[:, FEATURE_INDEX["distance_from_home_km"]] != UNKNOWN).any()
    assert (got[:, FEATURE_INDEX["first_time_category"]] == 0).any()
    assert got[4, FEATURE_INDEX["card_count_10m"]] == got[5, FEATURE_INDEX["card_count_10m"]]


@pytest.mark.parametrize(
    ("config", "lateness_ms"),
    [(HOUR_BUCKETS, 10 * MINUTE_MS), (MINUTE_BUCKETS, 5 * HOUR_MS), (MINUTE_BUCKETS, 0)],
    ids=["hour-buckets-10min-late", "minute-buckets-5h-late", "in-order"],
)
def test_a_stream_in_any_batches_and_order_equals_the_definitions(
    config: FeatureConfig, lateness_ms: int
) -> None:
    frame = history(days=40.0, seed=5, config=config)
    got, tx_batch, label_batch, engine = stream(frame, config, lateness_ms, seed=1)
    assert np.array_equal(got, oracle(frame, frame[LABELS], config, tx_batch, label_batch))
    assert engine.stats.aged_entries > 0 and engine.stats.late_rows == 0
    assert engine.stats.batches > 100


def test_batching_does_not_change_the_matrix_for_history_in_time_order() -> None:
    frame = history(days=20.0, seed=8)
    whole = build(frame, frame[LABELS], HOUR_BUCKETS)
    for chunk in (HOUR_MS, 7 * HOUR_MS, 3 * DAY_MS):
        assert np.array_equal(build(frame, frame[LABELS], HOUR_BUCKETS, chunk_ms=chunk), whole)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = build(shuffled, shuffled[LABELS], HOUR_BUCKETS)
    a = pd.DataFrame(whole, index=frame["transaction_id"]).sort_index()
    b = pd.DataFrame(again, index=shuffled["transaction_id"]).sort_index()
    pd.testing.assert_frame_equal(a, b)


def test_idle_cards_and_merchants_are_forgotten_without_changing_a_feature() -> None:
    frame = synthetic_history(cards=30, merchants=12, days=90.0, seed=9, label_delay_ms=MINUTE_MS)
    start = frame["event_ms"].min()
    cards = sorted(frame["card_id"].unique())
    gap = frame["card_id"].isin(cards[::2]) & frame["event_ms"].between(
        start + 10 * DAY_MS, start + 55 * DAY_MS
    )
    merchants = sorted(frame["merchant_id"].unique())[:4]
    gap |= frame["merchant_id"].isin(merchants) & frame["event_ms"].between(
        start + 20 * DAY_MS, start + 70 * DAY_MS
    )
    frame = frame[~gap].reset_index(drop=True)
    got, tx_batch, label_batch, engine = stream(frame, MINUTE_BUCKETS, 10 * MINUTE_MS, seed=2)
    assert engine.stats.expired_cards >= 15 and engine.stats.expired_merchants >= 4
    expected = oracle(frame, frame[LABELS], MINUTE_BUCKETS, tx_batch, label_batch)
    assert np.array_equal(got, expected)  # slots were reused by returning cards, correctly


def test_a_restored_engine_continues_exactly() -> None:
    frame = history(days=30.0, seed=4, config=MINUTE_BUCKETS)
    straight, *_ = stream(frame, MINUTE_BUCKETS, 10 * MINUTE_MS, seed=3)
    resumed, *_ = stream(frame, MINUTE_BUCKETS, 10 * MINUTE_MS, seed=3, restart_at=20)
    assert np.array_equal(straight, resumed)


def test_late_rows_are_counted_and_inputs_checked() -> None:
    engine = FeatureEngine(HOUR_BUCKETS, lateness_ms=MINUTE_MS)
    rows = {
        "card_id": ["c1", "c1"],
        "merchant_id": ["m1", "m1"],
        "amount": [10.0, 12.0],
        "event_ms": [10 * HOUR_MS, 12 * HOUR_MS],
    }
    first = engine.compute(pa.table(rows))
    assert first.dtype == np.float32 and first.shape == (2, len(FEATURE_NAMES))
    assert first[1, FEATURE_INDEX["card_count_1d"]] == 1
    assert first[0, FEATURE_INDEX["channel_code"]] == UNKNOWN
    assert first[0, FEATURE_INDEX["first_time_category"]] == UNKNOWN
    engine.compute(pa.table({**rows, "event_ms": [HOUR_MS, 2 * HOUR_MS]}))
    assert engine.stats.late_rows == 2
    with pytest.raises(ValueError, match="lack column"):
        engine.compute(pa.table({"card_id": ["c1"]}))
    empty = pa.table({k: pa.array(v[:0]) for k, v in rows.items()})
    assert engine.compute(empty).shape == (0, len(FEATURE_NAMES))


def test_feature_config_validates_and_round_trips() -> None:
    assert FeatureConfig.from_dict(MINUTE_BUCKETS.to_dict()) == MINUTE_BUCKETS
    old_manifest = {**HOUR_BUCKETS.to_dict(), "card_max_history": 5000}
    assert FeatureConfig.from_dict(old_manifest) == HOUR_BUCKETS
    with pytest.raises(ValueError, match="divisor of one hour"):
        FeatureConfig(merchant_bucket_ms=7 * MINUTE_MS)
    with pytest.raises(ValueError, match="label_delay_ms"):
        FeatureConfig(label_delay_ms=-1)


@pytest.mark.data
@pytest.mark.slow
def test_the_handbook_streamed_equals_the_builder(handbook_path: object) -> None:
    """Two weeks of the handbook, arriving in time order but cut into random micro-batches of
    ~500 rows (each shuffled) and streamed through an engine sized for 10 minutes of lateness,
    give the training builder's matrix bit for bit. (Arrival out of order is checked against
    the definitions above; here the builder, which knows everything, is the reference.)"""
    data = load_history(str(handbook_path), "handbook", label_delay_ms=DAY_MS)
    frame = History(data.before(parse_day("2018-04-15")).transactions, "handbook").transactions
    built = build(frame, frame[LABELS], HOUR_BUCKETS)
    streamed, *_ = stream(
        frame, HOUR_BUCKETS, 10 * MINUTE_MS, seed=4, mean_batch=500, slab_rows=16_384, skew_ms=0
    )
    assert np.array_equal(built, streamed)
    assert (built[:, FEATURE_INDEX["merchant_fraud_share_30d"]] > 0).any()


def test_the_state_knows_how_many_days_of_history_it_covers() -> None:
    frame = history(days=12.0, seed=6, config=MINUTE_BUCKETS)
    assert FeatureEngine(MINUTE_BUCKETS).history_days() is None
    *_, engine = stream(frame, MINUTE_BUCKETS, 10 * MINUTE_MS, seed=3)
    span = (frame["event_ms"].max() - frame["event_ms"].min()) / DAY_MS
    assert engine.history_days() == pytest.approx(span)
    assert restored(engine).history_days() == engine.history_days()
    meta, tables = to_tables(engine)
    del meta["oldest_ms"]  # a snapshot from before the count was kept
    assert from_tables(meta, tables).history_days() == pytest.approx(30.0)
