"""The driver side of the source: plan micro-batches so each record is fetched once.

Kinesis has no call that returns a shard's newest sequence number, so the only way to know
where a batch ends is to read the shard. The planner therefore reads on the driver, keeps what
it read, and hands those very records to the batch's partitions (ADR 0002):

1. ``latest_offset(start, max_rows)`` tops up each shard's buffer (GetRecords, shards in
   parallel), admits up to ``max_rows`` rows fairly across shards, remembers the admitted
   records under the batch's (start, end) and returns ``end``; the rest stays buffered.
   Rows are user records: a KPL-aggregated Kinesis record counts as the records it carries,
   but is admitted whole, never split across batches, so offsets stay Kinesis sequence
   numbers and a replay re-reads whole records (a batch may pass ``max_rows`` by less than one
   aggregated record, and always admits at least one record so it can make progress).
2. ``planned(start, end)`` gives those records back to the Spark adapter, which ships them to
   the executors inside the partitions.
3. After a restart the records are not in memory: the adapter then gets ranges instead and the
   executors re-read exactly ``(start, end]`` of each shard from Kinesis.
4. ``commit(end)`` forgets batches Spark has committed.

Everything here is plain Python over :class:`~processor.kinesis.consumer.KinesisShards`, with an
injectable clock, so it is tested against the Kinesis double without Spark.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from processor.kinesis.cells import cell_listing, straddling
from processor.kinesis.consumer import KinesisShards
from processor.kinesis.errors import DataLossError, StreamRecreatedError
from processor.kinesis.metrics import BatchMetrics, ShardMetrics
from processor.kinesis.offsets import (
    ShardInfo,
    ShardPosition,
    SourceOffset,
    StartSpec,
    StreamIdentity,
    plan_lineage,
)
from processor.kinesis.options import SourceOptions
from processor.kinesis.records import Record, arrival_ms, record_bytes, units
from processor.kinesis.shard_reader import FillStats, ShardCursor, fill

log = logging.getLogger(__name__)


def offset_key(offset: SourceOffset) -> str:
    """A canonical string of an offset, to match batches Spark asks about."""
    return json.dumps(offset.to_json(), sort_keys=True, separators=(",", ":"))


def share_out(available: Mapping[str, int], limit: int | None) -> dict[str, int]:
    """Admit up to ``limit`` records across shards, max-min fair.

    Shards with little data take all of it; the rest of the limit is split evenly among the
    others. ``None`` admits everything.
    """
    if limit is None:
        return dict(available)
    granted = {shard: 0 for shard in available}
    remaining = limit
    pending = sorted(available, key=lambda s: (available[s], s))
    while pending and remaining > 0:
        share = max(1, remaining // len(pending))
        shard = pending.pop(0)
        take = min(available[shard], share, remaining)
        granted[shard] = take
        remaining -= take
    return granted


def share_by_arrival(
    arrivals: Mapping[str, Sequence[int]],
    limit: int | None,
    unfinished: set[str],
    sizes: Mapping[str, Sequence[int]] | None = None,
    lengths: Mapping[str, Sequence[int]] | None = None,
    max_bytes: int | None = None,
) -> dict[str, int]:
    """Admit up to ``limit`` rows of buffered records across shards in arrival-time order;
    return how many whole records each shard gives.

    ``arrivals`` holds each shard's admissible buffered records' arrival times (epoch ms, in
    shard order); ``sizes`` how many rows each of those records makes (1 each when omitted; a
    KPL-aggregated record makes one per user record); ``unfinished`` names shards with more
    records behind their buffer. Nothing later than the earliest last-buffered arrival of an
    unfinished shard is admitted, so every shard is cut at about the same arrival time: a
    catch-up under admission control then moves all shards forward together in event time,
    instead of letting equal per-shard counts drift apart until the watermark drops the
    laggards' events as late. When that rule would admit nothing (an unfinished shard with an
    empty buffer), the max-min fair split applies. Records are never split: admission stops at
    the first record that would pass ``limit``, except that a batch always gets one record.
    ``lengths`` (each record's bytes) and ``max_bytes`` bound the batch's bytes the same way,
    so a flood of large records cannot make a batch the driver cannot hold.
    """
    if limit is None and max_bytes is None:
        return {shard: len(times) for shard, times in arrivals.items()}
    if limit is None or max_bytes is not None:
        return _by_arrival_within(arrivals, limit, unfinished, sizes, lengths, max_bytes)
    weights = sizes or {shard: [1] * len(times) for shard, times in arrivals.items()}
    ends = [times[-1] for shard, times in arrivals.items() if shard in unfinished and times]
    frontier = min(ends) if ends else None
    cut = {
        shard: len(times) if frontier is None else bisect_right(times, frontier)
        for shard, times in arrivals.items()
    }
    if not any(cut.values()):
        return _fair_whole_records(weights, limit)
    granted = dict.fromkeys(arrivals, 0)
    tagged = [
        [(t, shard, size) for t, size in zip(times[: cut[shard]], weights[shard], strict=False)]
        for shard, times in arrivals.items()
    ]
    taken = 0
    for _, shard, size in heapq.merge(*tagged):
        if taken and taken + size > limit:
            break
        granted[shard] += 1
        taken += size
        if taken >= limit:
            break
    return granted


def _by_arrival_within(
    arrivals: Mapping[str, Sequence[int]],
    limit: int | None,
    unfinished: set[str],
    sizes: Mapping[str, Sequence[int]] | None,
    lengths: Mapping[str, Sequence[int]] | None,
    max_bytes: int | None,
) -> dict[str, int]:
    """:func:`share_by_arrival` with a byte budget as well as (or instead of) a row limit."""
    rows = (
        limit
        if limit is not None
        else sum(sum(s) for s in (sizes or {k: [1] * len(v) for k, v in arrivals.items()}).values())
    )
    granted = share_by_arrival(arrivals, max(rows, 1), unfinished, sizes)
    if max_bytes is None or lengths is None:
        return granted
    # the same records in arrival order, cut where the bytes run out (at least one record)
    tagged = [
        [(t, shard, size) for t, size in zip(times[: granted[shard]], lengths[shard], strict=False)]
        for shard, times in arrivals.items()
    ]
    within = dict.fromkeys(arrivals, 0)
    spent = 0
    for _, shard, size in heapq.merge(*tagged):
        if spent and spent + size > max_bytes:
            break
        within[shard] += 1
        spent += size
    return within


def _fair_whole_records(sizes: Mapping[str, Sequence[int]], limit: int) -> dict[str, int]:
    """:func:`share_out` over rows, rounded down to whole records (at least one in all)."""
    rows = share_out({shard: sum(s) for shard, s in sizes.items()}, limit)
    granted = dict.fromkeys(sizes, 0)
    for shard, allowed in rows.items():
        total = 0
        for size in sizes[shard]:
            if total + size > allowed:
                break
            total += size
            granted[shard] += 1
    if not any(granted.values()):
        first = next((shard for shard in sorted(sizes) if sizes[shard]), None)
        if first is not None:
            granted[first] = 1
    return granted


@dataclass
class PlannedBatch:
    """Records admitted to a batch, kept until Spark commits it."""

    start_key: str
    end_key: str
    records: dict[str, list[Record]] = field(default_factory=dict)


class Planner:
    """Plans micro-batches for one stream; lives in Spark's driver-side Python process."""

    def __init__(
        self,
        options: SourceOptions,
        shards: KinesisShards,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.shards = shards
        self.clock = clock
        self.wall_ms = wall_ms
        self.sleep = sleep
        self.cursors: dict[str, ShardCursor] = {}
        self.batches: list[PlannedBatch] = []
        self.stop_at_ms: int | None = None  # Trigger.AvailableNow cut-off
        self.last_metrics = BatchMetrics()
        self._identity: StreamIdentity | None = None
        self._synced_at: float | None = None
        self._synced_closed: frozenset[str] = frozenset()
        self._pool: ThreadPoolExecutor | None = None  # fetches shards in parallel
        self._background: ThreadPoolExecutor | None = None  # runs the prefetch round
        self._prefetch: Future[FillStats] | None = None
        self._closing = threading.Event()
        self._straddling: dict[str, tuple[int, int]] | None = None

    # --- offsets --------------------------------------------------------------------------

    def initial_offset(self) -> SourceOffset:
        """Where a new query starts: the stream's root shards at the starting position."""
        identity = self._check_identity(None)
        position = self.options.starting_position
        if position == "TRIM_HORIZON":
            start = StartSpec("TRIM_HORIZON")
        elif position == "AT_TIMESTAMP":
            start = StartSpec("AT_TIMESTAMP", self.options.starting_timestamp_ms)
        else:
            # LATEST is pinned as "arrived at or after now", so a replay of the first batch
            # reads the same records a LATEST iterator would have given.
            start = StartSpec("AT_TIMESTAMP", self.wall_ms())
        change = plan_lineage({}, self._list_shards())
        self._synced_at = self.clock()
        return SourceOffset(identity, start, change.shards)

    def prepare_available_now(self) -> None:
        """Trigger.AvailableNow: admit only records that arrived before this moment."""
        self.stop_at_ms = self.wall_ms()

    def latest_offset(self, start: SourceOffset, max_rows: int | None) -> SourceOffset:
        """Fetch and admit the next batch; return its end (``start`` itself if nothing new)."""
        began = self.clock()
        stats = self._join_prefetch()
        positions, expired = self._sync(start)
        self._reconcile(positions)
        stats += self._fill_all(start.start, max_rows)
        while self._must_wait_for_available_now():
            self._sleep_until_next_poll()
            stats += self._fill_all(start.start, max_rows)
        fetch_millis = int((self.clock() - began) * 1000)

        admissible = {sid: c.buffer[: self._admissible(c)] for sid, c in self.cursors.items()}
        arrivals = {sid: [arrival_ms(r) for r in records] for sid, records in admissible.items()}
        sizes = {sid: [units(r) for r in records] for sid, records in admissible.items()}
        lengths = {sid: [record_bytes(r) for r in records] for sid, records in admissible.items()}
        unfinished = {
            sid for sid, c in self.cursors.items() if not c.ended and (c.millis_behind or 0) > 0
        }
        granted = share_by_arrival(
            arrivals, max_rows, unfinished, sizes, lengths, self.options.max_bytes_per_trigger
        )
        end_positions = dict(positions)
        admitted: dict[str, list[Record]] = {}
        for sid, count in granted.items():
            cursor = self.cursors[sid]
            records = cursor.buffer[:count]
            seq = records[-1]["SequenceNumber"] if records else cursor.position.seq
            closed = cursor.ended and count == len(cursor.buffer)
            end_positions[sid] = ShardPosition(seq=seq, closed=closed)
            if records:
                admitted[sid] = records
        end = start.with_shards(end_positions)

        self.last_metrics = self._metrics(admitted, stats, fetch_millis, expired)
        if offset_key(end) == offset_key(start):
            self._start_prefetch(start.start, max_rows)
            return start
        for sid, records in admitted.items():
            self.cursors[sid].take(len(records))
        for sid, position in end_positions.items():
            if sid in self.cursors:
                self.cursors[sid].position = position
        self.batches.append(PlannedBatch(offset_key(start), offset_key(end), admitted))
        self._start_prefetch(start.start, max_rows)
        return end

    def planned(self, start: SourceOffset, end: SourceOffset) -> dict[str, list[Record]] | None:
        """The records admitted to batch (start, end], or None if this process did not plan it."""
        start_key, end_key = offset_key(start), offset_key(end)
        for batch in self.batches:
            if batch.start_key == start_key and batch.end_key == end_key:
                return batch.records
        return None

    def commit(self, end: SourceOffset) -> None:
        """Forget every batch up to the committed one."""
        end_key = offset_key(end)
        for index, batch in enumerate(self.batches):
            if batch.end_key == end_key:
                del self.batches[: index + 1]
                return

    def straddling(self) -> dict[str, tuple[int, int]]:
        """The shards whose records must be filtered by key for this reader's cell, with their
        hash ranges (:mod:`processor.kinesis.cells`); lists the shards if not done yet."""
        if self.options.cell.whole:
            return {}
        if self._straddling is None:
            self._list_shards()
        assert self._straddling is not None
        return self._straddling

    def check_stream(self, offset: SourceOffset) -> None:
        """Fail if ``offset`` was taken on another stream than the one now under that name."""
        self._check_identity(offset.stream)

    def close(self) -> None:
        """Stop fetching; a GetRecords call in flight finishes, nothing new starts."""
        self._closing.set()
        for pool in (self._background, self._pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._background = self._pool = None
        self._prefetch = None

    # --- prefetch -------------------------------------------------------------------------

    def _start_prefetch(self, start: StartSpec, max_rows: int | None) -> None:
        """Fetch the next batch's records while Spark runs this one (``prefetch`` option).

        The round runs alone: the next ``latest_offset`` waits for it before touching any
        cursor, and re-raises whatever it raised, so a failed prefetch fails that batch.
        """
        if not self.options.prefetch or self._closing.is_set():
            return
        if not any(not c.ended for c in self.cursors.values()):
            return
        if self._background is None:
            self._background = ThreadPoolExecutor(1, thread_name_prefix="kinesis-prefetch")
        self._prefetch = self._background.submit(self._fill_all, start, max_rows)

    def _join_prefetch(self) -> FillStats:
        if self._prefetch is None:
            return FillStats()
        future, self._prefetch = self._prefetch, None
        return future.result()

    # --- internals ------------------------------------------------------------------------

    def _check_identity(self, expected: StreamIdentity | None) -> StreamIdentity:
        current = self.shards.identity()
        if expected is not None and expected != current:
            raise StreamRecreatedError(
                f"the checkpoint belongs to Kinesis stream {expected.name} created at "
                f"{expected.created_ms} ms ({expected.arn}), but the stream of that name now "
                f"was created at {current.created_ms} ms ({current.arn}); it was deleted and "
                "recreated, so the checkpointed sequence numbers mean nothing there. Start the "
                "query with a new checkpoint location to read the new stream."
            )
        self._identity = current
        return current

    def _list_shards(self) -> list[ShardInfo]:
        """The shards this reader's cell reads, remembering which straddle its range."""
        cell = self.options.cell
        listed = self.shards.list_shards()
        self._straddling = straddling(listed, cell)
        return listed if cell.whole else cell_listing(listed, cell)

    def _sync(self, start: SourceOffset) -> tuple[dict[str, ShardPosition], tuple[str, ...]]:
        """Re-list shards when due: on the first call, after a shard closed, and periodically."""
        closed = frozenset(s for s, p in start.shards.items() if p.closed)
        interval = self.options.shard_sync_interval_ms / 1000
        due = (
            self._identity is None
            or self._synced_at is None
            or closed != self._synced_closed
            or self.clock() - self._synced_at >= interval
        )
        if not due:
            return dict(start.shards), ()
        self._check_identity(start.stream)
        change = plan_lineage(start.shards, self._list_shards())
        self._synced_at = self.clock()
        self._synced_closed = closed
        if change.added or change.dropped:
            log.info(
                "stream %s: reading shards %s; done with %s",
                start.stream.name,
                list(change.added),
                list(change.dropped),
            )
        if change.expired:
            message = (
                f"stream {start.stream.name}: shard(s) {', '.join(change.expired)} expired past "
                "the retention period before they were fully read; their unread records are lost"
            )
            if self.options.fail_on_data_loss:
                raise DataLossError(message + " (set failOnDataLoss=false to skip them)")
            log.warning("%s; continuing because failOnDataLoss=false", message)
        return change.shards, change.expired

    def _reconcile(self, positions: Mapping[str, ShardPosition]) -> None:
        """Keep a cursor (and its buffer) only where it sits exactly at the batch's start."""
        for sid in list(self.cursors):
            if sid not in positions or positions[sid].closed:
                del self.cursors[sid]
        for sid, position in positions.items():
            if position.closed:
                continue
            cursor = self.cursors.get(sid)
            if cursor is None or cursor.position != position:
                self.cursors[sid] = ShardCursor(shard_id=sid, position=position)

    def _fill_all(self, start: StartSpec, max_rows: int | None) -> FillStats:
        """Top up every open shard's buffer to ``max_rows`` rows (or what it has), then, if
        the shards together hold fewer, let those with more behind fetch more."""
        cursors = [c for c in self.cursors.values() if not c.ended]
        if not cursors:
            return FillStats()

        def run(cursor: ShardCursor, want: int | None) -> FillStats:
            return fill(
                cursor,
                self.shards,
                start,
                want=want,
                limit_per_call=self.options.max_records_per_fetch,
                idle_s=self.options.idle_time_between_reads_ms / 1000,
                clock=self.clock,
                wall_ms=self.wall_ms,
                stop_at_ms=self.stop_at_ms,
                cancelled=self._closing.is_set,
            )

        if max_rows is None:
            return self._run_parallel(run, [(c, None) for c in cursors])
        # Each shard buffers up to the whole limit, so the batch can be cut at one arrival
        # time across shards and still be full (see share_by_arrival).
        stats = self._run_parallel(run, [(c, max_rows) for c in cursors])
        short = max_rows - sum(self._admissible_units(c) for c in self.cursors.values())
        more = [
            c
            for c in cursors
            if not c.ended
            and (c.millis_behind or 0) > 0
            and self.clock() >= c.not_before
            and self._admissible(c) == len(c.buffer)
        ]
        if short > 0 and more:
            extra = -(-short // len(more))
            stats += self._run_parallel(run, [(c, c.units + extra) for c in more])
        return stats

    def _run_parallel(
        self,
        run: Callable[[ShardCursor, int | None], FillStats],
        jobs: list[tuple[ShardCursor, int | None]],
    ) -> FillStats:
        if len(jobs) == 1 or self.options.fetch_threads == 1:
            results = [run(cursor, want) for cursor, want in jobs]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.options.fetch_threads, thread_name_prefix="kinesis-fetch"
                )
            results = list(self._pool.map(lambda job: run(*job), jobs))
        total = FillStats()
        for result in results:
            total += result
        return total

    def _admissible(self, cursor: ShardCursor) -> int:
        """How many buffered records may enter a batch (all but those after the cut-off)."""
        if self.stop_at_ms is None:
            return len(cursor.buffer)
        count = 0
        for record in cursor.buffer:
            if arrival_ms(record) > self.stop_at_ms:
                break
            count += 1
        return count

    def _admissible_units(self, cursor: ShardCursor) -> int:
        """Rows in the records :meth:`_admissible` counts."""
        count = self._admissible(cursor)
        if count == len(cursor.buffer):
            return cursor.units
        return sum(units(r) for r in cursor.buffer[:count])

    def _complete(self, cursor: ShardCursor) -> bool:
        """Under AvailableNow: nothing that arrived before the cut-off is left to fetch."""
        assert self.stop_at_ms is not None
        if cursor.ended:
            return True
        if cursor.caught_up_at_ms is not None and cursor.caught_up_at_ms >= self.stop_at_ms:
            return True
        return self._admissible(cursor) < len(cursor.buffer)

    def _must_wait_for_available_now(self) -> bool:
        """True when AvailableNow would end early: nothing to admit, yet data may remain.

        Spark ends an AvailableNow run at the first batch that returns its start offset, so a
        throttled shard must be waited for rather than reported as empty.
        """
        if self.stop_at_ms is None:
            return False
        cursors = list(self.cursors.values())
        if any(self._admissible(c) or c.ended for c in cursors):
            return False
        return not all(self._complete(c) for c in cursors)

    def _sleep_until_next_poll(self) -> None:
        waits = [c.not_before - self.clock() for c in self.cursors.values() if not c.ended]
        self.sleep(min(max(0.01, min(waits, default=0.01)), 10.0))

    def _metrics(
        self,
        admitted: Mapping[str, list[Record]],
        stats: FillStats,
        fetch_millis: int,
        expired: tuple[str, ...],
    ) -> BatchMetrics:
        shards: dict[str, ShardMetrics] = {}
        total_bytes = 0
        rows = 0
        for sid, cursor in self.cursors.items():
            records = admitted.get(sid, [])
            size = sum(record_bytes(r) for r in records)
            shard_rows = sum(units(r) for r in records)
            total_bytes += size
            rows += shard_rows
            newest = cursor.fetched_to.seq
            shards[sid] = ShardMetrics(
                records=shard_rows,
                bytes=size,
                millis_behind_latest=cursor.millis_behind,
                seq=newest,
            )
        buffered = sum(c.units for c in self.cursors.values()) - rows
        return BatchMetrics(
            records=rows,
            kinesis_records=sum(len(r) for r in admitted.values()),
            bytes=total_bytes,
            fetch_millis=fetch_millis,
            get_records_calls=stats.calls,
            throttles=stats.throttles,
            iterator_refreshes=stats.iterator_refreshes,
            buffered_records=buffered,
            expired_shards=expired,
            shards=shards,
        )
