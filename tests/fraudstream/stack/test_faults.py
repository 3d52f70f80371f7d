"""Fault injection in the emulator, checked through real boto3 calls over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws
from fraudstream.settings import Settings
from fraudstream.stack.faults import CONTROL_PATH, FaultPlan
from fraudstream.stream_dump import read_stream

pytestmark = pytest.mark.integration


def test_put_records_partial_failure_is_not_stored(
    fresh_streams: Settings, faults: Callable[..., dict[str, Any]]
) -> None:
    faults(put_records_fail_fraction=0.5, seed=1)
    kinesis = aws.client("kinesis", fresh_streams, max_attempts=1)
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(100)]
    response = kinesis.put_records(StreamName=fresh_streams.stream_name, Records=records)
    failed = [i for i, r in enumerate(response["Records"]) if "ErrorCode" in r]
    assert response["FailedRecordCount"] == len(failed) and 20 < len(failed) < 80
    assert all(
        response["Records"][i]["ErrorCode"] == "ProvisionedThroughputExceededException"
        for i in failed
    )
    stored = {r.data for r in read_stream(kinesis, fresh_streams.stream_name)}
    assert stored == {f"r{i}".encode() for i in range(100) if i not in failed}
    assert faults.status()["injected"]["put_records_failed_records"] == len(failed)  # type: ignore[attr-defined]


def test_throttled_calls(fresh_streams: Settings, faults: Callable[..., dict[str, Any]]) -> None:
    faults(put_records_throttle_fraction=1.0, get_records_throttle_fraction=1.0)
    kinesis = aws.client("kinesis", fresh_streams, max_attempts=1)
    with pytest.raises(ClientError) as caught:
        kinesis.put_records(
            StreamName=fresh_streams.stream_name, Records=[{"Data": b"x", "PartitionKey": "k"}]
        )
    assert caught.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    shard = kinesis.list_shards(StreamName=fresh_streams.stream_name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=fresh_streams.stream_name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        kinesis.get_records(ShardIterator=iterator)


def test_batch_write_unprocessed_items_are_not_written(
    local_stack: Settings, faults: Callable[..., dict[str, Any]]
) -> None:
    faults(batch_write_unprocessed_fraction=0.4, seed=3)
    dynamodb = aws.client("dynamodb", local_stack, max_attempts=1)
    items = [
        {"PutRequest": {"Item": {"card_id": {"S": "tok_faults"}, "alert_key": {"S": f"k{i:02d}"}}}}
        for i in range(25)
    ]
    response = dynamodb.batch_write_item(RequestItems={local_stack.alerts_table: items})
    unprocessed = response["UnprocessedItems"].get(local_stack.alerts_table, [])
    assert 0 < len(unprocessed) < 25
    stored = dynamodb.query(
        TableName=local_stack.alerts_table,
        KeyConditionExpression="card_id = :c",
        ExpressionAttributeValues={":c": {"S": "tok_faults"}},
    )["Items"]
    missing = {u["PutRequest"]["Item"]["alert_key"]["S"] for u in unprocessed}
    assert {i["alert_key"]["S"] for i in stored} == {f"k{i:02d}" for i in range(25)} - missing
    faults(batch_write_throttle_fraction=1.0)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        dynamodb.batch_write_item(RequestItems={local_stack.alerts_table: items[:1]})


def test_control_endpoint_rejects_bad_plans(local_stack: Settings) -> None:
    url = (local_stack.endpoint_url or "") + CONTROL_PATH
    bad = urllib.request.Request(
        url, data=json.dumps({"put_records_fail_fraction": 2}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(bad)
    assert caught.value.code == 400 and b"within [0, 1]" in caught.value.read()
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.from_json('{"explode": 1}')
