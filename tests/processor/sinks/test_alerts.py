"""The alerts sink: item shaping, then real BatchWriteItem over HTTP, with injected faults."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from fraudstream import aws
from fraudstream.retry import Backoff
from fraudstream.settings import Settings
from fraudstream.stack.faults import Fault
from fraudstream.stack.resources import ensure_resources
from processor.errors import SinkError
from processor.sinks.alerts import (
    AlertSchemaError,
    AlertWriter,
    alert_items,
    alert_key,
    chunks,
)
from tests.processor.sinks.rows import transactions

Faults = Callable[..., dict[str, Any]]


def test_only_review_and_block_rows_become_items() -> None:
    frame = transactions(15)
    items, repeats = alert_items(frame, ttl_days=90)
    assert repeats == 0
    expected = frame[frame["decision"] != "approve"]
    assert [i["transaction_id"]["S"] for i in items] == expected["transaction_id"].tolist()
    first = items[0]
    row = expected.iloc[0]
    event_time = row["event_time"].to_pydatetime()
    assert first["card_id"] == {"S": row["card_id"]}
    assert first["alert_key"] == {
        "S": f"{event_time:%Y-%m-%dT%H:%M:%S}.000Z#{row['transaction_id']}"
    }
    assert first["decision"] == {"S": "review"}
    assert first["score"] == {"N": "0.6"}
    assert first["reasons"] == {"L": [{"S": "high_model_score"}, {"S": "model:amount"}]}
    assert float(first["amount"]["N"]) == float(row["amount"])
    assert first["merchant_id"] == {"S": row["merchant_id"]}
    assert first["model_version"] == {"S": "xgb-2026-11-01"}
    assert first["event_time"] == {"S": f"{event_time:%Y-%m-%dT%H:%M:%S}.000Z"}
    assert first["expires_at"] == {"N": str(int((event_time + timedelta(days=90)).timestamp()))}
    assert first["currency"] == {"S": "EUR"}


def test_items_from_arrow_with_naive_times_missing_scores_and_no_optionals() -> None:
    moment = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "transaction_id": ["t1"],
            "card_id": ["tok_0000000000000001_0001"],
            "merchant_id": [None],
            "amount": [12],
            "event_time": pa.array([moment], pa.timestamp("us")),
            "score": [float("nan")],
            "decision": ["block"],
            "reasons": pa.array([None], pa.list_(pa.string())),
            "model_version": ["v1"],
        }
    )
    (item,), _ = alert_items(table, ttl_days=1)
    assert item["alert_key"] == {"S": "2026-11-22T10:00:00.123Z#t1"}
    assert item["score"] == {"NULL": True}
    assert item["merchant_id"] == {"NULL": True}
    assert item["reasons"] == {"L": []}
    assert item["amount"] == {"N": "12"}
    assert "currency" not in item
    with pytest.raises(AlertSchemaError, match="lack: score"):
        alert_items(table.drop_columns(["score"]), ttl_days=1)


def test_duplicate_keys_are_dropped_and_batches_hold_25() -> None:
    frame = transactions(30)
    doubled = pd.concat([frame, frame.assign(score=0.99)])
    items, dropped = alert_items(doubled, 90)
    assert dropped == len(items)
    assert all(i["score"]["N"] == "0.99" for i in items)  # the last copy wins
    sizes = [len(c) for c in chunks(list(range(60)))]  # type: ignore[arg-type]
    assert sizes == [25, 25, 10]
    assert alert_key(datetime(2026, 1, 1, tzinfo=UTC), "x") == "2026-01-01T00:00:00.000Z#x"


# --- against the emulator -------------------------------------------------------------


@pytest.fixture
def alerts(local_stack: Settings) -> Settings:
    """Settings with a fresh alerts table (same keys and TTL as the real one)."""
    settings = local_stack.model_copy(update={"alerts_table": f"alerts-{uuid.uuid4().hex[:8]}"})
    ensure_resources(settings)
    return settings


def stored(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    dynamodb = aws.client("dynamodb", settings)
    pages = dynamodb.get_paginator("scan").paginate(TableName=settings.alerts_table)
    items = [item for page in pages for item in page["Items"]]
    return {(i["card_id"]["S"], i["alert_key"]["S"]): i for i in items}


@pytest.mark.integration
def test_writes_alerts_and_a_replay_writes_the_same_items(alerts: Settings) -> None:
    frame = transactions(120)
    with AlertWriter(alerts) as writer:
        first = writer.write(frame)
        assert first.items == len(frame[frame["decision"] != "approve"])
        assert first.requests >= 3
        once = stored(alerts)
        writer.write(pd.concat([frame, frame]))  # a replay, with every row twice
    assert stored(alerts) == once
    assert len(once) == first.items
    ttl = aws.client("dynamodb", alerts).describe_time_to_live(TableName=alerts.alerts_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


@pytest.mark.integration
def test_unprocessed_items_from_the_server_are_requeued(alerts: Settings, faults: Faults) -> None:
    frame = transactions(200)
    slept: list[float] = []
    faults(Fault("BatchWriteItem", "partial", fraction=0.4, times=12), seed=3)
    with AlertWriter(alerts, sleep=slept.append, backoff=Backoff(base=0.001)) as writer:
        result = writer.write(frame)
    withheld = faults.status()["injected"]["BatchWriteItem:partial"]  # type: ignore[attr-defined]
    assert result.unprocessed == withheld > 0
    assert result.requests > -(-result.items // 25)
    assert len(slept) > 0
    assert len(stored(alerts)) == result.items


@pytest.mark.integration
def test_throttling_is_retried_and_persistent_throttling_fails(
    alerts: Settings, faults: Faults
) -> None:
    frame = transactions(40)
    faults(Fault("BatchWriteItem", times=3))
    with AlertWriter(alerts, sleep=lambda s: None) as writer:
        result = writer.write(frame)
    assert result.throttled == 3
    assert len(stored(alerts)) == result.items
    faults(Fault("BatchWriteItem"))
    with (
        AlertWriter(alerts, sleep=lambda s: None, max_attempts=2) as writer,
        pytest.raises(SinkError, match="2 times in a row"),
    ):
        writer.write(frame)
    faults(Fault("BatchWriteItem", "partial", fraction=1.0))
    with (
        AlertWriter(alerts, sleep=lambda s: None, max_attempts=3) as writer,
        pytest.raises(SinkError, match="still unprocessed"),
    ):
        writer.write(frame)


@pytest.mark.integration
def test_a_missing_table_is_not_retried(alerts: Settings) -> None:
    missing = alerts.model_copy(update={"alerts_table": "no-such-table"})
    with (
        AlertWriter(missing, sleep=lambda s: None) as writer,
        pytest.raises(SinkError, match="ResourceNotFoundException"),
    ):
        writer.write(transactions(5))
