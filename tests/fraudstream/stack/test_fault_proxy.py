"""The fault proxy forwards faithfully and injects real partial failures from a real server."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from fraudstream import aws
from fraudstream.settings import Settings
from fraudstream.stack.fault_proxy import (
    FaultProxy,
    aws_json_error,
    disconnect,
    failed_records,
    fault_proxy,
    s3_error,
    target_is,
    unprocessed_items,
)
from fraudstream.stack.resources import ensure_table

pytestmark = pytest.mark.integration


@pytest.fixture
def proxied(local_stack: Settings) -> Iterator[tuple[FaultProxy, Settings]]:
    assert local_stack.endpoint_url is not None
    with fault_proxy(local_stack.endpoint_url, seed=11) as proxy:
        yield proxy, local_stack.model_copy(update={"endpoint_url": proxy.url})


def test_requests_pass_through_unchanged(proxied: tuple[FaultProxy, Settings]) -> None:
    proxy, settings = proxied
    s3 = aws.client("s3", settings)
    body = bytes(range(256)) * 1000
    s3.put_object(Bucket=settings.bucket, Key="faults/blob", Body=body)
    assert s3.get_object(Bucket=settings.bucket, Key="faults/blob")["Body"].read() == body
    assert s3.head_object(Bucket=settings.bucket, Key="faults/blob")["ContentLength"] == len(body)
    s3.delete_object(Bucket=settings.bucket, Key="faults/blob")
    dynamodb = aws.client("dynamodb", settings)
    assert settings.alerts_table in dynamodb.list_tables()["TableNames"]
    assert proxy.requests["DynamoDB_20120810.ListTables"] == 1
    assert proxy.injected() == {}


def test_unprocessed_items_are_really_not_written(proxied: tuple[FaultProxy, Settings]) -> None:
    proxy, settings = proxied
    table = f"faults-{uuid.uuid4().hex[:8]}"
    # only the table: the whole stack's resources (streams, Delta lake tables, Glue) through
    # the proxy took minutes and are not what this test is about
    ensure_table(aws.client("dynamodb", settings), table, 30.0)
    proxy.add(unprocessed_items(0.5, times=1))
    writes = [
        {"PutRequest": {"Item": {"card_id": {"S": "c"}, "alert_key": {"S": f"k{i:02d}"}}}}
        for i in range(20)
    ]
    dynamodb = aws.client("dynamodb", settings, max_attempts=1)
    response = dynamodb.batch_write_item(RequestItems={table: writes})
    unprocessed = response["UnprocessedItems"][table]
    assert 0 < len(unprocessed) < 20
    stored = dynamodb.scan(TableName=table)["Items"]
    assert len(stored) == 20 - len(unprocessed)
    held_back = {w["PutRequest"]["Item"]["alert_key"]["S"] for w in unprocessed}
    assert held_back.isdisjoint(i["alert_key"]["S"] for i in stored)
    assert dynamodb.batch_write_item(RequestItems={table: unprocessed})["UnprocessedItems"] == {}
    assert len(dynamodb.scan(TableName=table)["Items"]) == 20


def test_put_records_partial_failure(proxied: tuple[FaultProxy, Settings]) -> None:
    proxy, settings = proxied
    stream = f"faults-{uuid.uuid4().hex[:8]}"
    kinesis = aws.client("kinesis", settings, max_attempts=1)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    proxy.add(failed_records(0.3, times=1))
    records = [{"Data": f"r{i}".encode(), "PartitionKey": "p"} for i in range(10)]
    response = kinesis.put_records(StreamName=stream, Records=records)
    failed = [i for i, r in enumerate(response["Records"]) if "ErrorCode" in r]
    assert response["FailedRecordCount"] == len(failed) > 0
    assert all("SequenceNumber" in r for r in response["Records"] if "ErrorCode" not in r)
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    data = [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]]
    assert data == [f"r{i}".encode() for i in range(10) if i not in failed]
    kinesis.delete_stream(StreamName=stream)
    assert base64  # records travel base64-encoded; the proxy rewrote them intact


def test_throttling_errors_s3_errors_and_disconnects(proxied: tuple[FaultProxy, Settings]) -> None:
    proxy, settings = proxied
    proxy.add(aws_json_error("ListTables", "ProvisionedThroughputExceededException", times=1))
    dynamodb = aws.client("dynamodb", settings, max_attempts=1)
    with pytest.raises(ClientError) as throttled:
        dynamodb.list_tables()
    assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    dynamodb.list_tables()  # times=1: the next call goes through

    proxy.add(s3_error(method="PUT", path=r"/slow/", times=1))
    s3 = aws.client("s3", settings, max_attempts=1)
    with pytest.raises(ClientError) as slow:
        s3.put_object(Bucket=settings.bucket, Key="slow/x", Body=b"x")
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    s3.put_object(Bucket=settings.bucket, Key="slow/x", Body=b"x")

    proxy.add(disconnect(target_is("DescribeTable"), times=1))
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        dynamodb.describe_table(TableName=settings.alerts_table)
    assert proxy.injected() == {
        "ListTables:ProvisionedThroughputExceededException": 1,
        "s3:PUT:SlowDown": 1,
        "disconnect": 1,
    }


def test_probability_is_seeded(local_stack: Settings) -> None:
    assert local_stack.endpoint_url is not None

    def run() -> int:
        fault = aws_json_error("ListTables", "ThrottlingException", probability=0.5)
        with fault_proxy(local_stack.endpoint_url or "", fault, seed=5) as proxy:
            client = aws.client(
                "dynamodb",
                local_stack.model_copy(update={"endpoint_url": proxy.url}),
                max_attempts=1,
            )
            for _ in range(20):
                with contextlib.suppress(ClientError):
                    client.list_tables()
            return fault.injected

    first = run()
    assert 0 < first < 20
    assert run() == first


def test_upstream_must_be_http() -> None:
    with pytest.raises(ValueError, match="http://"):
        FaultProxy("https://example.com")
