"""The end-to-end tests' malformed records: each earns its reason from both validators, and the
catalogue names every reason the validators can give."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fraudstream import events
from fraudstream.events import InvalidEvent, LabelRecord, TransactionEvent, parse_event, parse_label
from processor.validation import fallback
from processor.validation.arrow import validate_events, validate_labels
from tests.fraudstream.bad_records import (
    CARD_NUMBER,
    EVENT_REASONS,
    LABEL_REASONS,
    bad_events,
    bad_labels,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EVENT = TransactionEvent(
    transaction_id="tx-1",
    card_id="tok_0123456789abcdef_4242",
    merchant_id="m-1",
    amount=12.5,
    currency="EUR",
    event_time=NOW - timedelta(hours=1),
    channel="online",
    lat=48.85,
    lon=2.35,
)
LABEL = LabelRecord("tx-1", EVENT.card_id, "m-1", True, "amount_spike", EVENT.event_time, NOW)


def reasons_in_source() -> set[str]:
    """Every reason code written in the validators' source: the first argument of each
    ``InvalidEvent(...)``, a ``reason=`` keyword, or a string assigned to ``reason``."""
    found: set[str] = set()
    for path in (Path(events.__file__), Path(fallback.__file__)):
        for node in ast.walk(ast.parse(path.read_text())):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name == "InvalidEvent" and node.args:
                    values.append(node.args[0])
                values += [k.value for k in node.keywords if k.arg == "reason"]
            elif isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") == "reason" for t in node.targets
            ):
                values.append(node.value)
            for value in values:
                found |= _strings(value)
    return found


def _strings(node: ast.expr) -> set[str]:
    """The string a reason expression can take: a literal, or either arm of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def test_the_catalogue_names_every_reason_the_validators_give() -> None:
    assert reasons_in_source() == set(EVENT_REASONS) | set(LABEL_REASONS)
    assert {reason for reason, _ in bad_events(EVENT.to_dict(), NOW)} == set(EVENT_REASONS)
    assert {reason for reason, _ in bad_labels(LABEL)} == set(LABEL_REASONS)


def test_each_bad_event_earns_its_reason_from_both_validators() -> None:
    records = bad_events(EVENT.to_dict(), NOW)
    for reason, payload in records:
        with pytest.raises(InvalidEvent) as refused:
            parse_event(payload, now=NOW)
        assert refused.value.reason == reason, payload
    now_us = np.full(len(records), int(NOW.timestamp() * 1_000_000))
    verdicts = validate_events(pa.array([p for _, p in records], pa.binary()), now_us)
    assert verdicts["reason"].to_pylist() == [reason for reason, _ in records]
    assert not any(CARD_NUMBER in raw for raw in verdicts["raw"].to_pylist())


def test_each_bad_label_is_refused_by_both_validators() -> None:
    records = bad_labels(LABEL)
    for _, payload in records:
        with pytest.raises(InvalidEvent) as refused:
            parse_label(payload)
        assert refused.value.reason == "bad_label"
    verdicts = validate_labels(pa.array([p for _, p in records], pa.binary()))
    assert verdicts["reason"].to_pylist() == ["bad_label"] * len(records)
    assert not any(CARD_NUMBER in raw for raw in verdicts["raw"].to_pylist())
