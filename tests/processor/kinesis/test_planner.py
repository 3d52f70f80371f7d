"""Batch planning against the AWS-faithful Kinesis double (real boto3 over HTTP, no Spark).

Time is a :class:`ManualClock`, so backoff and idle pauses are checked by counting calls,
never by timing.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from processor.kinesis.consumer import KinesisShards, make_client
from processor.kinesis.errors import DataLossError, KinesisReadError, StreamRecreatedError
from processor.kinesis.offsets import ShardPosition, SourceOffset
from processor.kinesis.planner import Planner, offset_key, share_out
from processor.kinesis.records import Record, arrival_ms
from processor.kinesis.shard_reader import read_range

from .conftest import STREAM, Double

Batch = tuple[SourceOffset, SourceOffset, dict[str, list[Record]]]


def drain(planner: Planner, offset: SourceOffset, max_rows: int | None = None) -> list[Batch]:
    """Plan and commit batches until the planner has nothing new."""
    batches: list[Batch] = []
    for _ in range(500):
        end = planner.latest_offset(offset, max_rows)
        if offset_key(end) == offset_key(offset):
            return batches
        planned = planner.planned(offset, end)
        assert planned is not None
        planner.commit(end)
        batches.append((offset, end, planned))
        offset = end
    raise AssertionError("the planner never ran out of batches")


def events(batches: list[Batch]) -> list[tuple[int, str, str]]:
    """(batch index, shard, payload) of every record, batch by batch, shard records in order."""
    return [
        (index, shard, r["Data"].decode())
        for index, (_, _, planned) in enumerate(batches)
        for shard, records in sorted(planned.items())
        for r in records
    ]


def put_round(double: Double, keys: int, start: int, count: int) -> list[str]:
    sent = []
    for n in range(start, start + count):
        for k in range(keys):
            double.put(f"card{k}", n)
            sent.append(f"card{k}:{n}")
    return sent


def assert_per_key_order(batches: list[Batch]) -> None:
    """Each key's events arrive in the order sent, and within a batch from one shard only."""
    seen: dict[str, list[int]] = defaultdict(list)
    shards_per_key_batch: dict[tuple[str, int], set[str]] = defaultdict(set)
    for index, shard, payload in events(batches):
        key, n = payload.split(":")
        seen[key].append(int(n))
        shards_per_key_batch[(key, index)].add(shard)
    for key, numbers in seen.items():
        assert numbers == sorted(numbers), key
    assert all(len(s) == 1 for s in shards_per_key_batch.values())


def test_share_out_is_max_min_fair() -> None:
    assert share_out({"a": 100, "b": 100}, 50) == {"a": 25, "b": 25}
    assert share_out({"a": 5, "b": 100, "c": 100}, 50) == {"a": 5, "b": 22, "c": 23}
    assert share_out({"a": 5, "b": 7}, 50) == {"a": 5, "b": 7}
    assert share_out({"a": 5, "b": 7}, None) == {"a": 5, "b": 7}
    assert sum(share_out({"a": 9, "b": 9, "c": 9, "d": 9}, 3).values()) == 3


def test_every_record_is_admitted_once_in_order_within_the_limit(double: Double) -> None:
    sent = put_round(double, keys=10, start=0, count=30)
    planner = double.planner()
    batches = drain(planner, planner.initial_offset(), max_rows=50)
    got = [payload for _, _, payload in events(batches)]
    assert sorted(got) == sorted(sent) and len(got) == len(set(got))
    assert all(sum(len(r) for r in planned.values()) <= 50 for _, _, planned in batches)
    assert_per_key_order(batches)
    first = batches[0][2]
    assert sum(len(r) for r in first.values()) == 50  # full: both shards had plenty
    # Shards are cut at about the same arrival time, so they share the batch in proportion
    # to their traffic (the keys hash unevenly), not in equal counts.
    ends = [arrival_ms(records[-1]) for records in first.values()]
    assert max(ends) - min(ends) <= 10
    assert planner.last_metrics.records == 0


