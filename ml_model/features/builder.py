"""The batch training-set builder: replays history through the stream's own state code.

Nothing here is vectorised: every feature value comes from :func:`~ml_model.features.features`
and the same :class:`CardState` / :class:`MerchantState` methods the stream calls, so the two
cannot drift. Two passes, which is equivalent to the stream's single interleaved pass because
card features do not read merchant state and vice versa:

1. merchants: transactions (at event time) and fraud labels (at label time) merged in time
   order, labels first on ties; each transaction gets its merchant snapshot;
2. cards: each card's transactions in (event time, transaction id) order.

Input frames use the canonical columns below (see :mod:`ml_model.data` for loaders).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ml_model.features.card import CardState
from ml_model.features.merchant import MerchantSnapshot, MerchantState
from ml_model.features.schema import FEATURE_COUNT, FeatureConfig
from ml_model.features.transaction import TxInput
from ml_model.features.vector import features

TX_REQUIRED = ("transaction_id", "card_id", "merchant_id", "amount", "event_ms")
TX_OPTIONAL = ("merchant_category", "channel", "lat", "lon")
LABEL_COLUMNS = ("merchant_id", "event_ms", "is_fraud", "label_ms")

Progress = Callable[[str, int, int], None]


def _texts(frame: pd.DataFrame, name: str) -> list[str | None]:
    if name not in frame.columns:
        return [None] * len(frame)
    out: list[str | None] = []
    for value in frame[name].tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            out.append(None)
        else:
            out.append(str(value))
    return out


def _numbers(frame: pd.DataFrame, name: str) -> list[float | None]:
    if name not in frame.columns:
        return [None] * len(frame)
    values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s): {', '.join(missing)}")


def tx_inputs(transactions: pd.DataFrame) -> list[TxInput]:
    """One :class:`TxInput` per row, in row order."""
    check_columns(transactions, TX_REQUIRED, "transactions")
    lat, lon = _numbers(transactions, "lat"), _numbers(transactions, "lon")
    return [
        TxInput(
            event_ms=int(t),
            amount=float(a),
            merchant_id=str(m),
            merchant_category=c,
            channel=ch,
            lat=la if la is not None and lo is not None else None,
            lon=lo if la is not None and lo is not None else None,
        )
        for t, a, m, c, ch, la, lo in zip(
            transactions["event_ms"].astype("int64").tolist(),
            transactions["amount"].astype("float64").tolist(),
            transactions["merchant_id"].astype(str).tolist(),
            _texts(transactions, "merchant_category"),
            _texts(transactions, "channel"),
            lat,
            lon,
            strict=True,
        )
    ]


def merchant_snapshots(
    transactions: pd.DataFrame,
    labels: pd.DataFrame | None,
    config: FeatureConfig,
    progress: Progress | None = None,
) -> list[MerchantSnapshot]:
    """Each transaction's merchant snapshot, in row order (pass 1)."""
    n = len(transactions)
    tx_times = transactions["event_ms"].to_numpy(dtype="int64")
    tx_merchants = transactions["merchant_id"].astype(str).tolist()
    if labels is not None and len(labels):
        check_columns(labels, LABEL_COLUMNS, "labels")
        frauds = labels[labels["is_fraud"].astype(bool)]
    else:
        frauds = pd.DataFrame({c: [] for c in LABEL_COLUMNS})
    label_times = frauds["label_ms"].to_numpy(dtype="int64")
    label_events = frauds["event_ms"].to_numpy(dtype="int64")
    label_merchants = frauds["merchant_id"].astype(str).tolist()
    times = np.concatenate([label_times, tx_times])
    kinds = np.concatenate([np.zeros(len(label_times), "int8"), np.ones(n, "int8")])
    order = np.lexsort((np.arange(len(times)), kinds, times))

    states: dict[str, MerchantState] = {}
    out: list[MerchantSnapshot | None] = [None] * n
    n_labels = len(label_times)
    step = max(1, len(order) // 20)
    for done, position in enumerate(order.tolist()):
        if position < n_labels:
            merchant_id = label_merchants[position]
            state = states.get(merchant_id)
            if state is None:
                state = states[merchant_id] = MerchantState()
            state.add_label(int(label_events[position]), True, config)
        else:
            row = position - n_labels
            merchant_id = tx_merchants[row]
            state = states.get(merchant_id)
            if state is None:
                state = states[merchant_id] = MerchantState()
            at = int(tx_times[row])
            out[row] = state.snapshot(at, config)
            state.add_transaction(at, config)
        if progress is not None and done % step == 0:
            progress("merchant features", done, len(order))
    return out  # type: ignore[return-value]


def build(
    transactions: pd.DataFrame,
    labels: pd.DataFrame | None,
    config: FeatureConfig,
    *,
    progress: Progress | None = None,
) -> np.ndarray:
    """Feature matrix (rows in ``transactions`` order, columns in ``FEATURE_NAMES`` order).

    ``transactions``: canonical columns ``transaction_id, card_id, merchant_id, amount,
    event_ms`` (+ optional ``merchant_category, channel, lat, lon``). ``labels``:
    ``merchant_id, event_ms, is_fraud, label_ms``, one row per labelled transaction, fed to
    merchant state at ``label_ms``. Every row gets features computed from the history before it.
    """
    n = len(transactions)
    matrix = np.empty((n, FEATURE_COUNT), dtype=np.float64)
    if n == 0:
        return matrix
    snapshots = merchant_snapshots(transactions, labels, config, progress)
    txs = tx_inputs(transactions)
    order_frame = pd.DataFrame(
        {
            "card": transactions["card_id"].astype(str).to_numpy(),
            "t": transactions["event_ms"].to_numpy(dtype="int64"),
            "id": transactions["transaction_id"].astype(str).to_numpy(),
        }
    )
    order = order_frame.sort_values(["card", "t", "id"], kind="stable").index.to_numpy()
    cards = order_frame["card"].tolist()
    card: CardState | None = None
    current: Any = object()
    limit = config.card_max_history
    step = max(1, n // 20)
    for done, row in enumerate(order.tolist()):
        if cards[row] != current:
            current = cards[row]
            card = CardState()
        assert card is not None
        tx = txs[row]
        matrix[row] = features(card, snapshots[row], tx)
        card.add(tx, limit)
        if progress is not None and done % step == 0:
            progress("card features", done, n)
    if progress is not None:
        progress("card features", n, n)
    return matrix
