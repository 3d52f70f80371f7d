"""Fault injection in the emulator, checked through real boto3 calls over HTTP."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from fraudstream import aws
from fraudstream.settings import Settings
from fraudstream.stack.faults import CONTROL_PATH, Fault, FaultPlan
from fraudstream.stream_dump import read_stream

pytestmark = pytest.mark.integration
Faults = Callable[..., dict[str, Any]]


def injected(faults: Faults) -> dict[str, int]:
    return dict(faults.status()["injected"])  # type: ignore[attr-defined]


def test_put_records_partial_failure_is_not_stored(fresh_streams: Settings, faults: Faults) -> None:
    faults(Fault("PutRecords", "partial", fraction=0.5), seed=1)
    kinesis = aws.client("kinesis", fresh_streams, max_attempts=1)
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(100)]
    response = kinesis.put_records(StreamName=fresh_streams.stream_name, Records=records)
    failed = [i for i, r in enumerate(response["Records"]) if "ErrorCode" in r]
    assert response["FailedRecordCount"] == len(failed) and 20 < len(failed) < 80
    assert all(
        response["Records"][i]["ErrorCode"] == "ProvisionedThroughputExceededException"
        for i in failed
    )
    assert all("SequenceNumber" in r for r in response["Records"] if "ErrorCode" not in r)
    stored = [r.data for r in read_stream(kinesis, fresh_streams.stream_name)]
    assert sorted(stored) == sorted(f"r{i}".encode() for i in range(100) if i not in failed)
    assert injected(faults) == {"PutRecords:partial": len(failed)}


def test_throttled_calls(fresh_streams: Settings, faults: Faults) -> None:
    faults(Fault("PutRecords"), Fault("GetRecords"))
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
    assert injected(faults) == {"PutRecords:error": 1, "GetRecords:error": 1}


def test_batch_write_unprocessed_items_are_not_written(
    local_stack: Settings, faults: Faults
) -> None:
    faults(Fault("BatchWriteItem", "partial", fraction=0.4, times=1), seed=3)
    dynamodb = aws.client("dynamodb", local_stack, max_attempts=1)
    card = f"tok_{uuid.uuid4().hex[:8]}"
    items = [
        {"PutRequest": {"Item": {"card_id": {"S": card}, "alert_key": {"S": f"k{i:02d}"}}}}
        for i in range(25)
    ]
    response = dynamodb.batch_write_item(RequestItems={local_stack.alerts_table: items})
    unprocessed = response["UnprocessedItems"].get(local_stack.alerts_table, [])
    assert 0 < len(unprocessed) < 25

    def stored() -> set[str]:
        rows = dynamodb.query(
            TableName=local_stack.alerts_table,
            KeyConditionExpression="card_id = :c",
            ExpressionAttributeValues={":c": {"S": card}},
        )["Items"]
        return {i["alert_key"]["S"] for i in rows}

    missing = {u["PutRequest"]["Item"]["alert_key"]["S"] for u in unprocessed}
    assert stored() == {f"k{i:02d}" for i in range(25)} - missing
    # times=1: the retry of the unprocessed items goes through
    retry = dynamodb.batch_write_item(RequestItems={local_stack.alerts_table: unprocessed})
    assert retry["UnprocessedItems"] == {} and len(stored()) == 25
    assert injected(faults) == {"BatchWriteItem:partial": len(unprocessed)}
    faults(Fault("BatchWriteItem"))
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        dynamodb.batch_write_item(RequestItems={local_stack.alerts_table: items[:1]})


def test_errors_disconnects_and_lost_answers(local_stack: Settings, faults: Faults) -> None:
    faults(
        Fault("ListTables", code="ThrottlingException", times=1),
        Fault("s3:PUT", code="SlowDown", status=503, path=r"/slow/", times=1),
        Fault("DescribeTable", "disconnect", times=1),
        Fault("s3:PUT", "answer_lost", path=r"/lost/", times=1),
    )
    dynamodb = aws.client("dynamodb", local_stack, max_attempts=1)
    with pytest.raises(ClientError) as throttled:
        dynamodb.list_tables()
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    dynamodb.list_tables()  # times=1: the next call goes through

    s3 = aws.client("s3", local_stack, max_attempts=1)
    with pytest.raises(ClientError) as slow:
        s3.put_object(Bucket=local_stack.bucket, Key="faults/slow/x", Body=b"x")
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    s3.put_object(Bucket=local_stack.bucket, Key="faults/slow/x", Body=b"x")

    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        dynamodb.describe_table(TableName=local_stack.alerts_table)
    dynamodb.describe_table(TableName=local_stack.alerts_table)

    with pytest.raises(ClientError, match="InternalError"):
        s3.put_object(Bucket=local_stack.bucket, Key="faults/lost/x", Body=b"kept")
    body = s3.get_object(Bucket=local_stack.bucket, Key="faults/lost/x")["Body"].read()
    assert body == b"kept"  # the call took effect; only its answer was lost
    assert injected(faults) == {
        "ListTables:error": 1,
        "s3:PUT:error": 1,
        "DescribeTable:disconnect": 1,
        "s3:PUT:answer_lost": 1,
    }


def test_probability_is_seeded(local_stack: Settings, faults: Faults) -> None:
    client = aws.client("dynamodb", local_stack, max_attempts=1)

    def run() -> int:
        faults(Fault("ListTables", code="ThrottlingException", probability=0.5), seed=5)
        for _ in range(20):
            with contextlib.suppress(ClientError):
                client.list_tables()
        return injected(faults)["ListTables:error"]

    first = run()
    assert 0 < first < 20
    assert run() == first


def test_control_endpoint_rejects_bad_plans(local_stack: Settings) -> None:
    url = (local_stack.endpoint_url or "") + CONTROL_PATH
    plan = {"faults": [{"operation": "PutRecords", "probability": 2}]}
    bad = urllib.request.Request(url, data=json.dumps(plan).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(bad)
    assert caught.value.code == 400 and b"within [0, 1]" in caught.value.read()
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.from_json('{"faults": [{"operation": "PutRecords", "explode": 1}]}')
    with pytest.raises(ValueError, match="partial applies to"):
        Fault("GetRecords", "partial")
    with pytest.raises(ValueError, match="effect must be"):
        Fault("GetRecords", "explode")
    plan_json = FaultPlan((Fault("PutRecords", "partial", fraction=0.2),), seed=4).to_json()
    assert FaultPlan.from_json(plan_json) == FaultPlan(
        (Fault("PutRecords", "partial", fraction=0.2),), seed=4
    )
