"""The boto3 loop: Kinesis calls, what each failure means, and per-shard reading.

Failures are sorted by what fixes them (STYLE item 6):

- ``ProvisionedThroughputExceededException`` (and other throttles): that shard alone backs off,
  exponentially with jitter; the other shards keep going.
- ``ExpiredIteratorException``: the iterator is re-acquired after the last sequence number read.
- Transient failures (5xx, connection errors): retried a few times, then fatal.
- Anything else: :class:`~processor.kinesis.errors.KinesisReadError`, which fails the batch.
  Nothing here swallows an error and lets the source report an unchanged offset.

Clients are made with botocore retries off (``max_attempts=0``: botocore counts *retries*
there, so 1 would still retry once): botocore would otherwise sleep on a throttled shard
inside the call, stalling every other shard behind it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ReadTimeoutError,
)

from fraudstream.aws import client
from fraudstream.settings import load_settings
from processor.kinesis.errors import DataLossError, KinesisReadError
from processor.kinesis.offsets import ShardInfo, ShardPosition, StartSpec, StreamIdentity, seq_int
from processor.kinesis.options import SourceOptions
from processor.kinesis.records import Record, arrival_ms

log = logging.getLogger(__name__)

THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "KMSThrottlingException",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalFailure", "InternalFailureException", "ServiceUnavailable", "InternalServerError"}
)
MAX_TRANSIENT_RETRIES = 3
MAX_ITERATOR_REFRESHES = 5


class Throttled(Exception):
    """GetRecords was throttled for this shard."""


class IteratorExpired(Exception):
    """The shard iterator is older than five minutes."""


def make_client(options: SourceOptions, max_pool_connections: int = 16) -> Any:
    """A Kinesis client for the source's region and endpoint, via the project's factory."""
    overrides: dict[str, Any] = {}
    if options.region:
        overrides["region"] = options.region
    if options.endpoint_url:
        overrides["endpoint_url"] = options.endpoint_url
    settings = load_settings(**overrides)
    return client("kinesis", settings, max_attempts=0, max_pool_connections=max_pool_connections)


@dataclass
class Backoff:
    """Exponential backoff with full jitter; ``attempts`` resets on success."""

    base_s: float = 0.2
    cap_s: float = 10.0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        self.attempts += 1
        return float(self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (self.attempts - 1))))

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class Fetch:
    """One GetRecords answer."""

    records: list[Record]
    next_iterator: str | None  # None: the shard is closed and this was its end
    millis_behind: int


class KinesisShards:
    """Kinesis calls for one stream, failures turned into the outcomes the loops handle."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.sleep = sleep

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call ``operation``; retry transient failures; raise the loop's signals."""
        backoff = Backoff(base_s=0.1, cap_s=2.0)
        while True:
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
                return result
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in THROTTLE_CODES:
                    raise Throttled(code) from error
                if code == "ExpiredIteratorException":
                    raise IteratorExpired(code) from error
                transient = code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500)
                if not transient or backoff.attempts >= MAX_TRANSIENT_RETRIES:
                    raise KinesisReadError(
                        f"Kinesis {operation} on stream {self.stream_name} failed: {code}: "
                        f"{error.response.get('Error', {}).get('Message', error)}"
                    ) from error
                failure: Exception = error
            except (ConnectionError, ReadTimeoutError) as error:
                if backoff.attempts >= MAX_TRANSIENT_RETRIES:
                    raise KinesisReadError(
                        f"Kinesis {operation} on stream {self.stream_name} failed: {error}"
                    ) from error
                failure = error
            except BotoCoreError as error:
                raise KinesisReadError(
                    f"Kinesis {operation} on stream {self.stream_name} failed: {error}"
                ) from error
            delay = backoff.next_delay()
            log.warning("Kinesis %s failed (%s); retrying in %.2fs", operation, failure, delay)
            self.sleep(delay)

    def identity(self) -> StreamIdentity:
        """The stream's ARN and creation time."""
        summary = self._call("describe_stream_summary", StreamName=self.stream_name)[
            "StreamDescriptionSummary"
        ]
        created: datetime = summary["StreamCreationTimestamp"]
        return StreamIdentity(
            name=self.stream_name,
            arn=str(summary["StreamARN"]),
            created_ms=int(created.astimezone(UTC).timestamp() * 1000),
        )

    def list_shards(self) -> list[ShardInfo]:
        """Every shard the stream still has, open or closed (within retention)."""
        shards: list[ShardInfo] = []
        result = self._call("list_shards", StreamName=self.stream_name)
        while True:
            shards.extend(ShardInfo.from_api(s) for s in result.get("Shards", []))
            token = result.get("NextToken")
            if not token:
                return shards
            result = self._call("list_shards", NextToken=token)

    def iterator(self, shard_id: str, position: ShardPosition, start: StartSpec) -> str:
        """A shard iterator just after ``position`` (or at ``start`` if nothing is consumed)."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if position.seq is not None:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=position.seq
            )
        elif start.type == "AT_TIMESTAMP":
            assert start.timestamp_ms is not None
            moment = datetime.fromtimestamp(start.timestamp_ms / 1000, tz=UTC)
            kwargs.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=moment)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        # GetShardIterator is limited to 5 calls/s per shard; a throttle raises Throttled.
        return str(self._call("get_shard_iterator", **kwargs)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> Fetch:
        result = self._call("get_records", ShardIterator=iterator, Limit=limit)
        return Fetch(
            records=result.get("Records", []),
            next_iterator=result.get("NextShardIterator"),
            millis_behind=int(result.get("MillisBehindLatest", 0)),
        )


@dataclass
class ShardCursor:
    """The driver's reading state of one shard, between micro-batches.

    ``position`` is where the last planned batch ended; ``buffer`` holds records fetched after
    it but not yet admitted to a batch; ``ended`` says the shard is closed and ``buffer`` holds
    its last records.
    """

    shard_id: str
    position: ShardPosition
    iterator: str | None = None
    buffer: list[Record] = field(default_factory=list)
    ended: bool = False
    not_before: float = 0.0  # monotonic time before which the shard is not polled
    backoff: Backoff = field(default_factory=Backoff)
    millis_behind: int | None = None
    caught_up_at_ms: int | None = None  # wall time the shard was last seen at its tip

    @property
    def fetched_to(self) -> ShardPosition:
        """Position after the last fetched record: where a fresh iterator must start."""
        if self.buffer:
            return ShardPosition(seq=self.buffer[-1]["SequenceNumber"])
        return self.position


@dataclass
class FillStats:
    """What one :func:`fill` did, for the batch metrics."""

    calls: int = 0
    throttles: int = 0
    iterator_refreshes: int = 0
    records: int = 0

    def __add__(self, other: FillStats) -> FillStats:
        return FillStats(
            calls=self.calls + other.calls,
            throttles=self.throttles + other.throttles,
            iterator_refreshes=self.iterator_refreshes + other.iterator_refreshes,
            records=self.records + other.records,
        )


def fill(
    cursor: ShardCursor,
    shards: KinesisShards,
    start: StartSpec,
    *,
    want: int | None,
    limit_per_call: int,
    idle_s: float,
    clock: Callable[[], float] = time.monotonic,
    wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    stop_at_ms: int | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> FillStats:
    """Fetch records of one shard into ``cursor.buffer`` until it holds ``want`` records.

    Stops early when the shard is caught up, ends (closed), is throttled (it then backs off
    until ``cursor.not_before``), or returns a record that arrived at or after ``stop_at_ms``
    (the Trigger.AvailableNow cut-off), or ``cancelled()`` turns true. A caught-up shard is not
    polled again for ``idle_s``.
    """
    stats = FillStats()
    while not cursor.ended and (want is None or len(cursor.buffer) < want):
        if clock() < cursor.not_before or cancelled():
            break
        try:
            if cursor.iterator is None:
                cursor.iterator = shards.iterator(cursor.shard_id, cursor.fetched_to, start)
            limit = limit_per_call
            if want is not None:
                limit = max(1, min(limit_per_call, want - len(cursor.buffer)))
            stats.calls += 1
            fetch = shards.get_records(cursor.iterator, limit)
        except Throttled:
            stats.throttles += 1
            cursor.not_before = clock() + cursor.backoff.next_delay()
            log.info("shard %s throttled; backing off", cursor.shard_id)
            break
        except IteratorExpired:
            stats.iterator_refreshes += 1
            if stats.iterator_refreshes > MAX_ITERATOR_REFRESHES:
                raise KinesisReadError(
                    f"shard {cursor.shard_id}: iterators keep expiring; is the clock skewed?"
                ) from None
            cursor.iterator = None
            continue
        cursor.backoff.reset()
        cursor.buffer.extend(fetch.records)
        stats.records += len(fetch.records)
        cursor.iterator = fetch.next_iterator
        cursor.millis_behind = fetch.millis_behind
        if fetch.next_iterator is None:
            cursor.ended = True
            break
        if fetch.millis_behind == 0:
            cursor.caught_up_at_ms = wall_ms()
            if not fetch.records:
                cursor.not_before = clock() + idle_s
            break
        if stop_at_ms is not None and fetch.records and arrival_ms(fetch.records[-1]) > stop_at_ms:
            break
    return stats


def read_range(
    shards: KinesisShards,
    shard_id: str,
    after: ShardPosition,
    start: StartSpec,
    end_seq: str,
    *,
    limit_per_call: int,
    fail_on_data_loss: bool = True,
) -> Iterator[list[Record]]:
    """Re-read one shard's records after ``after`` up to and including ``end_seq``.

    Used to replay a batch whose records are no longer in the driver's memory (after a
    restart): the range comes from the checkpoint, so the replay reads exactly what the batch
    planned. Throttles sleep (the task reads one shard only).
    """
    end = seq_int(end_seq)
    last = after
    backoff = Backoff()
    refreshes = 0
    iterator: str | None = None
    while True:
        try:
            if iterator is None:
                iterator = shards.iterator(shard_id, last, start)
            fetch = shards.get_records(iterator, limit_per_call)
        except Throttled:
            shards.sleep(backoff.next_delay())
            continue
        except IteratorExpired:
            refreshes += 1
            if refreshes > MAX_ITERATOR_REFRESHES:
                raise KinesisReadError(f"shard {shard_id}: iterators keep expiring") from None
            iterator = None
            continue
        backoff.reset()
        wanted = [r for r in fetch.records if seq_int(r["SequenceNumber"]) <= end]
        if wanted:
            last = ShardPosition(seq=wanted[-1]["SequenceNumber"])
            yield wanted
        if len(wanted) < len(fetch.records) or (last.seq is not None and seq_int(last.seq) >= end):
            return
        if fetch.next_iterator is None or (not fetch.records and fetch.millis_behind == 0):
            message = (
                f"replaying shard {shard_id} of stream {shards.stream_name}: the checkpointed "
                f"batch ends at sequence number {end_seq} but the shard ends at {last.seq}; "
                "its records are gone (expired, or the stream was recreated)"
            )
            if fail_on_data_loss:
                raise DataLossError(message)
            log.warning("%s; continuing because failOnDataLoss=false", message)
            return
        iterator = fetch.next_iterator
