"""The webhook body for a block decision: pure."""

from __future__ import annotations

import json

from fraudstream.alerting.message import block_message, escape
from fraudstream.live.alerts import Alert

ALERT = Alert(
    card_id="tok_1f2e3d4c5b6a7988_4242",
    alert_key="2026-11-22T10:00:00.123Z#tx-77",
    transaction_id="tx-77",
    decision="block",
    event_time="2026-11-22T10:00:00.123Z",
    score=0.98765,
    reasons=("rule:amount_over_limit", "model:score_above_block"),
    amount=1234.5,
    currency="EUR",
    merchant_id="terminal-42",
    model_version="xgb-2026-11-01",
)


def test_text_carries_card_amount_merchant_score_reasons_and_time() -> None:
    text = block_message(ALERT)["text"]
    for part in (
        "tok_1f2e3d4c5b6a7988_4242",
        "1,234.50 EUR",
        "terminal-42",
        "0.988",
        "rule:amount_over_limit, model:score_above_block",
        "2026-11-22T10:00:00.123Z",
        "tx-77",
    ):
        assert part in text


def test_blocks_render_the_same_fields_and_the_body_is_json() -> None:
    message = block_message(ALERT)
    assert json.loads(json.dumps(message)) == message
    fields = message["blocks"][1]["fields"]
    assert len(fields) <= 10  # Slack's limit per section
    assert any("terminal-42" in f["text"] for f in fields)


def test_missing_values_are_named_not_crashing() -> None:
    sparse = Alert(card_id="c", alert_key="k", transaction_id="t", decision="block", event_time="e")
    text = block_message(sparse)["text"]
    assert "unknown amount" in text and "score n/a" in text and "none given" in text


def test_control_characters_cannot_inject_links_or_mentions() -> None:
    hostile = Alert(
        card_id="c",
        alert_key="k",
        transaction_id="t",
        decision="block",
        event_time="e",
        merchant_id="<!channel> <https://evil.example|click> & co",
    )
    message = block_message(hostile)
    assert "<" not in message["text"] and ">" not in message["text"]
    assert "&lt;!channel&gt;" in message["text"]
    assert escape("a&b") == "a&amp;b"
