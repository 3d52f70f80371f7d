"""Malformed transaction records, each with the quarantine reason the contract gives it.

The five kinds the suite floods the stream with, in turn: truncated JSON (``bad_json``), a
required field left out (``missing_field``), a negative amount (``bad_amount``), a schema
version this processor does not know (``unknown_schema_version``) and an event time days ahead
(``future_event_time``). Reasons are those of :func:`fraudstream.events.parse_event`, which the
Spark validator follows; the unit tests check every record here against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from fraudstream.events import EVENT_FIELDS, TransactionEvent

KINDS = (
    "bad_json",
    "missing_field",
    "bad_amount",
    "unknown_schema_version",
    "future_event_time",
)
_REQUIRED = tuple(f.name for f in EVENT_FIELDS if f.required)
_VERSIONS = (0, 2, 9, 99)
_AMOUNTS = (-0.01, -5.0, -1234.5)
_FUTURE = timedelta(days=2)


@dataclass(frozen=True)
class Malformed:
    data: bytes
    partition_key: str
    reason: str


def _valid(index: int, now: datetime) -> dict[str, object]:
    """A valid event's fields, unique per index, for the variants to break."""
    event = TransactionEvent(
        transaction_id=f"malformed-{index:07d}",
        card_id=f"tok_{index:016x}_{index % 10_000:04d}",
        merchant_id=f"m-{index % 97}",
        amount=10.0 + index % 500,
        currency="EUR",
        event_time=now - timedelta(minutes=5),
        channel="online",
    )
    return event.to_dict()


def _payload(kind: str, index: int, now: datetime) -> bytes:
    fields = _valid(index, now)
    turn = index // len(KINDS)
    if kind == "bad_json":
        text = json.dumps(fields)
        return text[: len(text) // 2 + turn % 7].encode()
    if kind == "missing_field":
        fields.pop(_REQUIRED[turn % len(_REQUIRED)])
    elif kind == "bad_amount":
        fields["amount"] = _AMOUNTS[turn % len(_AMOUNTS)]
    elif kind == "unknown_schema_version":
        fields["schema_version"] = _VERSIONS[turn % len(_VERSIONS)]
    elif kind == "future_event_time":
        fields["event_time"] = (now + _FUTURE).isoformat().replace("+00:00", "Z")
    else:
        raise ValueError(f"unknown kind of malformed record: {kind}")
    return json.dumps(fields).encode()


def malformed_records(count: int, now: datetime) -> Iterator[Malformed]:
    """``count`` malformed records, the kinds in turn; ``now`` anchors the event times (the
    future ones stay in the future for days, whenever the processor reads them)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for index in range(count):
        kind = KINDS[index % len(KINDS)]  # each kind is the reason it earns
        yield Malformed(_payload(kind, index, now), f"malformed-{index % 64}", kind)
