"""Putting records on a stream where the suite must know their positions, and reading back a
stream's tip. Plain boto3 against the run's endpoint."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from benchmarks.faults.accounting import SourceKey
from fraudstream import aws
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream

MAX_RECORDS = 500  # PutRecords' limit


def put_tracked(
    settings: Settings, records: Sequence[tuple[bytes, str]], *, attempts: int = 20
) -> list[SourceKey]:
    """Put (data, partition key) records on the transaction stream; return where each landed,
    in input order. Records a call rejects are sent again (throttling), never dropped."""
    kinesis = aws.client("kinesis", settings)
    where: list[SourceKey | None] = [None] * len(records)
    for start in range(0, len(records), MAX_RECORDS):
        pending = list(range(start, min(start + MAX_RECORDS, len(records))))
        for attempt in range(attempts):
            if not pending:
                break
            if attempt:
                time.sleep(min(1.0, 0.05 * 2**attempt))
            response: dict[str, Any] = kinesis.put_records(
                StreamName=settings.stream_name,
                Records=[{"Data": records[i][0], "PartitionKey": records[i][1]} for i in pending],
            )
            failed = []
            for index, result in zip(pending, response["Records"], strict=True):
                if result.get("ErrorCode"):
                    failed.append(index)
                else:
                    where[index] = (result["ShardId"], result["SequenceNumber"])
            pending = failed
        if pending:
            raise RuntimeError(f"{len(pending)} record(s) not accepted by {settings.stream_name}")
    return [w for w in where if w is not None]


def survey(settings: Settings) -> tuple[int, dict[str, int]]:
    """How many records the transaction stream holds, and the last sequence number on each of
    its shards that holds any."""
    count, last = 0, dict[str, int]()
    for record in read_stream(aws.client("kinesis", settings), settings.stream_name):
        count += 1
        last[record.shard_id] = max(last.get(record.shard_id, -1), int(record.sequence_number))
    return count, last


def records(settings: Settings) -> list[tuple[bytes, str]]:
    """Every record on the transaction stream, as (data, partition key)."""
    stored = read_stream(aws.client("kinesis", settings), settings.stream_name)
    return [(r.data, r.partition_key) for r in stored]
