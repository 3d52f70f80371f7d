import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from fraudstream.events import (
    EVENT_FIELD_NAMES,
    InvalidEvent,
    LabelRecord,
    TransactionEvent,
    arrow_schema,
    format_time,
    parse_event,
    redact_card_numbers,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def event(**changes: object) -> TransactionEvent:
    base = TransactionEvent(
        transaction_id="tx-000001",
        card_id="tok_0123456789abcdef_4242",
        merchant_id="m-0042",
        amount=42.5,
        currency="EUR",
        event_time=datetime(2026, 11, 22, 11, 59, 30, 123000, tzinfo=UTC),
        merchant_category="grocery",
        channel="pos",
        country="FR",
        lat=48.85,
        lon=2.35,
    )
    return TransactionEvent(**{**base.to_dict(), "event_time": base.event_time, **changes})  # type: ignore[arg-type]


def test_round_trip_full_and_minimal() -> None:
    full = event()
    assert parse_event(full.to_json(), now=NOW) == full
    minimal = event(merchant_category=None, channel=None, country=None, lat=None, lon=None)
    wire = json.loads(minimal.to_json())
    assert set(wire) == {
        "schema_version",
        "transaction_id",
        "card_id",
        "merchant_id",
        "amount",
        "currency",
        "event_time",
    }
    assert wire["event_time"] == "2026-11-22T11:59:30.123Z"
    assert parse_event(minimal.to_json(), now=NOW) == minimal
    assert full.partition_key == full.card_id


def payload(**changes: object) -> str:
    data = event().to_dict()
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        (payload(schema_version=...), "missing_field"),
        (payload(schema_version=99), "unknown_schema_version"),
        (payload(schema_version="1"), "unknown_schema_version"),
        (payload(amount=...), "missing_field"),
        (payload(amount="12.00"), "wrong_type"),
        (payload(amount=True), "wrong_type"),
        (payload(amount=-5), "bad_amount"),
        (payload(amount=0), "bad_amount"),
        (payload(amount=5e9), "bad_amount"),
        (payload(currency="euro"), "bad_value"),
        (payload(card_id="4111 1111 1111 1111"), "raw_card_number"),
        (payload(card_id="card-7"), "bad_value"),
        (payload(channel="carrier-pigeon"), "bad_value"),
        (payload(lat=123.0), "bad_value"),
        (payload(lon=...), "bad_value"),
        (payload(event_time="2026-11-22T11:00:00"), "bad_timestamp"),
        (payload(event_time="yesterday"), "bad_timestamp"),
        (payload(event_time=12), "wrong_type"),
        (payload(event_time="2026-11-22T13:00:00Z"), "future_event_time"),
        (payload(surprise=1), "unknown_field"),
        (b"\xff\xfe", "bad_json"),
    ],
)
def test_invalid_events_carry_a_reason(raw: str | bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, now=NOW)
    assert caught.value.reason == reason


def test_small_clock_skew_is_accepted() -> None:
    parsed = parse_event(payload(event_time="2026-11-22T12:04:00Z"), now=NOW)
    assert parsed.event_time == NOW + timedelta(minutes=4)


def test_offsets_are_normalised_to_utc() -> None:
    parsed = parse_event(payload(event_time="2026-11-22T13:30:00+02:00"), now=NOW)
    assert parsed.event_time == datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 1, 1))  # noqa: DTZ001


def test_arrow_schema_derives_from_the_contract_fields() -> None:
    arrow = arrow_schema()
    assert tuple(arrow.names) == EVENT_FIELD_NAMES
    assert arrow.field("amount").type == pa.float64()
    assert arrow.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert not arrow.field("card_id").nullable and arrow.field("lat").nullable
    table = pa.Table.from_pylist([event().to_dict() | {"event_time": event().event_time}], arrow)
    assert table.num_rows == 1


def test_label_round_trip() -> None:
    label = LabelRecord(
        "tx-1",
        "tok_0123456789abcdef_4242",
        "m-1",
        True,
        "impossible_travel",
        NOW,
        NOW + timedelta(seconds=60),
    )
    back = LabelRecord.from_json(label.to_json())
    assert back == label and back.label_time == label.label_time
    assert json.loads(label.to_json())["is_fraud"] == 1


def test_redaction_keeps_last_four_only() -> None:
    text = '{"card_id": "4111 1111 1111 1111", "amount": 12.5, "id": "tx-123"}'
    redacted = redact_card_numbers(text)
    assert "4111 1111" not in redacted and "************1111" in redacted
    assert "12.5" in redacted and "tx-123" in redacted


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (payload(currency="EUR\n"), "bad_value"),  # a whole match, not a prefix
        (payload(merchant_category="\ud800"), "bad_value"),  # unpaired surrogate
        ("[" * 100_000, "bad_json"),  # nesting deeper than the parser's recursion
        (payload(amount=10**400), "bad_value"),  # too large for a float
        (payload(amount=float("nan")), "bad_value"),
        (payload(event_time="0001-01-01T00:00:00+01:00"), "bad_timestamp"),  # leaves the calendar
    ],
)
def test_hostile_payloads_are_rejected_not_crashing(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, now=NOW)
    assert caught.value.reason == reason
