"""The AWS resources the platform needs, created idempotently.

Streams, the lake bucket, the alerts table, the lake's Delta tables, and the Glue database and
tables that point Athena at them (from ``fraudstream/lake_tables.json``) so Athena-style queries
see the same tables everywhere.

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

from fraudstream import aws, lake_tables
from fraudstream.alerts_table import (
    ALERTS_HASH_KEY,
    ALERTS_RANGE_KEY,
    ALERTS_RECENT_INDEX,
    ALERTS_RECENT_INDEX_HASH_KEY,
    ALERTS_TTL_ATTRIBUTE,
)
from fraudstream.errors import StackError
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

# Glue tables: Delta tables at s3://<bucket>/<prefix>, which Athena (engine 3) reads natively: the
# files and partitions come from the table's _delta_log, so there is no crawler, no projection and
# no partition to register. dt and hour are ordinary columns of the Delta schema (its partition
# columns). Terraform's lake module sets the same parameters; a test compares the two.
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@dataclass(frozen=True)
class StackResources:
    """What `ensure_resources` created or found."""

    streams: dict[str, str]  # name -> ARN
    bucket: str
    alerts_table: str
    glue_database: str | None = None  # None when the endpoint has no Glue (LocalStack community)
    glue_tables: tuple[str, ...] = ()


def ensure_stream(kinesis: Any, name: str, shards: int, timeout: float) -> str:
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


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
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


ALERTS_ATTRIBUTES = [
    {"AttributeName": ALERTS_HASH_KEY, "AttributeType": "S"},
    {"AttributeName": ALERTS_RANGE_KEY, "AttributeType": "S"},
    {"AttributeName": ALERTS_RECENT_INDEX_HASH_KEY, "AttributeType": "S"},
]
ALERTS_RECENT_INDEX_SPEC = {
    "IndexName": ALERTS_RECENT_INDEX,
    "KeySchema": [
        {"AttributeName": ALERTS_RECENT_INDEX_HASH_KEY, "KeyType": "HASH"},
        {"AttributeName": ALERTS_RANGE_KEY, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}


def ensure_table(dynamodb: Any, table: str, timeout: float) -> None:
    waiter = {"Delay": 0.5, "MaxAttempts": max(1, int(timeout / 0.5))}
    try:
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=ALERTS_ATTRIBUTES,
            KeySchema=[
                {"AttributeName": ALERTS_HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": ALERTS_RANGE_KEY, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[ALERTS_RECENT_INDEX_SPEC],
            SSESpecification={"Enabled": True},
        )
        log.info("created table %s", table)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig=waiter)
    _ensure_recent_index(dynamodb, table, timeout)
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ALERTS_TTL_ATTRIBUTE},
        )


def _ensure_recent_index(dynamodb: Any, table: str, timeout: float) -> None:
    """Add the latest-alerts index to a table created before it existed; wait until ACTIVE."""
    description = dynamodb.describe_table(TableName=table)["Table"]
    indexes = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes") or []}
    if ALERTS_RECENT_INDEX not in indexes:
        dynamodb.update_table(
            TableName=table,
            AttributeDefinitions=ALERTS_ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": ALERTS_RECENT_INDEX_SPEC}],
        )
        log.info("added index %s to table %s", ALERTS_RECENT_INDEX, table)
    deadline = time.monotonic() + timeout
    while True:
        description = dynamodb.describe_table(TableName=table)["Table"]
        status = {
            i["IndexName"]: i.get("IndexStatus") for i in description["GlobalSecondaryIndexes"]
        }[ALERTS_RECENT_INDEX]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"index {ALERTS_RECENT_INDEX} of {table} not ACTIVE within {timeout:.0f}s"
            )
        time.sleep(0.5)


def _glue_columns(columns: tuple[lake_tables.Column, ...]) -> list[dict[str, str]]:
    return [{"Name": c.name, "Type": c.type, "Comment": c.comment} for c in columns]


def table_input(name: str, bucket: str) -> dict[str, Any]:
    """Glue ``TableInput`` of one lake table, from ``lake_tables.json``: a Delta table."""
    spec = lake_tables.table(name)
    location = f"s3://{bucket}/{spec.prefix}"
    return {
        "Name": name,
        "Description": spec.comment,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "table_type": "DELTA",
            "spark.sql.sources.provider": "delta",
        },
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Location": location,
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1", "path": location},
            },
            "Columns": _glue_columns(spec.columns + spec.partition_keys),
        },
    }


def _glue_unavailable(error: ClientError) -> bool:
    """True when the endpoint does not offer Glue at all (LocalStack's community edition)."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code", "")
    return status == 501 or code in ("NotImplemented", "InternalFailure")


def _ensure_glue(glue: Any, bucket: str) -> tuple[str, tuple[str, ...]]:
    """Create the lake's Glue database and tables; update a table whose definition drifted."""
    database = lake_tables.database()
    try:
        glue.create_database(
            DatabaseInput={"Name": database, "Description": "Fraudstream lake tables."}
        )
        log.info("created glue database %s", database)
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyExistsException":
            raise
    for name in lake_tables.table_names():
        wanted = table_input(name, bucket)
        try:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            log.info("created glue table %s.%s", database, name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            glue.update_table(DatabaseName=database, TableInput=wanted)
    return database, lake_tables.table_names()


def ensure_data_resources(settings: Settings, timeout: float = 30.0) -> dict[str, str]:
    """The two streams, the lake bucket and the alerts table ``settings`` name, created if
    missing; returns the streams' ARNs by name. Without the Glue catalogue: what a demo or
    benchmark run creates under its own names on a stack that is already up."""
    kinesis = aws.client("kinesis", settings)
    streams = {
        settings.stream_name: ensure_stream(
            kinesis, settings.stream_name, settings.stream_shards, timeout
        ),
        settings.labels_stream_name: ensure_stream(
            kinesis, settings.labels_stream_name, settings.labels_stream_shards, timeout
        ),
    }
    ensure_bucket(aws.client("s3", settings), settings.bucket, settings.region)
    ensure_table(aws.client("dynamodb", settings), settings.alerts_table, timeout)
    return streams


def _ensure_lake_tables(settings: Settings) -> None:
    """Create the empty Delta tables (the processor would at its first write), so the Glue
    tables and `fraudstream lake` find a table log from the start. A lake still in the old
    layout is left alone, with a warning saying how to upgrade it; so is a bucket that refuses
    the write (Terraform's TLS-only bucket policy on the emulator, which speaks plain HTTP)."""
    from fraudstream.lake import tables
    from fraudstream.lake.errors import LegacyLayoutError

    for name in lake_tables.table_names():
        try:
            tables.ensure_table(settings, name)
        except (LegacyLayoutError, OSError) as error:
            log.warning("lake table %s not created: %s", name, error)


def ensure_resources(settings: Settings, timeout: float = 30.0) -> StackResources:
    """Create the streams, bucket and table if missing; safe to call any number of times."""
    streams = ensure_data_resources(settings, timeout)
    _ensure_lake_tables(settings)
    glue_database: str | None = None
    glue_tables: tuple[str, ...] = ()
    try:
        glue_database, glue_tables = _ensure_glue(aws.client("glue", settings), settings.bucket)
    except ClientError as error:
        if not _glue_unavailable(error):
            raise
        log.warning(
            "the endpoint has no Glue (%s); Athena tables were not created",
            error.response["Error"].get("Code"),
        )
    return StackResources(
        streams=streams,
        bucket=settings.bucket,
        alerts_table=settings.alerts_table,
        glue_database=glue_database,
        glue_tables=glue_tables,
    )