def test_split_and_merge_read_parents_before_children(double: Double) -> None:
    sent = put_round(double, keys=12, start=0, count=10)
    double.fake.split(STREAM, "shardId-000000000000")  # children 2 and 3
    sent += put_round(double, keys=12, start=10, count=10)
    double.fake.merge(STREAM, "shardId-000000000003", "shardId-000000000001")  # child 4
    sent += put_round(double, keys=12, start=20, count=10)

    planner = double.planner()
    batches = drain(planner, planner.initial_offset(), max_rows=40)
    got = [payload for _, _, payload in events(batches)]
    assert sorted(got) == sorted(sent) and len(got) == len(set(got))
    assert_per_key_order(batches)
    parents = {
        "shardId-000000000002": {"shardId-000000000000"},
        "shardId-000000000003": {"shardId-000000000000"},
        "shardId-000000000004": {"shardId-000000000003", "shardId-000000000001"},
    }
    for _, _, planned in batches:
        for child, its_parents in parents.items():
            assert not (child in planned and its_parents & set(planned))
    final = batches[-1][1]
    assert set(final.shards) == {"shardId-000000000002", "shardId-000000000004"}  # closed dropped


def test_a_shard_expired_before_it_was_read_fails_the_query(double: Double) -> None:
    put_round(double, keys=4, start=0, count=20)
    planner = double.planner()
    first = drain_one(planner, planner.initial_offset(), max_rows=10)
    double.fake.split(STREAM, "shardId-000000000000")
    double.fake.expire_shard(STREAM, "shardId-000000000000")
    double.clock.advance(60)  # the next call re-lists the shards
    with pytest.raises(DataLossError, match="shardId-000000000000 expired"):
        planner.latest_offset(first, 10)


def test_with_fail_on_data_loss_false_an_expired_shard_is_reported_and_skipped(
    double: Double,
) -> None:
    put_round(double, keys=4, start=0, count=20)
    planner = double.planner(fail_on_data_loss=False)
    first = drain_one(planner, planner.initial_offset(), max_rows=10)
    double.fake.split(STREAM, "shardId-000000000000")
    late = put_round(double, keys=4, start=20, count=5)  # to shard 1 and 0's children
    double.fake.expire_shard(STREAM, "shardId-000000000000")
    double.clock.advance(60)
    end = planner.latest_offset(first, None)
    assert planner.last_metrics.expired_shards == ("shardId-000000000000",)
    assert "shardId-000000000000" not in end.shards
    got = [r["Data"].decode() for rs in (planner.planned(first, end) or {}).values() for r in rs]
    planner.commit(end)
    got += [p for _, _, p in events(drain(planner, end))]
    assert set(late) <= set(got)
    assert len(got) == len(set(got))


def drain_one(planner: Planner, offset: SourceOffset, max_rows: int | None) -> SourceOffset:
    end = planner.latest_offset(offset, max_rows)
    planner.commit(end)
    return end


def test_a_throttled_shard_backs_off_alone(double: Double) -> None:
    sent = put_round(double, keys=8, start=0, count=10)
    planner = double.planner()
    double.fake.throttle(STREAM, "shardId-000000000000", times=1)
    start = planner.initial_offset()
    end = planner.latest_offset(start, None)
    planned = planner.planned(start, end) or {}
    assert set(planned) == {"shardId-000000000001"}  # the other shard went on
    assert planner.last_metrics.throttles == 1
    calls = double.fake.calls[("GetRecords", "shardId-000000000000")]
    planner.commit(end)
    assert planner.latest_offset(end, None) == end  # still backing off: not even called
    assert double.fake.calls[("GetRecords", "shardId-000000000000")] == calls
    double.clock.advance(30)
    batches = drain(planner, end)
    got = [r["Data"].decode() for r in planned["shardId-000000000001"]]
    got += [p for _, _, p in events(batches)]
    assert sorted(got) == sorted(sent) and len(got) == len(set(got))


def test_an_expired_iterator_is_reacquired_after_the_last_record(double: Double) -> None:
    sent = put_round(double, keys=6, start=0, count=20)
    planner = double.planner()
    first = drain_one(planner, planner.initial_offset(), max_rows=30)
    iterators = sum(n for (op, _), n in double.fake.calls.items() if op == "GetShardIterator")
    double.fake.expire_iterators()
    batches = drain(planner, first, max_rows=30)
    got = [p for _, _, p in events(batches)]
    assert len(got) == len(set(got)) == len(sent) - 30
    assert sum(n for (op, _), n in double.fake.calls.items() if op == "GetShardIterator") > (
        iterators
    )


