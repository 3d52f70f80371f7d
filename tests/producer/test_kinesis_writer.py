"""The Kinesis writer against the real emulator, with failures injected by the emulator."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudstream import aws, kpl
from fraudstream.errors import ResourceMissingError
from fraudstream.settings import Settings
from fraudstream.stack.faults import Fault
from fraudstream.stream_dump import read_stream
from producer.errors import DeliveryError
from producer.kinesis_writer import MAX_BATCH_RECORDS, KinesisWriter, _Entry, batches

pytestmark = pytest.mark.integration


def writer(settings: Settings, **options: Any) -> KinesisWriter:
    client = aws.client("kinesis", settings, max_attempts=1)
    return KinesisWriter(client, settings.stream_name, sleep=lambda _: None, **options)


def stored(settings: Settings) -> list[bytes]:
    return [r.data for r in read_stream(aws.client("kinesis", settings), settings.stream_name)]


def test_batches_respect_the_record_limit(fresh_streams: Settings) -> None:
    out = writer(fresh_streams)
    for i in range(1_234):
        out.put(f"event-{i}".encode(), f"card-{i % 50}")
    out.flush()
    assert out.stats.sent == 1_234 and out.stats.requests == 3
    assert sorted(stored(fresh_streams)) == sorted(f"event-{i}".encode() for i in range(1_234))
    records = list(read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name))
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < r.arrival <= now for r in records)
    assert {r.partition_key for r in records} == {f"card-{i}" for i in range(50)}


def test_batches_respect_the_byte_limit() -> None:
    payload = b"x" * (900 * 1024)
    entries = [_Entry(payload, "pk") for _ in range(7)]  # 6.3 MiB: two calls under 5 MiB
    assert [len(b) for b in batches(entries)] == [5, 2]
    assert [len(b) for b in batches([_Entry(b"x", "k")] * 1_234)] == [500, 500, 234]


def test_oversized_and_unkeyed_records_are_refused(fresh_streams: Settings) -> None:
    out = writer(fresh_streams)
    with pytest.raises(ValueError, match="1 MiB"):
        out.put(b"x" * (1024 * 1024 + 1), "pk")
    with pytest.raises(ValueError, match="partition key"):
        out.put(b"x", "")


def test_aggregated_records_carry_every_event_on_its_cards_shard(fresh_streams: Settings) -> None:
    out = writer(fresh_streams, aggregate=True, max_aggregate_bytes=4_096)
    sent = [(f"event-{i}".encode(), f"card-{i % 97}") for i in range(3_000)]
    for data, key in sent:
        out.put(data, key)
    out.put(b"y" * 5_000, "big")  # too large for a 4 KiB aggregate: sent as a plain record
    out.flush()
    out.close()
    assert out.stats.sent == 3_001 and out.stats.misrouted == 0
    assert 3_000 * 14 / 4_096 < out.stats.kinesis_records < 100  # ~4 KiB aggregates
    records = list(read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name))
    assert sorted((r.data, r.partition_key) for r in records) == sorted(
        [*sent, (b"y" * 5_000, "big")]
    )
    shards_of_card: dict[str, set[str]] = {}
    for record in records:
        shards_of_card.setdefault(record.partition_key, set()).add(record.shard_id)
    assert all(len(shards) == 1 for shards in shards_of_card.values())
    kinesis = aws.client("kinesis", fresh_streams)
    listed = kinesis.list_shards(StreamName=fresh_streams.stream_name)["Shards"]
    for record in records:  # each card on the shard its hash key belongs to, as Kinesis routes
        shard = next(s for s in listed if s["ShardId"] == record.shard_id)
        low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        assert low <= kpl.hash_key(record.partition_key) <= high
    with pytest.raises(ValueError, match="max_aggregate_bytes"):
        writer(fresh_streams, aggregate=True, max_aggregate_bytes=100)


def test_a_tick_of_every_shard_goes_out_in_one_call(fresh_streams: Settings) -> None:
    """A flush's aggregates share a PutRecords call: one call, not one a shard (the call's
    overhead, not its size, is what a producer and the emulator pay), each aggregate still
    on its cards' shard."""
    out = writer(fresh_streams, aggregate=True)
    keys = [f"card-{i % 200}" for i in range(2_000)]
    out.put_many([f"event-{i}".encode() for i in range(2_000)], keys)
    out.flush()
    out.close()
    assert out.stats.requests == 1 and out.stats.sent == 2_000
    assert out.stats.kinesis_records == fresh_streams.stream_shards and out.stats.misrouted == 0
    records = list(read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name))
    assert len({r.shard_id for r in records}) == fresh_streams.stream_shards


