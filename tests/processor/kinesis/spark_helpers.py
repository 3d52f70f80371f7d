"""Helpers of the Spark tests: put events, run a query into an idempotent in-memory sink."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudstream import aws, kpl
from fraudstream.settings import Settings


def put_events(
    settings: Settings, count: int, *, start: int = 0, keys: int = 50, aggregate: int = 0
) -> list[str]:
    """Put ``count`` small JSON events (partition key = card); return their ids in put order.

    With ``aggregate`` > 0, events are KPL-aggregated as the producer does it: grouped by the
    shard their card hashes to, ``aggregate`` per Kinesis record, routed by the first card's
    hash key. Records the emulator throttles are put again: nothing is dropped.
    """
    kinesis = aws.client("kinesis", settings)
    events = [(f"e{n:07d}", f"card{n % keys}") for n in range(start, start + count)]
    payloads = [json.dumps({"id": i, "card": c}).encode() for i, c in events]
    if aggregate:
        entries = _aggregated(kinesis, settings.stream_name, events, payloads, aggregate)
    else:
        entries = [
            {"Data": p, "PartitionKey": c} for (_, c), p in zip(events, payloads, strict=True)
        ]
    for first in range(0, len(entries), 500):
        pending = entries[first : first + 500]
        for attempt in range(50):
            result = kinesis.put_records(StreamName=settings.stream_name, Records=pending)
            pending = [
                e for e, r in zip(pending, result["Records"], strict=True) if r.get("ErrorCode")
            ]
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        assert not pending, "the emulator kept throttling"
    return [i for i, _ in events]


def _aggregated(
    kinesis: Any,
    stream: str,
    events: list[tuple[str, str]],
    payloads: list[bytes],
    per_record: int,
) -> list[dict[str, Any]]:
    shards = [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in kinesis.list_shards(StreamName=stream)["Shards"]
        if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    ]
    groups: dict[int, list[tuple[str, bytes]]] = {}
    for (_, card), payload in zip(events, payloads, strict=True):
        hashed = kpl.hash_key(card)
        shard = next(i for i, (low, high) in enumerate(shards) if low <= hashed <= high)
        groups.setdefault(shard, []).append((card, payload))
    entries = []
    for members in groups.values():
        for first in range(0, len(members), per_record):
            chunk = members[first : first + per_record]
            entries.append(
                {
                    "Data": kpl.encode(kpl.UserRecord(card, data) for card, data in chunk),
                    "PartitionKey": chunk[0][0],
                    "ExplicitHashKey": str(kpl.hash_key(chunk[0][0])),
                }
            )
    return entries


@dataclass
class MemorySink:
    """foreachBatch target keeping each batch's rows under its id (a replay overwrites)."""

    batches: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, frame: Any, batch_id: int) -> None:
        rows = [
            {
                "id": json.loads(bytes(r["data"]))["id"],
                "card": r["partition_key"],
                "shard": r["shard_id"],
                "seq": int(r["sequence_number"]),
                "sub": r["sub_sequence_number"],
            }
            for r in frame.collect()
        ]
        with self.lock:
            self.batches[batch_id] = rows

    def ids(self) -> list[str]:
        with self.lock:
            return [row["id"] for _, rows in sorted(self.batches.items()) for row in rows]

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        with self.lock:
            return [(bid, row) for bid, rows in sorted(self.batches.items()) for row in rows]


def reader(spark: Any, settings: Settings, **options: str) -> Any:
    stream = (
        spark.readStream.format("kinesis")
        .option("streamName", settings.stream_name)
        .option("endpointUrl", settings.endpoint_url)
        .option("region", settings.region)
    )
    for key, value in options.items():
        stream = stream.option(key, value)
    return stream.load()


def run_available_now(frame: Any, sink: MemorySink, checkpoint: str) -> Any:
    query = (
        frame.writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return query


def wait_for(condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.2)


def assert_in_shard_order(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Within each shard, (sequence number, sub-sequence number) only grows."""
    last: dict[str, tuple[int, int]] = {}
    for _, row in rows:
        position = (row["seq"], row["sub"])
        assert position > last.get(row["shard"], (-1, -1)), row
        last[row["shard"]] = position
