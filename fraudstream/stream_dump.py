"""Read a whole Kinesis stream back with plain boto3: for `fraudstream stream stats`, tests
and benchmarks that check what arrived. Not the processor's source (see processor.kinesis).

KPL-aggregated records are de-aggregated (:mod:`fraudstream.kpl`): one :class:`StoredRecord`
per user record, numbered by ``sub_sequence_number``. A throttled GetRecords (the local
emulator enforces AWS's per-shard read limits) is retried after a pause.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from fraudstream import kpl

THROTTLED = "ProvisionedThroughputExceededException"


@dataclass(frozen=True)
class StoredRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime
    sub_sequence_number: int = 0


def _get_records(
    client: Any, iterator: str, limit: int, sleep: Callable[[float], None]
) -> dict[str, Any]:
    for attempt in range(30):
        try:
            page: dict[str, Any] = client.get_records(ShardIterator=iterator, Limit=limit)
            return page
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != THROTTLED or attempt == 29:
                raise
            sleep(min(1.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def read_stream(
    client: Any,
    stream_name: str,
    batch: int = 10_000,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StoredRecord]:
    """Every user record in every shard from the trim horizon to the current tip."""
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
            page = _get_records(client, iterator, batch, sleep)
            for record in page["Records"]:
                keys, payloads = kpl.deaggregate(record["Data"], record["PartitionKey"])
                for sub, (key, data) in enumerate(zip(keys, payloads, strict=True)):
                    yield StoredRecord(
                        shard_id=shard["ShardId"],
                        sequence_number=record["SequenceNumber"],
                        partition_key=key,
                        data=data,
                        arrival=record["ApproximateArrivalTimestamp"],
                        sub_sequence_number=sub,
                    )
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
