"""Read back what a pipeline run wrote: lake tables, alert items, ground truth.

For the end-to-end tests, the fault-tolerance suite (``make faults``) and anyone checking a run
by hand: every function takes the run's :class:`~fraudstream.settings.Settings` and reads the
bucket, table or stream those settings name, through :func:`fraudstream.aws.client`. Nothing
here is on the processor's path.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from fraudstream import aws, lake_tables
from fraudstream.events import LabelRecord
from fraudstream.lake import tables
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream


def lake_keys(settings: Settings, table: str) -> list[str]:
    """Keys of the data files of one lake table's current version (``transactions``, ...)."""
    delta = tables.open_table(settings, table)
    if delta is None:
        return []
    prefix = lake_tables.table(table).prefix
    paths = pa.table(delta.get_add_actions()).column("path").to_pylist()
    return sorted(prefix + str(path) for path in paths)


def lake_table(settings: Settings, table: str, *, as_of: datetime | None = None) -> pa.Table:
    """Every row of one lake table, current or as of a time (its own data columns, in order;
    an empty table when nothing was written)."""
    schema = lake_tables.arrow_schema(table)
    delta = tables.open_table(settings, table, as_of=as_of)
    if delta is None:
        return schema.empty_table()
    full = lake_tables.arrow_schema(table, with_partitions=True)
    return delta.to_pyarrow_dataset(schema=full).to_table(columns=schema.names).cast(schema)


def committed_batches(settings: Settings) -> int:
    """How many distinct micro-batches have rows in the transactions table."""
    delta = tables.open_table(settings, "transactions")
    if delta is None:
        return 0
    batch_ids = delta.to_pyarrow_dataset().to_table(columns=["batch_id"]).column("batch_id")
    return int(pc.count_distinct(batch_ids).as_py())


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
