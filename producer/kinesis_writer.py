"""Batching Kinesis writer that retries only what failed, KPL-aggregating on request.

Records are buffered into PutRecords calls of at most 500 records and 5 MiB. A call can
succeed partially: the response's ``FailedRecordCount`` and per-record ``ErrorCode`` say which
records to send again, after an exponential backoff with full jitter. A throttled or dropped
call as a whole is retried the same way (the shared loop, :func:`fraudstream.retry.deliver`).
Records still failing after ``max_attempts`` attempts in a row without progress raise
:class:`~producer.errors.DeliveryError`: nothing is dropped silently.

With ``aggregate=True`` (what the producer uses unless ``--no-aggregate``), records are packed
into KPL aggregated records (:mod:`fraudstream.kpl`), one open aggregate per shard: the writer
lists the stream's open shards, sends each record's partition key (the card) to the shard
whose hash range holds its MD5 hash, as Kinesis would, and puts each aggregate with the
explicit hash key of its first record so the whole aggregate lands on that shard. A card's
events therefore always share a shard (the hash-range cells of issue 16 depend on it). If a
put lands elsewhere (the stream was resharded), the shard map is listed again.

Size policy: an aggregate is closed before it would pass ``max_aggregate_bytes`` (default
1,024,000 bytes: 40 PUT payload units of 25 KiB, under Kinesis's 1 MiB record limit with room
for the partition key), and every aggregate is sent at each :meth:`flush` (the producer
flushes every 100 ms tick, so an event waits at most one tick). At 10,000 events/s of ~260
bytes on 4 shards that is ~65 KB aggregates, 40 Kinesis records/s in all instead of 10,000,
and 650 KB/s per shard, under its 1 MiB/s. A tick's aggregates of all shards share one
PutRecords call (10 calls a second, not 40: a call's cost hardly depends on how much it
carries), and a throttled shard's records fail and are retried alone; a flush holding more
than a shard takes in a second goes out shard by shard, in parallel, paced at 1 MiB/s per
shard.

The boto3 client should be made with ``max_attempts=1`` so botocore does not retry whole
batches behind our back (see :func:`fraudstream.aws.client`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fraudstream import kpl
from fraudstream.errors import ResourceMissingError
from fraudstream.retry import Backoff, Undelivered, deliver, error_code, is_transient
from producer.errors import DeliveryError

log = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
AGGREGATE_MAX_BYTES = 40 * 25 * 1024  # 40 PUT payload units, under MAX_RECORD_BYTES
SHARD_BYTES_PER_S = 1024 * 1024  # what a shard takes in a second (data + partition key)
_AGGREGATE_SLACK = 16  # protobuf framing a user record adds beyond its data and key


@dataclass
class WriterStats:
    """Running totals, safe to read from a progress display."""

    sent: int = 0  # records Kinesis accepted (user records: an aggregate counts its events)
    retried: int = 0  # record sends that failed and were retried
    requests: int = 0  # PutRecords calls made
    bytes: int = 0  # payload bytes accepted
    undelivered: int = 0  # records given up on (raises DeliveryError)
    kinesis_records: int = 0  # Kinesis records accepted (aggregates count once)
    misrouted: int = 0  # aggregates that landed on another shard than planned (reshard)

    def add(self, other: WriterStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Entry:
    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None
    count: int = 1  # user records inside (1 unless aggregated)
    shard_id: str | None = None  # where the aggregate should land

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode())

    def request(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Data": self.data, "PartitionKey": self.partition_key}
        if self.explicit_hash_key is not None:
            entry["ExplicitHashKey"] = self.explicit_hash_key
        return entry


def batches(entries: list[_Entry]) -> list[list[_Entry]]:
    """Split entries, in order, into PutRecords calls of <= 500 records and <= 5 MiB."""
    out: list[list[_Entry]] = []
    current: list[_Entry] = []
    size = 0
    for entry in entries:
        if current and (len(current) >= MAX_BATCH_RECORDS or size + entry.size > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry.size
    if current:
        out.append(current)
    return out


class KinesisWriter:
    """Buffers records and writes them with PutRecords; call :meth:`flush` before exiting."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        max_attempts: int = 20,
        base_backoff: float = 0.05,
        max_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        aggregate: bool = False,
        max_aggregate_bytes: int = AGGREGATE_MAX_BYTES,
        threads: int = 4,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 1024 <= max_aggregate_bytes <= MAX_RECORD_BYTES - 256:
            raise ValueError("max_aggregate_bytes must be 1 KiB to 1 MiB less 256 bytes")
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.backoff = Backoff(base=base_backoff, cap=max_backoff, rng=rng or random.Random())
        self.stats = WriterStats()
        self._sleep = sleep
        self._buffer: list[_Entry] = []
        self._buffer_bytes = 0
        self.aggregate = aggregate
        self.max_aggregate_bytes = max_aggregate_bytes
        self.threads = threads
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._starts: list[int] = []  # open shards' starting hash keys, sorted
        self._shard_ids: list[str] = []
        self._hashes: dict[str, int] = {}  # partition key -> hash key (cards repeat)
        self._open: dict[int, kpl.Aggregator] = {}  # shard index -> aggregate being filled
        self._first: dict[int, str] = {}  # shard index -> partition key of its first record
        self._ready: list[_Entry] = []  # closed aggregates waiting for flush()
        self._remap = True

    def put(self, data: bytes, partition_key: str) -> None:
        """Queue one record; sends a batch whenever the buffer reaches a PutRecords limit
        (aggregating: queues it into its shard's aggregate, sent at :meth:`flush`)."""
        size = len(data) + len(partition_key)
        if size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {size} bytes exceeds Kinesis' 1 MiB limit")
        if not 1 <= len(partition_key) <= 256:
            raise ValueError("partition key must be 1-256 characters")
        if self.aggregate and size + _AGGREGATE_SLACK + kpl.OVERHEAD <= self.max_aggregate_bytes:
            self._aggregate(data, partition_key)
            return
        entry = _Entry(data, partition_key)
        if (
            len(self._buffer) >= MAX_BATCH_RECORDS
            or self._buffer_bytes + entry.size > MAX_BATCH_BYTES
        ):
            self.flush()
        self._buffer.append(entry)
        self._buffer_bytes += entry.size

    def put_many(self, datas: list[bytes], partition_keys: list[str]) -> None:
        """:meth:`put` for many records (the block producer's path: fewer calls per record)."""
        if not self.aggregate:
            for data, key in zip(datas, partition_keys, strict=True):
                self.put(data, key)
            return
        if self._remap:
            self._map_shards()
        hashes, starts, opened, limit = (
            self._hashes,
            self._starts,
            self._open,
            self.max_aggregate_bytes,
        )
        for data, key in zip(datas, partition_keys, strict=True):
            size = len(data) + len(key)
            if not 1 <= len(key) <= 256 or size + _AGGREGATE_SLACK + kpl.OVERHEAD > limit:
                self.put(data, key)  # refuses or sends it plain, with the reason
                continue
            hashed = hashes.get(key)
            if hashed is None:
                hashed = hashes[key] = kpl.hash_key(key)
            index = bisect_right(starts, hashed) - 1
            aggregator = opened.get(index)
            if aggregator is None or aggregator.size + size + _AGGREGATE_SLACK > limit:
                if aggregator is not None:
                    self._close(index)
                aggregator = opened[index] = kpl.Aggregator()
                self._first[index] = key
            aggregator.add(key, data)

    def _aggregate(self, data: bytes, partition_key: str) -> None:
        if self._remap:
            self._map_shards()
        hashed = self._hashes.get(partition_key)
        if hashed is None:
            if len(self._hashes) > 1_000_000:
                self._hashes.clear()
            hashed = self._hashes[partition_key] = kpl.hash_key(partition_key)
        index = bisect_right(self._starts, hashed) - 1
        aggregator = self._open.get(index)
        if aggregator is None:
            aggregator = self._open[index] = kpl.Aggregator()
            self._first[index] = partition_key
        elif (
            aggregator.size + len(data) + len(partition_key) + _AGGREGATE_SLACK
            > self.max_aggregate_bytes
        ):
            self._close(index)
            aggregator = self._open[index] = kpl.Aggregator()
            self._first[index] = partition_key
        aggregator.add(partition_key, data)

    def _close(self, index: int) -> None:
        aggregator = self._open.pop(index)
        first = self._first.pop(index)
        self._ready.append(
            _Entry(
                aggregator.finish(),
                first,
                str(self._hashes.get(first) or kpl.hash_key(first)),
                aggregator.count,
                self._shard_ids[index],
            )
        )

    def _map_shards(self) -> None:
        """List the stream's open shards and their hash ranges (pending aggregates are closed
        first: they were planned on the old map)."""
        for index in list(self._open):
            self._close(index)
        shards: list[tuple[int, str]] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            try:
                page = self.client.list_shards(**kwargs)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    raise self._missing() from error
                raise
            for shard in page["Shards"]:
                if "EndingSequenceNumber" not in shard.get("SequenceNumberRange", {}):
                    start = int(shard["HashKeyRange"]["StartingHashKey"])
                    shards.append((start, shard["ShardId"]))
            if not page.get("NextToken"):
                break
            kwargs = {"NextToken": page["NextToken"]}
        shards.sort()
        self._starts = [start for start, _ in shards]
        self._shard_ids = [shard_id for _, shard_id in shards]
        self._remap = False

    def flush(self) -> None:
        """Send everything buffered, retrying failed records until delivered or given up."""
        if self.aggregate:
            for index in list(self._open):
                self._close(index)
            ready, self._ready = self._ready, []
            if self._buffer:  # records too large to aggregate go as they are
                ready += self._buffer
                self._buffer, self._buffer_bytes = [], 0
            self._send_by_shard(ready)
            return
        if not self._buffer:
            return
        batch, self._buffer, self._buffer_bytes = self._buffer, [], 0
        self._send(batch)

    def _send_by_shard(self, entries: list[_Entry]) -> None:
        """What a tick holds (no shard more than it takes in a second) in shared calls, as few
        as PutRecords allows: a call costs the same whether it carries one shard's aggregate or
        all of them, and a throttled shard's records fail and are retried alone anyway. More
        than a second's worth for some shard: each shard's entries in their own paced calls,
        the shards in parallel."""
        if not entries:
            return
        pending: dict[str | None, int] = {}
        for entry in entries:
            pending[entry.shard_id] = pending.get(entry.shard_id, 0) + entry.size
        if max(pending.values()) <= SHARD_BYTES_PER_S:
            for batch in batches(entries):
                self._send(batch)
            return
        groups: dict[str | None, list[_Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.shard_id, []).append(entry)
        if len(groups) == 1 or self.threads == 1:
            for group in groups.values():
                self._send_batches(group)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="kinesis-put")
        futures = [self._pool.submit(self._send_batches, group) for group in groups.values()]
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error

    def _send_batches(self, entries: list[_Entry]) -> None:
        """One shard's aggregates. More than the shard takes in a second (the labels released
        at once when a run ends) go out a second's worth at a time, rather than being refused
        and sent again and again."""
        paced = entries[0].shard_id is not None and len(entries) > 1
        chunk: list[_Entry] = []
        size = 0
        for entry in entries:
            if paced and chunk and size + entry.size > SHARD_BYTES_PER_S:
                for batch in batches(chunk):
                    self._send(batch)
                self._sleep(1.0)
                chunk, size = [], 0
            chunk.append(entry)
            size += entry.size
        for batch in batches(chunk):
            self._send(batch)

    def close(self) -> None:
        """Stop the sending threads (after :meth:`flush`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _send(self, batch: list[_Entry]) -> None:
        stats = WriterStats()
        try:
            self._deliver(batch, stats)
        finally:
            with self._lock:
                self.stats.add(stats)

    def _deliver(self, batch: list[_Entry], stats: WriterStats) -> None:
        def send(pending: Sequence[_Entry]) -> list[_Entry]:
            stats.requests += 1
            try:
                response = self._call(pending)
            except Exception as error:
                if is_transient(error):
                    log.debug("PutRecords failed (%s); retrying %d records", error, len(pending))
                    stats.retried += sum(e.count for e in pending)
                raise
            failed = []
            for entry, result in zip(pending, response["Records"], strict=True):
                if result.get("ErrorCode"):
                    failed.append(entry)
                    continue
                stats.sent += entry.count
                stats.kinesis_records += 1
                stats.bytes += entry.size
                if entry.shard_id is not None and result.get("ShardId") != entry.shard_id:
                    stats.misrouted += 1
                    self._remap = True  # resharded: list the shards again before the next put
            stats.retried += sum(e.count for e in failed)
            return failed

        try:
            deliver(
                send, batch, max_stalls=self.max_attempts, backoff=self.backoff, sleep=self._sleep
            )
        except Undelivered as error:
            undelivered = sum(e.count for e in error.pending)
            stats.undelivered += undelivered
            raise DeliveryError(
                f"{undelivered} record(s) not delivered to stream {self.stream_name} after "
                f"{error.stalls} attempts without progress",
                undelivered=undelivered,
            ) from error

    def _missing(self) -> ResourceMissingError:
        return ResourceMissingError(
            f"Kinesis stream {self.stream_name} does not exist "
            "(start the local stack with `fraudstream stack up`?)"
        )

    def _call(self, entries: Sequence[_Entry]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self.client.put_records(
                StreamName=self.stream_name, Records=[e.request() for e in entries]
            )
            return response
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise self._missing() from error
            raise
