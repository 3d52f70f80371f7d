"""The source in a real local[2] SparkSession against the emulator process (and the double)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.errors import AnalysisException, StreamingQueryException

from fraudstream import aws, kpl
from fraudstream.settings import Settings
from processor.kinesis.metrics import from_progress
from tests.processor.kinesis.fake_kinesis import FakeKinesis

from .spark_helpers import (
    MemorySink,
    assert_in_shard_order,
    put_events,
    reader,
    run_available_now,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_20000_events_are_read_exactly_once(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    sent = put_events(fresh_streams, 20_000)
    sink = MemorySink()
    frame = reader(
        spark, fresh_streams, startingPosition="TRIM_HORIZON", maxRecordsPerTrigger="6000"
    )
    query = run_available_now(frame, sink, str(tmp_path / "checkpoint"))
    got = sink.ids()
    assert len(got) == len(sent) == len(set(got))
    assert set(got) == set(sent)
    assert all(len(rows) <= 6000 for rows in sink.batches.values())
    assert_in_shard_order(sink.rows())
    # Per-batch metrics ride on the progress; the last batch of the run admitted nothing new.
    reported = [from_progress(p.json)[fresh_streams.stream_name] for p in query.recentProgress]
    assert sum(m.records for m in reported) == 20_000
    assert all(m.shards for m in reported)
    assert reported[-1].max_millis_behind_latest == 0


def test_stop_and_restart_resume_exactly_once(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    checkpoint = str(tmp_path / "checkpoint")
    sent = put_events(fresh_streams, 6000)
    sink = MemorySink()
    frame = reader(
        spark, fresh_streams, startingPosition="TRIM_HORIZON", maxRecordsPerTrigger="1000"
    )
    query = (
        frame.writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="0 seconds")
        .start()
    )
    wait_for(lambda: len(sink.batches) >= 2, what="two batches")
    query.stop()
    assert len(sink.ids()) < 6000
    sent += put_events(fresh_streams, 2000, start=6000)
    run_available_now(frame, sink, checkpoint)
    got = sink.ids()
    assert sorted(got) == sorted(sent)
    assert_in_shard_order(sink.rows())


def test_a_stream_recreated_under_the_same_name_is_detected(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    checkpoint = str(tmp_path / "checkpoint")
    put_events(fresh_streams, 100)
    frame = reader(spark, fresh_streams, startingPosition="TRIM_HORIZON")
    run_available_now(frame, MemorySink(), checkpoint)

    kinesis = aws.client("kinesis", fresh_streams)
    kinesis.delete_stream(StreamName=fresh_streams.stream_name)
    time.sleep(0.05)
    kinesis.create_stream(StreamName=fresh_streams.stream_name, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName=fresh_streams.stream_name)
    put_events(fresh_streams, 100)
    with pytest.raises(StreamingQueryException, match=r"deleted and\s+recreated"):
        run_available_now(frame, MemorySink(), checkpoint)


def test_latest_and_at_timestamp_start_where_they_should(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    put_events(fresh_streams, 300)
    time.sleep(0.05)
    between_ms = int(time.time() * 1000)
    time.sleep(0.05)

    sink = MemorySink()
    latest = reader(spark, fresh_streams, startingPosition="LATEST")
    query = (
        latest.writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(tmp_path / "latest"))
        .trigger(processingTime="0 seconds")
        .start()
    )
    wait_for(lambda: query.lastProgress is not None, what="the first trigger")
    later = put_events(fresh_streams, 200, start=300)
    wait_for(lambda: len(sink.ids()) >= 200, what="the new events")
    query.stop()
    assert sorted(sink.ids()) == sorted(later)

    at = MemorySink()
    frame = reader(
        spark, fresh_streams, startingPosition="AT_TIMESTAMP", startingTimestamp=str(between_ms)
    )
    run_available_now(frame, at, str(tmp_path / "at"))
    assert sorted(at.ids()) == sorted(later)


def test_a_split_on_the_emulator_loses_and_repeats_nothing(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    # moto keeps routing puts to the closed parent, so only no-loss/no-duplicate is checkable
    # here; ordering across a reshard is tested against the double below.
    sent = put_events(fresh_streams, 1000)
    kinesis = aws.client("kinesis", fresh_streams)
    shard = kinesis.list_shards(StreamName=fresh_streams.stream_name)["Shards"][0]
    low = int(shard["HashKeyRange"]["StartingHashKey"])
    high = int(shard["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(
        StreamName=fresh_streams.stream_name,
        ShardToSplit=shard["ShardId"],
        NewStartingHashKey=str((low + high) // 2),
    )
    sent += put_events(fresh_streams, 1000, start=1000)
    sink = MemorySink()
    frame = reader(spark, fresh_streams, startingPosition="TRIM_HORIZON")
    run_available_now(frame, sink, str(tmp_path / "checkpoint"))
    assert sorted(sink.ids()) == sorted(sent)


def test_split_and_merge_keep_per_key_order_in_spark(spark: Any, tmp_path: Path) -> None:
    fake = FakeKinesis()
    fake.create_stream("tx", 2)
    sent: list[str] = []

    def put_round(first: int) -> None:
        for n in range(first, first + 20):
            for card in range(10):
                event = f'{{"id": "e{n:03d}-{card}", "card": "card{card}"}}'
                fake.put("tx", f"card{card}", event.encode())
                sent.append(f"e{n:03d}-{card}")

    put_round(0)
    fake.split("tx", "shardId-000000000000")
    put_round(20)
    fake.merge("tx", "shardId-000000000003", "shardId-000000000001")
    put_round(40)

    with fake.serve() as endpoint:
        frame = (
            spark.readStream.format("kinesis")
            .option("streamName", "tx")
            .option("endpointUrl", endpoint)
            .option("region", "us-east-1")
            .option("startingPosition", "TRIM_HORIZON")
            .option("maxRecordsPerTrigger", "150")
            .load()
        )
        sink = MemorySink()
        run_available_now(frame, sink, str(tmp_path / "checkpoint"))

    rows = sink.rows()
    assert sorted(r["id"] for _, r in rows) == sorted(sent)
    by_card: dict[str, list[tuple[int, int, str]]] = {}
    for batch_id, row in rows:
        by_card.setdefault(row["card"], []).append((batch_id, row["seq"], row["id"]))
    for card, events in by_card.items():
        shards_per_batch: dict[int, set[str]] = {}
        for batch_id, row in rows:
            if row["card"] == card:
                shards_per_batch.setdefault(batch_id, set()).add(row["shard"])
        assert all(len(s) == 1 for s in shards_per_batch.values()), card
        ordered = [event_id for _, _, event_id in sorted(events)]
        assert ordered == sorted(ordered), card  # e000 < e001 < ... as put


def test_aggregated_records_across_a_reshard_and_a_restart_exactly_once_in_order(
    spark: Any, tmp_path: Path
) -> None:
    """KPL-aggregated records (one per shard per round, as the producer writes them) through a
    split and a merge; the query is stopped after two batches and restarted. Admission (150
    rows) falls inside aggregated records: batches take them whole, so every event is read
    once, each card stays on one shard per batch and in put order."""
    fake = FakeKinesis()
    fake.create_stream("tx", 2)
    sent: list[str] = []

    def put_round(first: int) -> None:
        for n in range(first, first + 20):
            by_shard: dict[str, list[kpl.UserRecord]] = {}
            for card in range(10):
                event = f'{{"id": "e{n:03d}-{card}", "card": "card{card}"}}'
                hashed = kpl.hash_key(f"card{card}")
                shard = next(
                    sid
                    for sid, s in fake.streams["tx"].shards.items()
                    if not s.closed and s.start_hash <= hashed <= s.end_hash
                )
                by_shard.setdefault(shard, []).append(kpl.UserRecord(f"card{card}", event.encode()))
                sent.append(f"e{n:03d}-{card}")
            for members in by_shard.values():
                first_key = members[0].partition_key
                fake.put("tx", first_key, kpl.encode(members), kpl.hash_key(first_key))

    put_round(0)
    fake.split("tx", "shardId-000000000000")
    put_round(20)
    fake.merge("tx", "shardId-000000000003", "shardId-000000000001")
    put_round(40)

    checkpoint = str(tmp_path / "checkpoint")
    sink = MemorySink()
    with fake.serve() as endpoint:
        frame = (
            spark.readStream.format("kinesis")
            .option("streamName", "tx")
            .option("endpointUrl", endpoint)
            .option("region", "us-east-1")
            .option("startingPosition", "TRIM_HORIZON")
            .option("maxRecordsPerTrigger", "150")
            .load()
        )
        query = (
            frame.writeStream.foreachBatch(sink)
            .option("checkpointLocation", checkpoint)
            .trigger(processingTime="0 seconds")
            .start()
        )
        wait_for(lambda: len(sink.batches) >= 2, what="two batches")
        query.stop()
        assert 0 < len(sink.ids()) < len(sent)
        run_available_now(frame, sink, checkpoint)

    rows = sink.rows()
    assert sorted(r["id"] for _, r in rows) == sorted(sent)
    assert any(r["sub"] > 0 for _, r in rows)
    batches_of_record: dict[tuple[str, int], set[int]] = {}
    for batch_id, row in rows:
        batches_of_record.setdefault((row["shard"], row["seq"]), set()).add(batch_id)
    assert all(len(b) == 1 for b in batches_of_record.values()), "an aggregated record was split"
    for card in {r["card"] for _, r in rows}:
        mine = [(batch_id, r) for batch_id, r in rows if r["card"] == card]
        shards_per_batch: dict[int, set[str]] = {}
        for batch_id, r in mine:
            shards_per_batch.setdefault(batch_id, set()).add(r["shard"])
        assert all(len(s) == 1 for s in shards_per_batch.values()), card
        ordered = [r["id"] for _, r in sorted(mine, key=lambda x: (x[0], x[1]["seq"], x[1]["sub"]))]
        assert ordered == sorted(ordered), card


def test_bad_options_fail_when_the_stream_is_defined(spark: Any) -> None:
    with pytest.raises(AnalysisException, match="startingPosition must be one of"):
        spark.readStream.format("kinesis").option("streamName", "tx").option(
            "startingPosition", "EARLIEST"
        ).load()
