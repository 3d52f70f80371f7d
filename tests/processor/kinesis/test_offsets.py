"""Offsets round-trip as JSON primitives; lineage follows the parent-before-child rule."""

from __future__ import annotations

import json

import pytest

from processor.kinesis.errors import KinesisSourceError
from processor.kinesis.offsets import (
    ShardInfo,
    ShardPosition,
    SourceOffset,
    StartSpec,
    StreamIdentity,
    plan_lineage,
    seq_int,
)

IDENTITY = StreamIdentity("tx", "arn:aws:kinesis:us-east-1:123456789012:stream/tx", 1714560000000)


def test_offset_round_trips_through_json() -> None:
    offset = SourceOffset(
        IDENTITY,
        StartSpec("AT_TIMESTAMP", 1714560000123),
        {
            "shardId-000000000001": ShardPosition(
                "49590338271490256608559692538361571095921575989136588898"
            ),
            "shardId-000000000000": ShardPosition(None),
            "shardId-000000000002": ShardPosition("7", closed=True),
        },
    )
    data = json.loads(json.dumps(offset.to_json()))
    assert SourceOffset.from_json(data) == offset
    assert list(data["shards"]) == sorted(data["shards"])  # stable JSON for equal offsets


def test_sequence_numbers_compare_as_integers() -> None:
    assert seq_int("10") > seq_int("9")  # as text, "10" < "9"
    assert seq_int("49590338271490256608559692538361571095921575989136588898") > seq_int("10")


@pytest.mark.parametrize(
    "data",
    [
        {"v": 99, "stream": {}, "start": {}, "shards": {}},
        {"v": 1},
        {"v": 1, "stream": IDENTITY.to_json(), "start": {"type": "LATEST"}, "shards": {}},
        {
            "v": 1,
            "stream": IDENTITY.to_json(),
            "start": {"type": "TRIM_HORIZON"},
            "shards": {"s": {"seq": "abc"}},
        },
    ],
)
def test_foreign_offsets_are_refused_clearly(data: dict) -> None:
    with pytest.raises(KinesisSourceError, match="cannot read"):
        SourceOffset.from_json(data)


def test_roots_are_read_first_and_children_wait_for_their_parents() -> None:
    listed = [
        ShardInfo("p", closed=True),
        ShardInfo("a", parents=("p",)),
        ShardInfo("b", parents=("p",)),
        ShardInfo("q"),
    ]
    change = plan_lineage({}, listed)
    assert sorted(change.shards) == ["p", "q"]
    # p still has records to read: its children stay out.
    change = plan_lineage({"p": ShardPosition("5"), "q": ShardPosition()}, listed)
    assert sorted(change.shards) == ["p", "q"]
    assert change.added == ()


def test_a_fully_read_parent_lets_its_children_in_and_drops_out() -> None:
    listed = [
        ShardInfo("p", closed=True),
        ShardInfo("a", parents=("p",)),
        ShardInfo("b", parents=("p",)),
    ]
    change = plan_lineage({"p": ShardPosition("5", closed=True)}, listed)
    assert change.added == ("a", "b")
    assert change.dropped == ("p",)
    assert change.shards == {"a": ShardPosition(), "b": ShardPosition()}


def test_a_merge_child_waits_for_both_parents() -> None:
    listed = [
        ShardInfo("a", closed=True),
        ShardInfo("b", closed=True),
        ShardInfo("m", parents=("a", "b")),
    ]
    halfway = {"a": ShardPosition("3", closed=True), "b": ShardPosition("4")}
    change = plan_lineage(halfway, listed)
    assert "m" not in change.shards
    assert change.dropped == ()  # a stays until all its children are tracked
    done = {"a": ShardPosition("3", closed=True), "b": ShardPosition("9", closed=True)}
    change = plan_lineage(done, listed)
    assert change.shards == {"m": ShardPosition()}
    assert change.dropped == ("a", "b")


def test_a_shard_gone_before_it_was_finished_is_reported_expired() -> None:
    listed = [ShardInfo("a", parents=("p",))]
    change = plan_lineage({"p": ShardPosition("5")}, listed)
    assert change.expired == ("p",)
    assert change.shards == {"a": ShardPosition()}  # its children are no longer blocked


def test_a_finished_shard_that_expired_simply_drops_out() -> None:
    change = plan_lineage(
        {"p": ShardPosition("5", closed=True), "a": ShardPosition()},
        [ShardInfo("a", parents=("p",))],
    )
    assert change.expired == ()
    assert change.dropped == ("p",)
    assert change.shards == {"a": ShardPosition()}


def test_a_dropped_parent_still_listed_is_not_read_again() -> None:
    listed = [
        ShardInfo("p", closed=True),
        ShardInfo("a", parents=("p",), closed=True),
        ShardInfo("b", parents=("p",)),
        ShardInfo("c", parents=("a",)),
    ]
    change = plan_lineage({"c": ShardPosition("9"), "b": ShardPosition("4")}, listed)
    assert change.added == ()
    assert change.shards == {"c": ShardPosition("9"), "b": ShardPosition("4")}
