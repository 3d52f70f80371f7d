"""Test doubles shipped with the package: a small synthetic labelled history.

Not the product's generator (that is ``producer``): just enough structure for tests and
benchmarks of this package to train a model that learns something, with every optional field
exercised (categories, channels, locations, some of them missing). Fraud patterns: a card
suddenly spending far above its habit, and merchants compromised for a stretch of days.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from ml_model.features.schema import DAY_MS

START = datetime(2026, 1, 5, tzinfo=UTC)
CATEGORIES = ("grocery", "fuel", "restaurant", "electronics", "travel")
CHANNELS = ("pos", "online", "atm")


def synthetic_history(
    *,
    cards: int = 60,
    merchants: int = 25,
    days: float = 20.0,
    seed: int = 7,
    per_card_per_day: float = 3.0,
    label_delay_ms: int = DAY_MS,
    missing_share: float = 0.2,
) -> pd.DataFrame:
    """Canonical history (see :mod:`ml_model.data.history`), sorted by time."""
    rng = np.random.default_rng(seed)
    start_ms = int(START.timestamp() * 1000)
    span_ms = int(days * DAY_MS)
    counts = rng.poisson(per_card_per_day * days, size=cards)
    card_ids = np.repeat([f"tok_{i:016x}_{i % 10000:04d}" for i in range(cards)], counts)
    card_index = np.repeat(np.arange(cards), counts)
    n = len(card_ids)
    event_ms = start_ms + rng.integers(0, span_ms, size=n)
    habit = rng.uniform(10, 120, size=cards)
    amount = np.round(np.abs(rng.normal(habit[card_index], habit[card_index] / 3)) + 0.5, 2)
    home_lat = rng.uniform(40, 55, size=cards)
    home_lon = rng.uniform(-5, 20, size=cards)
    lat = home_lat[card_index] + rng.normal(0, 0.2, size=n)
    lon = home_lon[card_index] + rng.normal(0, 0.2, size=n)
    merchant_index = rng.integers(0, merchants, size=n)
    category = np.array(CATEGORIES)[merchant_index % len(CATEGORIES)].astype(object)
    channel = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), size=n)].astype(object)
    scenario = np.full(n, "genuine", dtype=object)

    # card takeover: a few cards spend ~6x their habit, far from home, for two days
    for card in rng.choice(cards, size=max(2, cards // 6), replace=False):
        begin = start_ms + int(rng.uniform(0.15, 0.9) * span_ms)
        rows = (card_index == card) & (event_ms >= begin) & (event_ms < begin + 2 * DAY_MS)
        rows &= rng.random(n) < 0.6
        amount[rows] = np.round(amount[rows] * 6, 2)
        lat[rows] += 8.0
        scenario[rows] = "card_takeover"
    # compromised merchants: everything there is fraud for four days
    for merchant in rng.choice(merchants, size=max(2, merchants // 5), replace=False):
        begin = start_ms + int(rng.uniform(0.1, 0.85) * span_ms)
        rows = (merchant_index == merchant) & (event_ms >= begin) & (event_ms < begin + 4 * DAY_MS)
        scenario[rows] = "compromised_merchant"

    missing = rng.random(n) < missing_share
    lat[missing] = np.nan
    lon[missing] = np.nan
    category[rng.random(n) < missing_share] = None
    channel[rng.random(n) < missing_share] = None
    is_fraud = scenario != "genuine"
    jitter = rng.integers(0, DAY_MS // 4, size=n)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{i:07d}" for i in range(n)],
            "card_id": card_ids,
            "merchant_id": [f"m-{m:04d}" for m in merchant_index],
            "amount": amount,
            "event_ms": event_ms.astype("int64"),
            "merchant_category": category,
            "channel": channel,
            "lat": lat,
            "lon": lon,
            "is_fraud": is_fraud,
            "scenario": scenario,
            "label_ms": (event_ms + label_delay_ms + jitter).astype("int64"),
        }
    )
    return frame.sort_values(["event_ms", "transaction_id"], kind="stable").reset_index(drop=True)


def as_handbook_table(frame: pd.DataFrame) -> pa.Table:
    """The same history in the handbook's Parquet layout (ids become integers)."""
    cards = {c: i for i, c in enumerate(sorted(frame["card_id"].unique()))}
    terminals = {m: i for i, m in enumerate(sorted(frame["merchant_id"].unique()))}
    scenario = (
        frame["scenario"]
        .map({"genuine": 0, "card_takeover": 3, "compromised_merchant": 2})
        .fillna(1)
    )
    start = int(frame["event_ms"].min()) // DAY_MS * DAY_MS
    seconds = (frame["event_ms"] - start) // 1000
    return pa.table(
        {
            "TRANSACTION_ID": np.arange(len(frame), dtype="int64"),
            "TX_DATETIME": pd.to_datetime(frame["event_ms"], unit="ms").to_numpy(
                dtype="datetime64[us]"
            ),
            "CUSTOMER_ID": frame["card_id"].map(cards).astype("int64"),
            "TERMINAL_ID": frame["merchant_id"].map(terminals).astype("int64"),
            "TX_AMOUNT": frame["amount"].astype("float64"),
            "TX_TIME_SECONDS": seconds.astype("int64"),
            "TX_TIME_DAYS": (seconds // 86_400).astype("int64"),
            "TX_FRAUD": frame["is_fraud"].astype("int64"),
            "TX_FRAUD_SCENARIO": scenario.astype("int64"),
        }
    )
