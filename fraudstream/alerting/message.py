"""The webhook post for one block decision: Slack-compatible JSON, built without I/O.

``text`` carries everything on one line (card token, amount, merchant, score, reasons, event
time) so any Slack-compatible receiver (Slack, Mattermost, Rocket.Chat, a plain JSON hook)
shows a complete alert; ``blocks`` adds a tidier layout for receivers that render Block Kit.
Values come from the alerts table and are escaped as Slack's mrkdwn requires (``& < >``), so a
merchant id cannot inject a link or a mention.
"""

from __future__ import annotations

from typing import Any

from fraudstream.live.alerts import Alert


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _amount(alert: Alert) -> str:
    if alert.amount is None:
        return "unknown amount"
    currency = f" {alert.currency}" if alert.currency else ""
    return f"{alert.amount:,.2f}{currency}"


def _score(alert: Alert) -> str:
    return "n/a" if alert.score is None else f"{alert.score:.3f}"


def _reasons(alert: Alert) -> str:
    return ", ".join(alert.reasons) if alert.reasons else "none given"


def block_text(alert: Alert) -> str:
    """One line a person can act on, with every field the brief of an alert needs."""
    return escape(
        f"BLOCK: card {alert.card_id}, {_amount(alert)} at merchant "
        f"{alert.merchant_id or 'unknown'}, score {_score(alert)}, reasons: {_reasons(alert)}, "
        f"event time {alert.event_time} (transaction {alert.transaction_id}, model "
        f"{alert.model_version or 'unknown'})"
    )


def block_message(alert: Alert) -> dict[str, Any]:
    """The JSON body posted for ``alert``: ``text`` (always) and Block Kit ``blocks``."""
    fields = [
        ("Card", alert.card_id),
        ("Amount", _amount(alert)),
        ("Merchant", alert.merchant_id or "unknown"),
        ("Score", _score(alert)),
        ("Reasons", _reasons(alert)),
        ("Event time", alert.event_time),
        ("Transaction", alert.transaction_id),
        ("Model", alert.model_version or "unknown"),
    ]
    return {
        "text": block_text(alert),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "Fraudstream blocked a transaction"},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{escape(value)}"}
                    for name, value in fields
                ],
            },
        ],
    }
