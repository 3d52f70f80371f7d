from datetime import UTC, datetime, timedelta

import pyarrow as pa

from processor.validation import fallback
from tests.processor.validation.corpus import NOW, event

FIVE_MINUTES = timedelta(minutes=5).total_seconds()


def run(*payloads: bytes | None, now: datetime | None = NOW) -> list[dict[str, object] | None]:
    data = pa.array(list(payloads), type=pa.binary())
    clock = pa.array([now] * len(payloads), type=pa.timestamp("us", tz="UTC"))
    result = fallback.verdicts(data, clock, FIVE_MINUTES)
    assert result.type == fallback.VERDICT_TYPE
    return result.to_pylist()  # type: ignore[no-any-return]


def test_null_payloads_stay_null_and_valid_events_are_typed() -> None:
    skipped, valid = run(None, event())
    assert skipped is None
    assert valid is not None
    assert valid["reason"] is None
    assert valid["amount"] == 42.5
    assert valid["event_time"] == datetime(2026, 11, 22, 11, 59, 30, 123000, tzinfo=UTC)


def test_rejections_carry_reason_detail_and_redacted_raw() -> None:
    (row,) = run(event(card_id="4111 1111 1111 1111"))
    assert row is not None
    assert (row["reason"], row["detail"]) == ("raw_card_number", "card_id looks like a card number")
    assert "************1111" in str(row["raw"])
    assert row["card_id"] is None


def test_validator_crashes_become_reasons() -> None:
    deep, huge, undecodable = run(b"[" * 100_000, event(amount=10**400), b"\xff")
    assert deep is not None and deep["reason"] == "bad_json"
    assert huge is not None and huge["reason"] == "bad_value"
    assert undecodable is not None and undecodable["raw"] == "\ufffd"


def test_unpaired_surrogates_are_quarantined_not_crashing_arrow() -> None:
    payload = event().replace(b'"grocery"', b'"\\ud800"')
    (row,) = run(payload)
    assert row is not None
    assert row["reason"] == "bad_value"
    assert "not valid Unicode" in str(row["detail"])


def test_a_missing_or_naive_clock_is_read_as_utc() -> None:
    later = event(event_time="2999-01-01T00:00:00Z")
    (row,) = run(later, now=None)
    assert row is not None and row["reason"] == "future_event_time"
    data = pa.array([event()], type=pa.binary())
    naive = pa.array([NOW.replace(tzinfo=None)], type=pa.timestamp("us"))
    (same,) = fallback.verdicts(data, naive, FIVE_MINUTES).to_pylist()
    assert same["reason"] is None