def test_other_errors_fail_the_batch_instead_of_returning_the_old_offset(double: Double) -> None:
    put_round(double, keys=2, start=0, count=5)
    planner = double.planner()
    start = planner.initial_offset()
    double.fake.fail("GetRecords", "AccessDeniedException")
    with pytest.raises(KinesisReadError, match="AccessDeniedException"):
        planner.latest_offset(start, None)


def test_transient_errors_are_retried_a_few_times(double: Double) -> None:
    put_round(double, keys=2, start=0, count=5)
    planner = double.planner()
    start = planner.initial_offset()
    double.fake.fail("GetRecords", "InternalFailure", times=2, status=500)
    end = planner.latest_offset(start, None)
    assert sum(len(r) for r in (planner.planned(start, end) or {}).values()) == 10
    double.fake.fail("GetRecords", "InternalFailure", times=10, status=500)
    double.put("card0", 99)
    with pytest.raises(KinesisReadError, match="InternalFailure"):
        planner.latest_offset(end, None)


def test_idle_shards_are_polled_once_per_idle_interval(double: Double) -> None:
    planner = double.planner(idle_time_between_reads_ms=1000)
    offset = planner.initial_offset()
    for _ in range(50):
        assert planner.latest_offset(offset, None) == offset
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        assert double.fake.calls[("GetRecords", shard)] == 1
    double.clock.advance(1.0)
    planner.latest_offset(offset, None)
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        assert double.fake.calls[("GetRecords", shard)] == 2


def test_a_recreated_stream_is_detected(double: Double) -> None:
    put_round(double, keys=2, start=0, count=5)
    planner = double.planner()
    checkpoint = drain_one(planner, planner.initial_offset(), None)
    double.fake.delete_stream(STREAM)
    double.clock.advance(5)
    double.fake.create_stream(STREAM, 2)
    put_round(double, keys=2, start=0, count=5)
    restarted = double.planner()
    with pytest.raises(StreamRecreatedError, match=r"deleted and\s+recreated"):
        restarted.latest_offset(checkpoint, None)


def test_available_now_stops_at_what_had_arrived_when_it_was_prepared(double: Double) -> None:
    before = put_round(double, keys=5, start=0, count=20)
    planner = double.planner()
    offset = planner.initial_offset()
    planner.prepare_available_now()
    double.clock.advance(1)
    put_round(double, keys=5, start=20, count=5)
    batches = drain(planner, offset, max_rows=30)
    got = [p for _, _, p in events(batches)]
    assert sorted(got) == sorted(before)


def test_available_now_waits_for_a_throttled_shard_instead_of_ending(double: Double) -> None:
    sent = put_round(double, keys=8, start=0, count=10)
    planner = double.planner()
    offset = planner.initial_offset()
    planner.prepare_available_now()
    double.fake.throttle(STREAM, "shardId-000000000000", times=3)
    batches = drain(planner, offset)
    got = [p for _, _, p in events(batches)]
    assert sorted(got) == sorted(sent)


def test_latest_starts_after_what_is_already_there(double: Double) -> None:
    put_round(double, keys=4, start=0, count=5)
    double.clock.advance(1)
    planner = double.planner(starting_position="LATEST")
    offset = planner.initial_offset()
    double.clock.advance(1)
    new = put_round(double, keys=4, start=5, count=3)
    assert sorted(p for _, _, p in events(drain(planner, offset))) == sorted(new)


def test_at_timestamp_starts_at_the_first_record_at_or_after_it(double: Double) -> None:
    put_round(double, keys=4, start=0, count=5)
    double.clock.advance(1)
    moment = double.clock.wall_ms()
    new = put_round(double, keys=4, start=5, count=3)
    planner = double.planner(starting_position="AT_TIMESTAMP", starting_timestamp_ms=moment)
    offset = planner.initial_offset()
    assert sorted(p for _, _, p in events(drain(planner, offset))) == sorted(new)


