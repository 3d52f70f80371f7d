"""Validation in Arrow agrees with the contract's Python validator, record by record, and no
card number survives into anything it outputs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.events import (
    EVENT_FIELDS,
    MAX_FUTURE,
    InvalidEvent,
    LabelRecord,
    luhn_valid,
    parse_event,
    parse_label,
)
from processor.validation import fallback
from processor.validation.arrow import EVENTS_OUT, LABELS_OUT, validate_events, validate_labels
from tests.processor.validation.corpus import CORPUS, GOOD, NOW, event, fuzz

REASONS = {
    "bad_json",
    "missing_field",
    "wrong_type",
    "bad_amount",
    "bad_value",
    "bad_timestamp",
    "unknown_schema_version",
    "unknown_field",
    "future_event_time",
    "raw_card_number",
}
NOW_US = int(NOW.timestamp() * 1_000_000)
LABEL = {
    "transaction_id": "tx-000001",
    "card_id": "tok_0123456789abcdef_4242",
    "merchant_id": "m-0042",
    "is_fraud": 1,
    "scenario": "card_testing",
    "event_time": "2026-11-22T11:00:00Z",
    "label_time": "2026-11-22T11:59:00Z",
}


def reference(payload: bytes) -> dict[str, Any]:
    """The Python validator's verdict in the output's shape."""
    verdict = fallback.verdict(payload, NOW, MAX_FUTURE)
    if verdict["reason"] is None:
        verdict["raw"] = None
    return {name: verdict.get(name) for name in EVENTS_OUT.names}


def validated(payloads: list[bytes]) -> list[dict[str, Any]]:
    data = pa.array(payloads, pa.binary())
    table = validate_events(data, np.full(len(payloads), NOW_US))
    assert table.schema == EVENTS_OUT and table.num_rows == len(payloads)
    return table.to_pylist()


def test_the_corpus_covers_every_reason_and_valid_events() -> None:
    reasons = {reference(data)["reason"] for _, data in CORPUS}
    assert reasons == REASONS | {None}


def test_arrow_agrees_with_python_on_the_corpus_and_fuzz() -> None:
    corpus = CORPUS + fuzz(400)
    got = validated([data for _, data in corpus])
    mismatches = [
        f"{label}: {row} != {reference(data)}"
        for (label, data), row in zip(corpus, got, strict=True)
        if row != reference(data)
    ]
    assert not mismatches, "\n".join(mismatches[:5])


def test_the_usual_batch_is_decided_in_columns() -> None:
    """Valid, flat records never reach the per-record validator (the fast path is real)."""
    calls = []
    original = fallback.verdict
    fallback.verdict = lambda *a: calls.append(a) or original(*a)  # type: ignore[assignment]
    try:
        rows = validated([event(transaction_id=f"tx-{i:06d}") for i in range(200)])
    finally:
        fallback.verdict = original  # type: ignore[assignment]
    assert not calls and all(row["reason"] is None for row in rows)


def test_a_bad_record_among_good_ones_is_isolated() -> None:
    payloads = [event(transaction_id=f"tx-{i:06d}") for i in range(64)]
    payloads[37] = payloads[37].replace(b'"amount":42.5', b'"amount":"42.5"')  # wrong type
    payloads[50] = payloads[50][:-1] + b',"amount":1}'  # a key twice
    rows = validated(payloads)
    assert [i for i, r in enumerate(rows) if r["reason"]] == [37]
    assert rows[37]["reason"] == "wrong_type"
    assert rows[50]["amount"] == 1.0  # Arrow refuses a repeated key; Python keeps the last one


def label_reference(payload: bytes) -> tuple[LabelRecord | None, str | None]:
    try:
        return parse_label(payload), None
    except InvalidEvent as error:
        return None, error.detail


def test_labels_agree_with_python() -> None:
    cases = [
        LABEL,
        {**LABEL, "is_fraud": 0, "scenario": None},
        {**LABEL, "is_fraud": 2},
        {**LABEL, "is_fraud": True},
        {**LABEL, "card_id": "4111 1111 1111 1111"},
        {**LABEL, "card_id": "c-1"},
        {**LABEL, "merchant_id": "4111111111111111"},
        {**LABEL, "event_time": "yesterday"},
        {**LABEL, "label_time": "1999-12-31T23:59:59Z"},
        {k: v for k, v in LABEL.items() if k != "merchant_id"},
        {**LABEL, "extra": 1},
    ]
    payloads = [json.dumps(case).encode() for case in cases] + [b"{oops", b"[]"]
    rows = validate_labels(pa.array(payloads, pa.binary()))
    assert rows.schema == LABELS_OUT
    for payload, row in zip(payloads, rows.to_pylist(), strict=True):
        label, detail = label_reference(payload)
        if label is None:
            assert (row["reason"], row["detail"]) == ("bad_label", detail), payload
            assert row["raw"] is not None
            continue
        assert row["reason"] is None
        assert (row["transaction_id"], row["is_fraud"], row["scenario"]) == (
            label.transaction_id,
            label.is_fraud,
            label.scenario,
        )
        assert row["label_event_time"] == label.event_time and row["label_time"] == label.label_time


# --- card numbers never reach the output (defect: issue 14, item 2) ----------------------


def _luhn_digits(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


card_numbers = st.builds(
    lambda prefix, length, style: _format(_luhn_digits(prefix, length), style),
    st.sampled_from(["4", "51", "37", "6011", "35"]),
    st.integers(min_value=13, max_value=19),
    st.sampled_from(["plain", "spaces", "dashes"]),
)


def _format(digits: str, style: str) -> str:
    if style == "plain" or len(digits) != 16:
        return digits
    sep = " " if style == "spaces" else "-"
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _exposed(text: str | None, number: str) -> bool:
    """Whether ``number``'s digits appear unmasked in ``text`` (separators ignored)."""
    if not text:
        return False
    digits = re.sub(r"\D", "", number)
    return digits in re.sub(r"[ -]", "", text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=card_numbers, where=st.sampled_from([*GOOD, "key", "label"]))
