"""Card features on the driver equal the per-card Spark operator's logic, batch after batch."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from ml_model.features import CardState, FeatureConfig
from processor.card_features import CARD_FEATURES, enrich
from processor.driver_cards import CardTable, batch_card_features
from producer.generator import TransactionGenerator
from producer.simulated import simulated_config

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY_MS = 86_400_000


def rows_of(count: int) -> list[dict[str, Any]]:
    config = simulated_config(
        events=count, cards=60, seed=11, fraud_rate=0.05, token_key=b"k", now=NOW
    )
    rows = []
    for generated in itertools.islice(TransactionGenerator(config), count):
        event = generated.event.to_dict()
        event["event_ms"] = int(generated.event.event_time.timestamp() * 1000)
        rows.append(event)
    return rows


def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["event_ms"], r["transaction_id"]))


def test_equal_to_the_spark_operators_logic_across_batches() -> None:
    config = FeatureConfig()
    events = rows_of(900)
    table = CardTable()
    operator_cards: dict[str, CardState] = defaultdict(CardState)
    for start in range(0, len(events), 300):  # three micro-batches
        batch = ordered(events[start : start + 300])
        driver, changed = batch_card_features(table, batch, config)
        by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in batch:
            by_card[row["card_id"]].append(row)
        expected = {
            out["transaction_id"]: out[CARD_FEATURES]
            for card, card_rows in by_card.items()
            for out in enrich(operator_cards[card], card_rows, config)
        }
        assert driver == [expected[row["transaction_id"]] for row in batch]
        assert changed == set(by_card)
        for card in by_card:
            assert table.states[card] == operator_cards[card].to_bytes()
            assert table.last_ms[card] == max(r["event_ms"] for r in by_card[card])


def test_a_card_sees_its_earlier_transactions_of_the_same_batch() -> None:
    config = FeatureConfig()
    base = {"merchant_id": "m", "merchant_category": None, "channel": None, "lat": None}
    rows = [
        {**base, "card_id": "c", "event_ms": 1_000_000 + i * 60_000, "amount": 10.0, "lon": None}
        for i in range(3)
    ]
    vectors, _ = batch_card_features(CardTable(), rows, config)
    from ml_model.features.schema import FEATURE_INDEX

    counts = [v[FEATURE_INDEX["card_count_1h"]] for v in vectors]
    assert counts == [0.0, 1.0, 2.0]


def test_expiry_is_relative_to_the_newest_transaction() -> None:
    table = CardTable()
    table.put("old", b"x", 0)
    table.put("edge", b"y", 30 * DAY_MS)
    table.put("new", b"z", 31 * DAY_MS)
    assert table.expire(DAY_MS) == 1
    assert sorted(table.states) == ["edge", "new"] and sorted(table.last_ms) == ["edge", "new"]
    assert CardTable().expire(DAY_MS) == 0
    copy = table.copy()
    copy.put("other", b"", 0)
    assert "other" not in table.states
