"""The newest alerts: item parsing (pure), then real Queries of the index in the emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fraudstream import aws
from fraudstream.live.alerts import (
    ALERT_DECISIONS,
    Alert,
    AlertReader,
    AlertsUnavailableError,
    alert_from_item,
    newest,
)
from fraudstream.settings import Settings
from fraudstream.stack.resources import ensure_resources
from processor.sinks import alerts as sink
from tests.fraudstream.live.simulated import COMMIT, HOSTILE_REASON, alert_rows, write_alerts


def test_the_decisions_read_are_the_ones_the_processor_writes() -> None:
    assert ALERT_DECISIONS == sink.ALERT_DECISIONS


def test_an_item_as_the_writer_stores_it_reads_back_whole() -> None:
    rows = alert_rows(10)
    items, _ = sink.alert_items(rows, ttl_days=90)
    alert = alert_from_item(items[0])
    row = rows[rows["transaction_id"] == alert.transaction_id].iloc[0]
    assert alert.card_id == row["card_id"]
    assert alert.decision == row["decision"]
    assert alert.alert_key == items[0]["alert_key"]["S"]
    assert alert.event_time == alert.alert_key.split("#")[0]
    assert alert.score == pytest.approx(row["score"])
    assert alert.amount == pytest.approx(row["amount"])
    assert (alert.currency, alert.merchant_id) == ("EUR", row["merchant_id"])
    assert alert.scored_by == "endpoint"
    assert alert.model_version == "xgb-2026-11-01"
    assert alert.reasons == tuple(row["reasons"])
    assert alert.to_json()["reasons"] == list(row["reasons"])


def test_a_sparse_or_older_item_still_reads() -> None:
    item = {
        "card_id": {"S": "tok_00000000000000aa_1234"},
        "alert_key": {"S": "2026-11-22T10:00:00.000Z#tx-1"},
        "score": {"NULL": True},
        "amount": {"N": "not-a-number"},
        "reasons": {"L": [{"S": "rule:x"}, {"NULL": True}]},
    }
    alert = alert_from_item(item)
    assert alert.transaction_id == "tx-1"
    assert alert.event_time == "2026-11-22T10:00:00.000Z"
    assert (alert.score, alert.amount, alert.decision) == (None, None, "")
    assert alert.reasons == ("rule:x",)


def _alert(key: str, card: str = "c") -> Alert:
    return Alert(card, key, key.split("#")[1], "block", key.split("#")[0])


def test_newest_merges_newest_first_lists_once_each() -> None:
    blocks = [_alert("2026-01-03#c"), _alert("2026-01-01#a")]
    reviews = [_alert("2026-01-04#d"), _alert("2026-01-03#c"), _alert("2026-01-02#b")]
    merged = newest([blocks, reviews], limit=3)
    assert [a.transaction_id for a in merged] == ["d", "c", "b"]
    assert [a.transaction_id for a in newest([blocks, reviews], 10)] == ["d", "c", "b", "a"]


@pytest.mark.integration
def test_latest_reads_the_newest_alerts_of_both_decisions(alerts_settings: Settings) -> None:
    rows = alert_rows(60)
    write_alerts(alerts_settings, rows)
    # An older alert written later must not push out newer ones (newest = latest event time).
    write_alerts(alerts_settings, alert_rows(5, start=COMMIT - timedelta(days=30)))
    latest = AlertReader(alerts_settings).latest(limit=8)
    alerting = rows[rows["decision"] != "approve"].sort_values("event_time", ascending=False)
    assert [a.transaction_id for a in latest] == alerting["transaction_id"].head(8).tolist()
    assert {a.decision for a in latest} == {"review", "block"}
    hostile = [a for a in latest if HOSTILE_REASON in a.reasons]
    assert hostile and hostile[0].reasons == ("velocity_burst", HOSTILE_REASON)


@pytest.mark.integration
def test_an_empty_table_has_no_alerts(alerts_settings: Settings) -> None:
    assert AlertReader(alerts_settings).latest() == []
    with pytest.raises(ValueError, match="limit"):
        AlertReader(alerts_settings).latest(0)


@pytest.mark.integration
def test_a_missing_table_or_index_says_what_to_do(local_stack: Settings) -> None:
    missing = local_stack.model_copy(update={"alerts_table": "no-such-table"})
    with pytest.raises(AlertsUnavailableError, match="no-such-table or its"):
        AlertReader(missing).latest()

    bare = local_stack.model_copy(update={"alerts_table": "alerts-without-index"})
    aws.client("dynamodb", bare).create_table(
        TableName=bare.alerts_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "card_id", "AttributeType": "S"},
            {"AttributeName": "alert_key", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "card_id", "KeyType": "HASH"},
            {"AttributeName": "alert_key", "KeyType": "RANGE"},
        ],
    )
    with pytest.raises(AlertsUnavailableError, match="recent-by-decision index not found"):
        AlertReader(bare).latest()

    # A table made before the index existed gets it from `stack up`, items and all.
    write_alerts(bare, alert_rows(6))
    ensure_resources(bare)
    assert [a.transaction_id for a in AlertReader(bare).latest(2)] == ["tx-000005", "tx-000004"]
