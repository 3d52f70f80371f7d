"""Read a whole Kinesis stream back with plain boto3: for `fraudstream stream stats`, tests
and benchmarks that check what arrived. Not the processor's source (see processor.kinesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime


def read_stream(client: Any, stream_name: str, batch: int = 10_000) -> Iterator[StoredRecord]:
    """Every record in every shard from the trim horizon to the current tip."""
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    while True:
        page = client.list_shards(**kwargs)
        shards.extend(page["Shards"])
        if not page.get("NextToken"):
            break
        kwargs = {"NextToken": page["NextToken"]}
    for shard in shards:
        iterator = client.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=batch)
            for record in page["Records"]:
                yield StoredRecord(
                    shard_id=shard["ShardId"],
                    sequence_number=record["SequenceNumber"],
                    partition_key=record["PartitionKey"],
                    data=record["Data"],
                    arrival=record["ApproximateArrivalTimestamp"],
                )
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
