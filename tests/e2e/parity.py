"""The lake's features against the training builder's, for the same events and labels.

The stream and the builder call the same feature engine, whose answer does not depend on how
rows are cut into batches, so the two agree exactly but where micro-batching hides from a
transaction something the builder (which replays everything in event-time order) shows it:
something at its merchant, earlier in event time, that reached the stream only in a *later*
micro-batch:

- a fraud label whose label time is at or before the transaction's event time;
- another transaction: Kinesis orders records within a shard only, and a merchant's
  transactions come from cards on every shard, so a micro-batch cut (at one arrival time
  across shards, ties in the same millisecond broken by shard) can leave an earlier
  transaction of the merchant on the far side.

Such a transaction is *exposed* (:func:`exposed`), and only its merchant features
(:data:`MERCHANT_FEATURES`) may differ; a card's transactions share a shard, so card features
never do.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream.events import LabelRecord, TransactionEvent
from ml_model.features import FEATURE_NAMES, FeatureConfig, build

MERCHANT_FEATURES = tuple(name for name in FEATURE_NAMES if name.startswith("merchant_"))
"""The features a merchant's history (its transactions and fraud labels) moves."""


def builder_features(
    events: Iterable[TransactionEvent], labels: Iterable[LabelRecord], config: FeatureConfig
) -> pd.DataFrame:
    """The training builder's matrix for ``events`` given ``labels``, indexed by transaction."""
    rows = pd.DataFrame(
        [
            {
                "transaction_id": e.transaction_id,
                "card_id": e.card_id,
                "merchant_id": e.merchant_id,
                "amount": e.amount,
                "event_ms": int(e.event_time.timestamp() * 1000),
                "merchant_category": e.merchant_category,
                "channel": e.channel,
                "lat": e.lat,
                "lon": e.lon,
            }
            for e in events
        ]
    )
    truth = pd.DataFrame(
        [
            {
                "merchant_id": label.merchant_id,
                "event_ms": int(label.event_time.timestamp() * 1000),
                "label_ms": int(label.label_time.timestamp() * 1000),
                "is_fraud": label.is_fraud,
            }
            for label in labels
        ]
    )
    matrix = build(rows, truth, config)
    return pd.DataFrame(matrix, index=rows["transaction_id"], columns=list(FEATURE_NAMES))


def lake_features(transactions: pa.Table) -> pd.DataFrame:
    """The lake's ``features`` column as float32, indexed by transaction."""
    maps = transactions["features"].combine_chunks()
    keys = maps.keys.to_numpy(zero_copy_only=False).reshape(len(maps), -1)
    assert (keys == np.array(FEATURE_NAMES, dtype=object)).all(), "features out of order"
    values = maps.items.to_numpy(zero_copy_only=False).reshape(len(maps), -1)
    return pd.DataFrame(
        values.astype(np.float32),
        index=transactions["transaction_id"].to_pylist(),
        columns=list(FEATURE_NAMES),
    )


def exposed(transactions: pa.Table, labels: pa.Table) -> dict[str, set[str]]:
    """The exposed transactions, by cause (``late_label``, ``late_transaction``), from the
    lake's own batch ids."""
    tx = transactions.select(["transaction_id", "merchant_id", "event_time", "batch_id"])
    tx = tx.to_pandas()
    frauds = labels.filter(pc.equal(labels["is_fraud"], True))
    frauds = frauds.select(["merchant_id", "label_time", "batch_id"]).to_pandas()
    by_label = tx.merge(frauds, on="merchant_id", suffixes=("", "_other"))
    by_tx = tx.merge(tx, on="merchant_id", suffixes=("", "_other"))
    late_label = (by_label["label_time"] <= by_label["event_time"]) & (
        by_label["batch_id_other"] > by_label["batch_id"]
    )
    late_tx = (by_tx["event_time_other"] <= by_tx["event_time"]) & (
        by_tx["batch_id_other"] > by_tx["batch_id"]
    )
    return {
        "late_label": set(by_label.loc[late_label, "transaction_id"]),
        "late_transaction": set(by_tx.loc[late_tx, "transaction_id"]),
    }


def differences(stream: pd.DataFrame, built: pd.DataFrame) -> pd.DataFrame:
    """Cells where the two matrices differ (NaN equal to NaN): a boolean frame."""
    stream = stream.loc[built.index]
    same = (stream.to_numpy() == built.to_numpy()) | (
        np.isnan(stream.to_numpy()) & np.isnan(built.to_numpy())
    )
    return pd.DataFrame(~same, index=built.index, columns=built.columns)
