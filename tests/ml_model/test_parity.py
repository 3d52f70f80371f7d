"""Parity: the batch builder and the one-event-at-a-time stream give identical features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_model.data.history import History, load_history, parse_day
from ml_model.features import (
    CardState,
    FeatureConfig,
    MerchantState,
    StreamingFeatures,
    TxInput,
    build,
    features,
)
from ml_model.features.builder import tx_inputs
from ml_model.features.schema import DAY_MS, HOUR_MS, MINUTE_MS
from ml_model.testing import synthetic_history

LABELS = ["merchant_id", "event_ms", "is_fraud", "label_ms"]


def arrival_order(frame: pd.DataFrame) -> list[tuple[str, int]]:
    """Transactions at their event time and labels at their label time, labels first on
    ties: the order a live system sees them in."""
    rows = [(int(t), 0, i) for i, t in enumerate(frame["label_ms"])]
    rows += [(int(t), 1, i) for i, t in enumerate(frame["event_ms"])]
    ids = frame["transaction_id"].tolist()
    rows.sort(key=lambda r: (r[0], r[1], ids[r[2]] if r[1] else ""))
    return [("label" if kind == 0 else "tx", i) for _, kind, i in rows]


def stream_features(frame: pd.DataFrame, config: FeatureConfig) -> np.ndarray:
    """Feed events one at a time; every state goes through a Spark Row between events."""
    row_type = pytest.importorskip("pyspark.sql").Row
    cards: dict[str, bytes] = {}
    merchants: dict[str, object] = {}
    txs = tx_inputs(frame)
    card_ids = frame["card_id"].tolist()
    out = np.empty((len(frame), len(features(CardState(), None, txs[0]))))
    for kind, i in arrival_order(frame):
        tx: TxInput = txs[i]
        stored = merchants.get(tx.merchant_id)
        merchant = MerchantState.from_row(stored) if stored else MerchantState()
        if kind == "label":
            merchant.add_label(tx.event_ms, bool(frame["is_fraud"].iat[i]), config)
        else:
            stored_card = cards.get(card_ids[i])
            card = CardState.from_bytes(stored_card) if stored_card else CardState()
            out[i] = features(card, merchant.snapshot(tx.event_ms, config), tx)
            card.add(tx, config.card_max_history)
            merchant.add_transaction(tx.event_ms, config)
            cards[card_ids[i]] = card.to_bytes()  # what the Spark operator stores
        merchants[tx.merchant_id] = row_type(
            **dict(zip(MerchantState.ROW_FIELDS, merchant.to_row(), strict=True))
        )
    return out


@pytest.mark.parametrize(
    "config",
    [
        FeatureConfig(label_delay_ms=DAY_MS),
        FeatureConfig(label_delay_ms=MINUTE_MS, merchant_bucket_ms=MINUTE_MS),
    ],
    ids=["1d-delay-hour-buckets", "1m-delay-minute-buckets"],
)
def test_batch_equals_stream_on_synthetic_events(config: FeatureConfig) -> None:
    frame = synthetic_history(cards=40, days=12.0, seed=3, label_delay_ms=config.label_delay_ms)
    # repeated timestamps for one card: ties must resolve the same way in both
    frame.loc[5, ["card_id", "event_ms"]] = frame.loc[4, ["card_id", "event_ms"]].to_numpy()
    frame = frame.sort_values(["event_ms", "transaction_id"]).reset_index(drop=True)
    batch = build(frame, frame[LABELS], config)
    streamed = stream_features(frame, config)
    assert np.array_equal(batch, streamed)
    # the packaged one-at-a-time engine agrees too
    engine = StreamingFeatures(config, roundtrip=True)
    txs = tx_inputs(frame)
    again = np.empty_like(batch)
    for kind, i in arrival_order(frame):
        if kind == "label":
            engine.on_label(txs[i].merchant_id, txs[i].event_ms, bool(frame["is_fraud"].iat[i]))
        else:
            again[i] = engine.on_transaction(frame["card_id"].iat[i], txs[i])
    assert np.array_equal(batch, again)
    assert (batch[:, -8:] != 0).any(), "merchant features never fired: the test proves little"


def test_batch_rows_follow_input_order() -> None:
    frame = synthetic_history(cards=10, days=3.0, seed=5)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    config = FeatureConfig(label_delay_ms=HOUR_MS)
    a = pd.DataFrame(build(frame, frame[LABELS], config), index=frame["transaction_id"])
    b = pd.DataFrame(build(shuffled, shuffled[LABELS], config), index=shuffled["transaction_id"])
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


@pytest.mark.data
@pytest.mark.slow
def test_batch_equals_stream_on_handbook_week(handbook_path: object) -> None:
    history = load_history(str(handbook_path), "handbook", label_delay_ms=7 * DAY_MS)
    week = History(history.before(parse_day("2018-04-06")).transactions, "handbook")
    frame = week.transactions
    config = FeatureConfig(label_delay_ms=DAY_MS)  # a 1-day delay: labels matter within a week
    frame = frame.assign(label_ms=frame["event_ms"] + DAY_MS)
    batch = build(frame, frame[LABELS], config)
    assert np.array_equal(batch, stream_features(frame, config))
