"""Reading shards: the driver's per-shard fetch loop and the executors' replay of a range.

Both loops run on :class:`~processor.kinesis.consumer.KinesisShards` and handle its signals the
same way: a throttled shard backs off (on the driver it is skipped until its backoff ends, so
the other shards keep going; in a replay task, which reads one shard, it sleeps); an expired
iterator is re-acquired after the last sequence number read; anything else propagates and
fails the batch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from processor.kinesis.consumer import (
    MAX_ITERATOR_REFRESHES,
    Backoff,
    IteratorExpired,
    KinesisShards,
    Throttled,
)
from processor.kinesis.errors import DataLossError, KinesisReadError
from processor.kinesis.offsets import ShardPosition, StartSpec, seq_int
from processor.kinesis.records import Record, arrival_ms, decode_user_records, units

log = logging.getLogger(__name__)


@dataclass
class ShardCursor:
    """The driver's reading state of one shard, between micro-batches.

    ``position`` is where the last planned batch ended; ``buffer`` holds records fetched after
    it but not yet admitted to a batch (whole Kinesis records, de-aggregated once on arrival);
    ``units`` counts the rows they make (user records: what admission control counts);
    ``ended`` says the shard is closed and ``buffer`` holds its last records.
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
    units: int = 0  # rows (user records) in ``buffer``
    rows_per_record: float | None = None  # user records per Kinesis record, last fetch

    def add(self, records: Sequence[Record]) -> None:
        self.buffer.extend(records)
        added = sum(units(r) for r in records)
        self.units += added
        if records:
            self.rows_per_record = added / len(records)

    def take(self, count: int) -> list[Record]:
        """Remove and return the first ``count`` buffered records."""
        taken = self.buffer[:count]
        del self.buffer[:count]
        self.units -= sum(units(r) for r in taken)
        return taken

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


#: The first GetRecords of a shard asks for at most this many records: until one answer shows
#: how many rows a record carries (one, or ~100 KPL-aggregated), a Limit counted in rows could
#: fetch a hundred times the rows wanted.
FIRST_CALL_RECORDS = 10


def call_limit(cursor: ShardCursor, want: int | None, limit_per_call: int) -> int:
    """GetRecords' ``Limit`` (Kinesis records) for ``want`` rows in ``cursor``'s buffer: the rows
    missing over the rows per record the shard's last answer carried, so an aggregated stream
    fetches about what a batch needs rather than 10 MiB at a time (and pays back the 2 MiB/s of
    reads it took for 5 s)."""
    if want is None:
        return limit_per_call
    missing = want - cursor.units
    if cursor.rows_per_record is None:
        return max(1, min(limit_per_call, missing, FIRST_CALL_RECORDS))
    return max(1, min(limit_per_call, math.ceil(missing / cursor.rows_per_record)))


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
    """Fetch records of one shard into ``cursor.buffer`` until it holds ``want`` rows (user
    records; a KPL-aggregated record counts as the records it carries).

    Stops early when the shard is caught up, ends (closed), is throttled (it then backs off
    until ``cursor.not_before``), or returns a record that arrived at or after ``stop_at_ms``
    (the Trigger.AvailableNow cut-off), or ``cancelled()`` turns true. A caught-up shard is not
    polled again for ``idle_s``.
    """
    stats = FillStats()
    while not cursor.ended and (want is None or cursor.units < want):
        if clock() < cursor.not_before or cancelled():
            break
        try:
            if cursor.iterator is None:
                cursor.iterator = shards.iterator(cursor.shard_id, cursor.fetched_to, start)
            limit = call_limit(cursor, want, limit_per_call)
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
        decode_user_records(fetch.records)
        cursor.add(fetch.records)
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
        wanted: list[Record] = [r for r in fetch.records if seq_int(r["SequenceNumber"]) <= end]
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