def test_no_card_number_survives_validation(number: str, where: str) -> None:
    """A card number in any field, as a key, or in a label, is rejected or masked: it appears
    in no column of the output (raw, detail, or a value)."""
    if where == "label":
        field = ["transaction_id", "card_id", "merchant_id", "scenario"][len(number) % 4]
        payload = json.dumps({**LABEL, field: number}).encode()
        table = validate_labels(pa.array([payload], pa.binary()))
    else:
        data = {**GOOD, number: 1} if where == "key" else {**GOOD, where: number}
        payload = json.dumps(data).encode()
        table = validate_events(pa.array([payload], pa.binary()), np.array([NOW_US]))
    (row,) = table.to_pylist()
    leaks = [
        name for name, value in row.items() if isinstance(value, str) and _exposed(value, number)
    ]
    assert not leaks, f"{number} in {leaks}: {row}"


def test_card_numbers_in_ids_are_refused_and_masked() -> None:
    rows = validated(
        [
            event(transaction_id="4111111111111111"),
            event(merchant_id="m-5555555555554444"),
            event(merchant_category="4111 1111 1111 1111"),
            event(schema_version=4111111111111111),
            event(transaction_id="tx-3f2a1b9c77-0000000123"),  # an id, not a card number
        ]
    )
    assert [r["reason"] for r in rows] == [
        "raw_card_number",
        "raw_card_number",
        "raw_card_number",
        "unknown_schema_version",
        None,
    ]
    assert rows[3]["detail"] == "schema_version ************1111 is not supported"


def test_event_times_before_2000_are_refused() -> None:
    (row,) = validated([event(event_time="1999-12-31T23:59:59Z")])
    assert (row["reason"], row["detail"]) == ("bad_timestamp", "event_time is before 2000-01-01")
    with pytest.raises(InvalidEvent, match="before 2000"):
        parse_event(event(event_time="1970-01-01T00:00:00Z"), now=datetime.now(UTC))


def test_every_field_of_a_valid_row_is_typed() -> None:
    (row,) = validated([event()])
    assert row["reason"] is None
    for spec in EVENT_FIELDS:
        assert row[spec.name] is not None, spec.name
    assert row["event_time"] == datetime(2026, 11, 22, 11, 59, 30, 123000, tzinfo=UTC)