def test_replaying_a_batch_reads_exactly_its_records(double: Double) -> None:
    put_round(double, keys=6, start=0, count=20)
    planner = double.planner()
    batches = drain(planner, planner.initial_offset(), max_rows=25)
    options = double.options()
    shards = KinesisShards(make_client(options), STREAM)
    for start, end, planned in batches:
        for shard, position in end.shards.items():
            before = start.shards.get(shard, ShardPosition())
            if position.seq is None or position.seq == before.seq:
                assert shard not in planned
                continue
            replayed = [
                r
                for chunk in read_range(
                    shards, shard, before, start.start, position.seq, limit_per_call=7
                )
                for r in chunk
            ]
            assert [r["SequenceNumber"] for r in replayed] == [
                r["SequenceNumber"] for r in planned[shard]
            ]


def test_prefetch_reads_ahead_without_losing_or_repeating_records(double: Double) -> None:
    sent = put_round(double, keys=6, start=0, count=20)
    planner = double.planner(prefetch=True)
    batches = drain(planner, planner.initial_offset(), max_rows=25)
    planner.close()
    got = [p for _, _, p in events(batches)]
    assert sorted(got) == sorted(sent)
    assert_per_key_order(batches)


def test_a_failed_prefetch_fails_the_next_batch(double: Double) -> None:
    put_round(double, keys=6, start=0, count=20)
    planner = double.planner(prefetch=True)
    start = planner.initial_offset()
    # The batch's own fetch (one GetRecords per shard) succeeds; the prefetch after it fails.
    double.fake.fail("GetRecords", "AccessDeniedException", times=50, after=2)
    end = planner.latest_offset(start, 10)
    assert sum(len(r) for r in (planner.planned(start, end) or {}).values()) == 10
    planner.commit(end)
    with pytest.raises(KinesisReadError, match="AccessDeniedException"):
        planner.latest_offset(end, 10)
    planner.close()


def test_shard_listing_follows_pagination(double: Double) -> None:
    double.fake.list_page_size = 1
    planner = double.planner()
    assert set(planner.initial_offset().shards) == {
        "shardId-000000000000",
        "shardId-000000000001",
    }


def test_admission_cuts_every_shard_at_the_same_arrival_time() -> None:
    from processor.kinesis.planner import share_by_arrival

    # Shard a holds a dense stretch, b a sparse one: equal counts would take a far ahead.
    arrivals = {"a": list(range(0, 100)), "b": list(range(0, 400, 4))}
    granted = share_by_arrival(arrivals, 60, unfinished={"a", "b"})
    assert sum(granted.values()) == 60
    assert granted["a"] > granted["b"] > 0
    cut_a = arrivals["a"][granted["a"] - 1]
    cut_b = arrivals["b"][granted["b"] - 1]
    assert abs(cut_a - cut_b) <= 4  # both shards end at about the same arrival time

    # Never beyond what an unfinished shard has buffered (its next records may be earlier).
    granted = share_by_arrival({"a": [1, 2, 3], "b": [1, 50, 90]}, 100, unfinished={"a", "b"})
    assert granted == {"a": 3, "b": 1}
    # A shard at its tip imposes nothing; no limit admits everything.
    assert share_by_arrival({"a": [1, 2], "b": [1, 50]}, 100, unfinished={"a"}) == {"a": 2, "b": 1}
    assert share_by_arrival({"a": [1, 2], "b": [1, 50]}, None, unfinished={"a"}) == {"a": 2, "b": 2}
    # An unfinished shard with nothing buffered falls back to the fair split (no stall).
    assert sum(share_by_arrival({"a": [], "b": [5, 6]}, 10, unfinished={"a", "b"}).values()) == 2


def test_admission_counts_user_records_but_never_splits_an_aggregated_record() -> None:
    from processor.kinesis.planner import share_by_arrival

    sizes = {"a": [30, 30, 30], "b": [1, 1, 1]}
    arrivals = {"a": [1, 2, 3], "b": [1, 2, 3]}
    # In arrival order: a(30), b(1), then a's second record would make 61 > 50: the batch
    # ends there, whole records only (b's later records wait too, arrival order is kept).
    assert share_by_arrival(arrivals, 50, set(), sizes) == {"a": 1, "b": 1}
    assert share_by_arrival(arrivals, 61, set(), sizes) == {"a": 2, "b": 1}
    # A batch always takes one record, even one larger than the limit.
    assert share_by_arrival({"a": [1], "b": []}, 10, set(), {"a": [30], "b": []}) == {
        "a": 1,
        "b": 0,
    }
    # The fair split (an unfinished shard with nothing buffered) also admits whole records.
    fair = share_by_arrival({"a": [], "b": [5, 6]}, 10, {"a", "b"}, {"a": [], "b": [8, 8]})
    assert fair == {"a": 0, "b": 1}


