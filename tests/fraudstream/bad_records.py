"""Malformed records for every quarantine reason the contract gives, built from a valid event.

The end-to-end tests put these on the streams and follow each to its quarantine row;
``test_bad_records.py`` checks every one earns its reason from the contract's validator and the
processor's Arrow validator, and that no reason the validators can give is missing here.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fraudstream.events import LabelRecord

EVENT_REASONS = (
    "bad_json",
    "missing_field",
    "unknown_schema_version",
    "unknown_field",
    "wrong_type",
    "bad_value",
    "bad_amount",
    "bad_timestamp",
    "future_event_time",
    "raw_card_number",
)
LABEL_REASONS = ("bad_label",)
CARD_NUMBER = "4111 1111 1111 1111"  # a test card number: Luhn-valid


def _json(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


def bad_events(valid: dict[str, Any], now: datetime) -> list[tuple[str, bytes]]:
    """(reason, payload) pairs, several per reason where the contract has several ways to earn
    it. ``valid`` is a valid event's JSON object; ``now`` anchors the future event time."""

    def variant(tag: str, **changes: Any) -> dict[str, Any]:
        return {**valid, "transaction_id": f"bad-{tag}", **changes}

    without_amount = {k: v for k, v in variant("missing").items() if k != "amount"}
    without_lon = {k: v for k, v in variant("lat-only", lat=48.85).items() if k != "lon"}
    future = (now + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    return [
        ("bad_json", b"{not json"),
        ("bad_json", b"[1, 2, 3]"),
        ("missing_field", _json(without_amount)),
        ("unknown_schema_version", _json(variant("version", schema_version=9))),
        ("unknown_field", _json(variant("field", cvv="123"))),
        ("wrong_type", _json(variant("type-amount", amount="12.50"))),
        ("wrong_type", _json(variant("type-merchant", merchant_id=1234))),
        ("bad_value", _json(variant("channel", channel="carrier-pigeon"))),
        ("bad_value", _json(without_lon)),
        ("bad_value", _json(variant("currency", currency="euro"))),
        ("bad_amount", _json(variant("amount", amount=-5))),
        ("bad_timestamp", _json(variant("time", event_time="yesterday"))),
        ("bad_timestamp", _json(variant("epoch", event_time="1970-01-01T00:00:00Z"))),
        ("future_event_time", _json(variant("future", event_time=future))),
        ("raw_card_number", _json(variant("pan", card_id=CARD_NUMBER))),
        ("raw_card_number", _json(variant("pan-merchant", merchant_id="4111111111111111"))),
    ]


def bad_labels(valid: LabelRecord) -> list[tuple[str, bytes]]:
    """(reason, payload) pairs for the labels stream, from a valid label."""
    fields = valid.to_dict()
    return [
        ("bad_label", b"{oops"),
        ("bad_label", _json({**fields, "is_fraud": 2})),
        ("bad_label", _json({**fields, "transaction_id": CARD_NUMBER})),
        ("bad_label", _json({k: v for k, v in fields.items() if k != "label_time"})),
    ]
