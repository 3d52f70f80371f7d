"""Helpers of the Spark tests: put events, run a query into an idempotent in-memory sink."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudstream import aws
from fraudstream.settings import Settings


def put_events(settings: Settings, count: int, *, start: int = 0, keys: int = 50) -> list[str]:
    """Put ``count`` small JSON events (partition key = card); return their ids in put order."""
    kinesis = aws.client("kinesis", settings)
    ids = []
    for first in range(start, start + count, 500):
        chunk = range(first, min(first + 500, start + count))
        entries = []
        for n in chunk:
            event_id = f"e{n:07d}"
            card = f"card{n % keys}"
            entries.append(
                {"Data": json.dumps({"id": event_id, "card": card}).encode(), "PartitionKey": card}
            )
            ids.append(event_id)
        result = kinesis.put_records(StreamName=settings.stream_name, Records=entries)
        assert result["FailedRecordCount"] == 0
    return ids


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
    """Within each shard, sequence numbers only grow (compared as integers)."""
    last: dict[str, int] = {}
    for _, row in rows:
        assert row["seq"] > last.get(row["shard"], -1), row
        last[row["shard"]] = row["seq"]
