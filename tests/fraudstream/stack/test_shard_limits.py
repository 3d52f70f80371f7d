"""AWS's per-shard Kinesis limits: the budgets (pure, on a manual clock) and the emulator that
enforces them (real server, real boto3), and that the producer and the source lose nothing
to throttling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws
from fraudstream.settings import Settings
from fraudstream.stack.shard_limits import GET_BYTES_PER_S, PUT_BYTES_PER_S, ShardLimits
from tests.processor.kinesis.fake_kinesis import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_puts_sustain_1000_records_a_second_after_a_one_second_burst(clock: ManualClock) -> None:
    limits = ShardLimits(clock.monotonic)
    assert sum(limits.admit_put("s", 100) for _ in range(1_500)) == 1_000
    clock.advance(0.5)
    assert sum(limits.admit_put("s", 100) for _ in range(1_000)) == 500
    assert limits.admit_put("other", 100)  # shards have budgets of their own
    clock.advance(10)
    assert sum(limits.admit_put("s", 100) for _ in range(2_000)) == 1_000  # no more than 1 s


def test_puts_sustain_one_mebibyte_a_second(clock: ManualClock) -> None:
    limits = ShardLimits(clock.monotonic)
    record = 100 * 1024
    assert sum(limits.admit_put("s", record) for _ in range(20)) == PUT_BYTES_PER_S // record
    clock.advance(0.25)
    assert sum(limits.admit_put("s", record) for _ in range(20)) == 2  # 256 KiB came back
    assert not limits.admit_put("s", PUT_BYTES_PER_S + 1)


def test_reads_allow_five_calls_a_second_and_pay_back_big_reads(clock: ManualClock) -> None:
    limits = ShardLimits(clock.monotonic)
    assert [limits.admit_get("s") for _ in range(6)] == [True] * 5 + [False]
    clock.advance(1)
    assert limits.admit_get("s")
    limits.charge_read("s", 10 * 1024 * 1024)  # a 10 MiB answer: ~4 s of debt left
    clock.advance(3.9)
    assert not limits.admit_get("s")
    clock.advance(0.2)
    assert limits.admit_get("s")
    clock.advance(2)  # the byte budget is full again (one second's worth at most)
    limits.charge_read("s", GET_BYTES_PER_S)
    assert limits.admit_get("s")  # exactly the budget: no debt


@pytest.fixture
def one_shard(local_stack: Settings) -> Iterator[Settings]:
    settings = local_stack.model_copy(update={"stream_name": f"limits-{uuid.uuid4().hex[:8]}"})
    kinesis = aws.client("kinesis", settings)
    kinesis.create_stream(StreamName=settings.stream_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=settings.stream_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    yield settings
    kinesis.delete_stream(StreamName=settings.stream_name)


@pytest.mark.integration
def test_the_emulator_throttles_puts_and_reads_as_aws_does(one_shard: Settings) -> None:
    kinesis = aws.client("kinesis", one_shard, max_attempts=1)
    stream = one_shard.stream_name
    began = time.monotonic()
    answers = [
        kinesis.put_records(
            StreamName=stream,
            Records=[{"Data": b"x" * 200, "PartitionKey": f"k{i}"} for i in range(500)],
        )
        for _ in range(4)
    ]  # 2,000 records at once: a second's burst of 1,000 plus what the calls' time refills
    elapsed = time.monotonic() - began
    failed = [r for a in answers for r in a["Records"] if "ErrorCode" in r]
    assert 1_000 <= 2_000 - len(failed) <= 1_000 + 1_000 * elapsed + 1
    assert sum(a["FailedRecordCount"] for a in answers) == len(failed)
    assert {r["ErrorCode"] for r in failed} == {"ProvisionedThroughputExceededException"}
    assert "Rate exceeded for shard shardId-000000000000" in failed[0]["ErrorMessage"]

    def put_until_refused() -> None:
        for _ in range(10):  # 900 KB each against 1 MiB/s: a single PutRecord fails whole
            kinesis.put_record(StreamName=stream, Data=b"x" * 900_000, PartitionKey="k")

    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        put_until_refused()
    shard = "shardId-000000000000"
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    stored = kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    small = sum(1 for r in stored if len(r["Data"]) == 200)
    assert small == 2_000 - len(failed)  # refused records were not stored

    def read_six_times() -> None:
        for _ in range(6):  # five GetRecords a second
            kinesis.get_records(ShardIterator=iterator, Limit=1)

    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        read_six_times()


@pytest.mark.integration
def test_nothing_is_lost_to_throttling_by_the_producer_or_the_source(one_shard: Settings) -> None:
    """5,000 plain records at once into a 1,000 records/s shard: the writer retries what is
    refused, and the source's planner, throttled at 5 reads/s, reads each record once."""
    from processor.kinesis.consumer import KinesisShards, make_client
    from processor.kinesis.options import SourceOptions
    from processor.kinesis.planner import Planner, offset_key
    from producer.kinesis_writer import KinesisWriter

    writer = KinesisWriter(aws.client("kinesis", one_shard, max_attempts=1), one_shard.stream_name)
    sent = {f"event-{i}".encode() for i in range(5_000)}
    for data in sorted(sent):
        writer.put(data, data.decode())
    writer.flush()
    assert writer.stats.sent == 5_000 and writer.stats.retried > 0

    options = SourceOptions(
        stream_name=one_shard.stream_name,
        region=one_shard.region,
        endpoint_url=one_shard.endpoint_url,
        starting_position="TRIM_HORIZON",
        max_records_per_fetch=200,  # 25 reads for the shard: throttled at five a second
        idle_time_between_reads_ms=0,
        prefetch=False,
    )
    planner = Planner(options, KinesisShards(make_client(options), options.stream_name))
    offset, read, throttles = planner.initial_offset(), [], 0
    deadline = time.monotonic() + 60
    while len(read) < 5_000 and time.monotonic() < deadline:
        end = planner.latest_offset(offset, None)
        throttles += planner.last_metrics.throttles
        if offset_key(end) == offset_key(offset):
            time.sleep(0.05)  # a throttled shard is backing off
            continue
        read += [r["Data"] for rs in (planner.planned(offset, end) or {}).values() for r in rs]
        planner.commit(end)
        offset = end
    assert sorted(read) == sorted(sent)
    assert throttles > 0