def test_aggregated_records_are_admitted_whole_and_replayed_whole(double: Double) -> None:
    from fraudstream import kpl
    from processor.kinesis.records import to_record_batch

    sent = []
    for n in range(30):
        members = [kpl.UserRecord(f"card{k}", f"card{k}:{n}".encode()) for k in range(7)]
        sent += [m.data.decode() for m in members]
        double.clock.advance(0.001)
        double.fake.put(STREAM, "card0", kpl.encode(members), 0)  # all on the first shard
        double.put("plain", n)  # and a plain record beside them
        sent.append(f"plain:{n}")
    planner = double.planner()
    batches = drain(planner, planner.initial_offset(), max_rows=10)
    rows = [
        row
        for _, _, planned in batches
        for shard, recs in planned.items()
        for row in to_record_batch(recs, shard, STREAM).to_pylist()
    ]
    assert sorted(r["data"].decode() for r in rows) == sorted(sent)
    assert {r["sub_sequence_number"] for r in rows} == set(range(7))
    for _, _, planned in batches:  # 10 rows a batch, but a 7-event record is never cut
        assert (
            sum(7 if r["Data"].startswith(kpl.MAGIC) else 1 for rs in planned.values() for r in rs)
            <= 10 + 6
        )
    # The replay of a batch from its checkpointed range gives the same rows.
    shards = KinesisShards(make_client(double.options()), STREAM)
    for start, end, planned in batches:
        for shard, recs in planned.items():
            before = start.shards.get(shard, ShardPosition())
            replayed = [
                r
                for chunk in read_range(
                    shards,
                    shard,
                    before,
                    start.start,
                    end.shards[shard].seq or "",
                    limit_per_call=3,
                )
                for r in chunk
            ]
            assert to_record_batch(replayed, shard, STREAM).equals(
                to_record_batch(recs, shard, STREAM)
            )
    metrics = planner.last_metrics
    assert metrics.records >= metrics.kinesis_records


def test_an_aggregated_backlog_is_fetched_about_a_batch_at_a_time(double: Double) -> None:
    """GetRecords' Limit counts Kinesis records, admission counts rows: a Limit of the rows
    wanted would fetch 100 times them from 100-row records (on AWS 10 MiB a call, then five
    seconds of throttling). The reader sizes each call from the rows a record carried."""
    from fraudstream import kpl

    for n in range(400):  # 40,000 rows in 400 aggregated records, one shard
        members = [kpl.UserRecord(f"card{k}", f"{n}:{k}".encode()) for k in range(100)]
        double.clock.advance(0.001)
        double.fake.put(STREAM, "card0", kpl.encode(members), 0)
    planner = double.planner(prefetch=False)
    start = planner.initial_offset()
    end = planner.latest_offset(start, 1_000)
    shard = next(iter(planner.cursors.values()))
    admitted = planner.last_metrics.records
    assert 1_000 <= admitted <= 1_099  # whole records, one batch's worth
    assert admitted + shard.units <= 1_100  # a first call of at most 10 records ...
    assert shard.rows_per_record == 100
    planner.commit(end)
    planner.latest_offset(end, 1_000)
    assert planner.last_metrics.records + shard.units <= 2_200  # ... then what is missing


def test_a_byte_budget_cuts_a_batch_of_large_records(double: Double) -> None:
    """Records of ~10 KB each: 100 KB a batch admits about ten, never all of the backlog."""
    for n in range(60):
        double.clock.advance(0.001)
        double.fake.put(STREAM, f"card{n}", b"x" * 10_000)
    planner = double.planner(max_bytes_per_trigger=100_000)
    batches = drain(planner, planner.initial_offset(), max_rows=None)
    sizes = [sum(len(r) for r in p.values()) for _, _, p in batches]
    assert sum(sizes) == 60 and max(sizes) <= 10
    one = double.planner(max_bytes_per_trigger=10)  # smaller than one record: one at a time
    assert {sum(len(r) for r in p.values()) for _, _, p in drain(one, one.initial_offset())} == {1}
