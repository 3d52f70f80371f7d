"""Read back what a pipeline run wrote: lake tables, alert items, ground truth.

For the end-to-end tests, the fault-tolerance suite (``make faults``) and anyone checking a run
by hand: every function takes the run's :class:`~fraudstream.settings.Settings` and reads the
bucket, table or stream those settings name, through :func:`fraudstream.aws.client`. Nothing
here is on the processor's path.
"""

from __future__ import annotations

import io
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from fraudstream import aws, lake_tables
from fraudstream.events import LabelRecord
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream


def lake_keys(settings: Settings, table: str) -> list[str]:
    """Keys of every object of one lake table (``transactions``, ``quarantine``, ...)."""
    s3 = aws.client("s3", settings)
    prefix = lake_tables.table(table).prefix
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def lake_table(settings: Settings, table: str) -> pa.Table:
    """Every row of one lake table (its own schema; an empty table when nothing was written)."""
    s3 = aws.client("s3", settings)
    parts = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()))
        for key in lake_keys(settings, table)
    ]
    if not parts:
        return lake_tables.arrow_schema(table).empty_table()
    return pa.concat_tables(parts)


def committed_batches(settings: Settings) -> int:
    """How many distinct micro-batches have transaction objects in the lake."""
    names = {key.rsplit("/", 1)[1].split("-")[1] for key in lake_keys(settings, "transactions")}
    return len(names)


def alert_ids(settings: Settings) -> Counter[str]:
    """Alert items per transaction id (an exactly-once table holds each flagged id once)."""
    dynamodb = aws.client("dynamodb", settings)
    ids: Counter[str] = Counter()
    for page in dynamodb.get_paginator("scan").paginate(TableName=settings.alerts_table):
        ids.update(item["transaction_id"]["S"] for item in page["Items"])
    return ids


def ground_truth(settings: Settings) -> dict[str, LabelRecord]:
    """The producer's labels by transaction id: which transactions it sent."""
    kinesis = aws.client("kinesis", settings)
    labels = (
        LabelRecord.from_json(r.data) for r in read_stream(kinesis, settings.labels_stream_name)
    )
    return {label.transaction_id: label for label in labels}
