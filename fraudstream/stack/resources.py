"""The AWS resources the platform needs, created idempotently.

`fraudstream stack up` calls :func:`ensure_resources` against the emulator (or LocalStack);
Terraform's ``envs/local`` creates the same names and keys, and a test compares the two.
On real AWS, Terraform owns these resources and this module is not used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fraudstream import aws
from fraudstream.errors import StackError
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

# DynamoDB alerts table layout. A replayed decision for the same transaction writes the same
# (card_id, alert_key) item, and one card's alerts read back in time order.
ALERTS_HASH_KEY = "card_id"
ALERTS_RANGE_KEY = "alert_key"  # "<event_time RFC 3339>#<transaction_id>"
ALERTS_TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class StackResources:
    """What `ensure_resources` created or found."""

    streams: dict[str, str]  # name -> ARN
    bucket: str
    alerts_table: str


def _ensure_stream(kinesis: Any, name: str, shards: int, timeout: float) -> str:
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        log.info("created stream %s with %d shards", name, shards)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    deadline = time.monotonic() + timeout
    while True:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            arn: str = summary["StreamARN"]
            return arn
        if time.monotonic() > deadline:
            raise StackError(f"stream {name} did not become ACTIVE within {timeout:.0f}s")
        time.sleep(0.5)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        log.info("created bucket %s", bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def _ensure_table(dynamodb: Any, table: str, timeout: float) -> None:
    try:
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": ALERTS_HASH_KEY, "AttributeType": "S"},
                {"AttributeName": ALERTS_RANGE_KEY, "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": ALERTS_HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": ALERTS_RANGE_KEY, "KeyType": "RANGE"},
            ],
            SSESpecification={"Enabled": True},
        )
        log.info("created table %s", table)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 0.5, "MaxAttempts": max(1, int(timeout / 0.5))}
    )
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ALERTS_TTL_ATTRIBUTE},
        )


def ensure_resources(settings: Settings, timeout: float = 30.0) -> StackResources:
    """Create the streams, bucket and table if missing; safe to call any number of times."""
    kinesis = aws.client("kinesis", settings)
    streams = {
        settings.stream_name: _ensure_stream(
            kinesis, settings.stream_name, settings.stream_shards, timeout
        ),
        settings.labels_stream_name: _ensure_stream(
            kinesis, settings.labels_stream_name, settings.labels_stream_shards, timeout
        ),
    }
    _ensure_bucket(aws.client("s3", settings), settings.bucket, settings.region)
    _ensure_table(aws.client("dynamodb", settings), settings.alerts_table, timeout)
    return StackResources(
        streams=streams, bucket=settings.bucket, alerts_table=settings.alerts_table
    )
