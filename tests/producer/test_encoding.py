"""The producer's fast encoders write exactly the contract's JSON."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

from fraudstream.events import TransactionEvent
from producer.encoding import event_json, label_json
from producer.generator import GeneratorConfig, TransactionGenerator

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_events_and_labels_encode_as_the_contract_does() -> None:
    config = GeneratorConfig(
        start=START, seed=4, cards=300, rate=50.0, fraud_rate=0.2, token_key=b"k"
    )
    for generated in itertools.islice(TransactionGenerator(config), 2_000):
        event = generated.event
        assert event_json(event) == event.to_json().encode()
        label_time = event.event_time + timedelta(seconds=61)
        expected = generated.label(label_time).to_json().encode()
        assert label_json(event, generated.is_fraud, generated.scenario, label_time) == expected


def test_unusual_values_encode_as_the_contract_does() -> None:
    paris = timezone(timedelta(hours=2))
    event = TransactionEvent(
        transaction_id='tx-"quoted"\\',
        card_id="tok_0123456789abcdef_1234",
        merchant_id="m-é",
        amount=1e-05,
        currency="EUR",
        event_time=datetime(2026, 3, 2, 11, 0, 0, 123456, tzinfo=paris),
        lat=-0.0,
        lon=180.0,
    )
    assert event_json(event) == event.to_json().encode()
