"""Merchant risk with delayed labels: windows end a label delay before the transaction."""

from __future__ import annotations

import json

import pytest

from ml_model.features import EMPTY_SNAPSHOT, FeatureConfig, MerchantState
from ml_model.features.schema import DAY_MS, HOUR_MS

CONFIG = FeatureConfig(label_delay_ms=DAY_MS, merchant_bucket_ms=HOUR_MS)
DAY0 = 20_000 * DAY_MS  # a day boundary


def at(day: int, hour: float) -> int:
    return DAY0 + day * DAY_MS + int(hour * HOUR_MS)


def test_only_transactions_older_than_the_delay_count() -> None:
    state = MerchantState()
    for minute in (0, 10, 20):
        state.add_transaction(at(0, 10) + minute * 60_000, CONFIG)
    state.add_label(at(0, 10) + 10 * 60_000, True, CONFIG)  # arrives whenever
    assert state.snapshot(at(0, 12), CONFIG) == EMPTY_SNAPSHOT  # nothing a day old yet
    # a day later but still inside the 10:00 bucket: the bucket is not complete, not counted
    assert state.snapshot(at(1, 10.5), CONFIG).count_1d == 0.0
    snap = state.snapshot(at(1, 11.5), CONFIG)
    assert snap.count_1d == snap.count_7d == snap.count_30d == 3.0
    assert snap.fraud_share_1d == pytest.approx(1 / 3)
    assert snap.days_since_last_fraud == pytest.approx(1 + 1.5 / 24)
    assert snap.days_since_first_fraud == snap.days_since_last_fraud
    later = state.snapshot(at(2, 11.5), CONFIG)  # out of the 1-day window, still in 7 days
    assert (later.count_1d, later.count_7d) == (0.0, 3.0)
    assert later.fraud_share_1d == 0.0
    assert later.fraud_share_7d == pytest.approx(1 / 3)


def test_genuine_labels_change_nothing_and_late_labels_count_once_arrived() -> None:
    state = MerchantState()
    state.add_transaction(at(0, 1), CONFIG)
    state.add_label(at(0, 1), False, CONFIG)
    assert state.snapshot(at(2, 0), CONFIG).fraud_share_30d == 0.0
    state.add_label(at(0, 1), True, CONFIG)  # a chargeback that came late
    assert state.snapshot(at(2, 0), CONFIG).fraud_share_30d == 1.0


def test_old_buckets_are_evicted_and_state_round_trips() -> None:
    state = MerchantState()
    for day in range(60):
        state.add_transaction(at(day, 12), CONFIG)
    # kept: delay (1 day) + 30 days + 1 day margin
    assert len(state.buckets) <= 33
    copy = MerchantState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert copy == state
    assert copy.snapshot(at(60, 13), CONFIG) == state.snapshot(at(60, 13), CONFIG)
    assert MerchantState.from_row(state.to_row()) == state
    state.add_label(at(0, 12), True, CONFIG)  # too old to matter: dropped
    assert sum(state.frauds) == 0
