"""The replay loop an executor runs after a restart, against the Kinesis double."""

from __future__ import annotations

import pytest

from processor.kinesis.consumer import KinesisShards, make_client
from processor.kinesis.errors import DataLossError, KinesisReadError
from processor.kinesis.offsets import ShardPosition, StartSpec
from processor.kinesis.shard_reader import read_range

from .conftest import STREAM, Double

SHARD = "shardId-000000000000"
HASH = 1  # an explicit hash key inside shard 0's range


def shards_of(double: Double) -> KinesisShards:
    return KinesisShards(make_client(double.options()), STREAM, sleep=double.clock.sleep)


def put_many(double: Double, count: int) -> list[str]:
    return [double.fake.put(STREAM, "card", f"card:{n}".encode(), HASH)[1] for n in range(count)]


def replay(double: Double, after: str | None, end: str, **kwargs: bool) -> list[str]:
    chunks = read_range(
        shards_of(double),
        SHARD,
        ShardPosition(after),
        StartSpec("TRIM_HORIZON"),
        end,
        limit_per_call=7,
        **kwargs,
    )
    return [r["SequenceNumber"] for chunk in chunks for r in chunk]


def test_a_replay_reads_exactly_its_range_through_throttles_and_expiries(double: Double) -> None:
    seqs = put_many(double, 60)
    double.fake.throttle(STREAM, SHARD, times=2)
    double.fake.fail("GetRecords", "ExpiredIteratorException", times=1, after=3)
    assert replay(double, seqs[9], seqs[49]) == seqs[10:50]
    assert replay(double, None, seqs[4]) == seqs[:5]


def test_a_replay_whose_records_are_gone_fails_unless_told_otherwise(double: Double) -> None:
    seqs = put_many(double, 10)
    beyond = str(int(seqs[-1]) + 10**6)  # a checkpointed end the shard no longer reaches
    with pytest.raises(DataLossError, match="records are gone"):
        replay(double, seqs[4], beyond)
    assert replay(double, seqs[4], beyond, fail_on_data_loss=False) == seqs[5:]


def test_a_replay_gives_up_when_iterators_keep_expiring(double: Double) -> None:
    seqs = put_many(double, 10)
    double.fake.fail("GetRecords", "ExpiredIteratorException", times=50)
    with pytest.raises(KinesisReadError, match="keep expiring"):
        replay(double, None, seqs[-1])