def test_more_than_a_shard_takes_in_a_second_is_paced(fresh_streams: Settings) -> None:
    """A flush holding more than a shard's 1 MiB a second for one shard goes out shard by
    shard, a second's worth at a time, so the emulator (limits on, as AWS) refuses nothing."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    client = aws.client("kinesis", fresh_streams, max_attempts=1)
    out = KinesisWriter(client, fresh_streams.stream_name, aggregate=True, sleep=sleep)
    big = [bytes([i % 251]) * 10_000 for i in range(170)]  # 1.7 MB on one card's shard
    out.put_many(big, ["card-hot"] * len(big))
    out.put_many([b"small"] * 50, [f"card-{i}" for i in range(50)])
    out.flush()
    out.close()
    assert slept == [1.0] and out.stats.retried == 0 and out.stats.sent == 220
    records = read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name)
    assert [r.data for r in records if r.partition_key == "card-hot"] == big


def test_partial_failures_are_retried_until_delivered_exactly_once(
    fresh_streams: Settings, faults: Callable[..., dict[str, Any]]
) -> None:
    faults(
        Fault("PutRecords", probability=0.2),
        Fault("PutRecords", "partial", fraction=0.3),
        seed=42,
    )
    out = writer(fresh_streams)
    expected = [f"event-{i}".encode() for i in range(3_000)]
    for data in expected:
        out.put(data, data.decode())
    out.flush()
    injected = faults.status()["injected"]  # type: ignore[attr-defined]
    assert injected["PutRecords:partial"] > 500 and injected["PutRecords:error"] > 0
    assert out.stats.retried >= injected["PutRecords:partial"]
    assert out.stats.sent == 3_000 and out.stats.undelivered == 0
    assert sorted(stored(fresh_streams)) == sorted(expected)


def test_gives_up_loudly(fresh_streams: Settings, faults: Callable[..., dict[str, Any]]) -> None:
    faults(Fault("PutRecords", "partial", fraction=1.0))
    out = writer(fresh_streams, max_attempts=3)
    for i in range(10):
        out.put(b"doomed", f"k{i}")
    with pytest.raises(DeliveryError, match="10 record\\(s\\) not delivered") as caught:
        out.flush()
    assert caught.value.undelivered == 10 and out.stats.requests == 3


def test_missing_stream_is_a_clear_error(local_stack: Settings) -> None:
    out = writer(local_stack.model_copy(update={"stream_name": "no-such-stream"}))
    out.put(b"x", "k")
    with pytest.raises(ResourceMissingError, match="fraudstream stack up"):
        out.flush()


def test_backoff_is_capped_full_jitter(local_stack: Settings) -> None:
    client = aws.client("kinesis", local_stack, max_attempts=1)
    out = KinesisWriter(client, "s", base_backoff=0.1, max_backoff=0.5, rng=random.Random(7))
    sleeps = [out.backoff.delay(attempt) for attempt in range(1, 40)]
    assert all(0 <= s <= 0.5 for s in sleeps) and max(sleeps) > 0.1
    assert MAX_BATCH_RECORDS == 500


def test_a_reshard_is_noticed_and_the_shard_map_listed_again() -> None:
    """Against the AWS-faithful double: aggregates planned for a shard that has since split
    land on a child; the writer counts them, lists the shards again, and routes the next
    ones right. Nothing is lost."""
    from fraudstream.settings import load_settings
    from fraudstream.stream_dump import read_stream as read_all
    from tests.processor.kinesis.fake_kinesis import FakeKinesis

    fake = FakeKinesis()
    fake.create_stream("tx", 2)
    fake.list_page_size = 1  # the shard map follows ListShards pages
    with fake.serve() as endpoint:
        client = aws.client("kinesis", load_settings(endpoint_url=endpoint), max_attempts=1)
        out = KinesisWriter(client, "tx", aggregate=True, sleep=lambda _: None)
        keys = [f"card-{i}" for i in range(40)]
        out.put_many([f"a-{k}".encode() for k in keys], keys)
        out.flush()
        assert out.stats.misrouted == 0
        out.put_many([f"b-{k}".encode() for k in keys], keys)  # planned on the old map
        fake.split("tx", "shardId-000000000000")
        out.flush()
        assert out.stats.misrouted >= 1
        out.put_many([f"c-{k}".encode() for k in keys], keys)  # re-listed: the children
        misrouted = out.stats.misrouted
        out.flush()
        out.close()
        assert out.stats.misrouted == misrouted and out.stats.sent == 120
        got = sorted(r.data.decode() for r in read_all(client, "tx"))
        assert got == sorted(f"{p}-{k}" for p in "abc" for k in keys)
