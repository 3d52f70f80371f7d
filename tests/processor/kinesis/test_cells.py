"""Hash-range cells in the Kinesis source: which shards a cell reads, and which records it keeps,
through splits and merges (the AWS-faithful double, no Spark)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql.streaming.datasource import ReadMaxRows

from fraudstream.cells import HashRange
from processor.kinesis.cells import cell_listing, keep_owned, owned_mask, straddling
from processor.kinesis.offsets import HASH_MAX, ShardInfo, ShardPosition, plan_lineage
from processor.kinesis.options import parse_options
from processor.kinesis.source import KinesisDataSource, KinesisPartition, KinesisStreamReader

from .conftest import Double

FOUR = "four"
Q = 2**126  # a quarter of the hash-key space: the width of a shard of a uniform 4-shard stream
FIRST, SECOND = HashRange(0, 2), HashRange(1, 2)


def shard(sid: str, first: int, last: int, *parents: str, closed: bool = False) -> ShardInfo:
    return ShardInfo(sid, parents=parents, closed=closed, first_hash=first, last_hash=last)


UNIFORM = [shard(f"s{k}", k * Q, (k + 1) * Q - 1) for k in range(4)]


def test_a_cell_reads_the_shards_meeting_its_range() -> None:
    assert [s.shard_id for s in cell_listing(UNIFORM, FIRST)] == ["s0", "s1"]
    assert [s.shard_id for s in cell_listing(UNIFORM, SECOND)] == ["s2", "s3"]
    assert cell_listing(UNIFORM, HashRange(0, 1)) == UNIFORM
    assert straddling(UNIFORM, FIRST) == straddling(UNIFORM, HashRange(0, 1)) == {}
    # three shards, two cells: the middle shard straddles the cut and both read it
    thirds = [shard(f"t{k}", k * (HASH_MAX // 3), (k + 1) * (HASH_MAX // 3)) for k in range(3)]
    assert [s.shard_id for s in cell_listing(thirds, FIRST)] == ["t0", "t1"]
    assert [s.shard_id for s in cell_listing(thirds, SECOND)] == ["t1", "t2"]
    assert set(straddling(thirds, FIRST)) == set(straddling(thirds, SECOND)) == {"t1"}


def test_after_a_split_a_cell_follows_the_children_inside_it() -> None:
    listed = [
        shard("s0", 0, Q - 1, closed=True),
        *UNIFORM[1:],
        shard("s4", 0, Q // 2 - 1, "s0"),
        shard("s5", Q // 2, Q - 1, "s0"),
    ]
    mine = cell_listing(listed, FIRST)
    assert [s.shard_id for s in mine] == ["s0", "s1", "s4", "s5"]
    tracked = {"s0": ShardPosition("9", closed=False), "s1": ShardPosition("7")}
    assert plan_lineage(tracked, mine).added == ()  # children wait for their parent
    tracked["s0"] = ShardPosition("10", closed=True)
    change = plan_lineage(tracked, mine)
    assert change.added == ("s4", "s5") and change.dropped == ("s0",)
    assert plan_lineage({}, cell_listing(listed, SECOND)).added == ("s2", "s3")


def test_a_merge_across_the_cut_is_read_by_both_cells_each_after_its_own_parent() -> None:
    listed = [
        UNIFORM[0],
        shard("s1", Q, 2 * Q - 1, closed=True),
        shard("s2", 2 * Q, 3 * Q - 1, closed=True),
        UNIFORM[3],
        shard("s4", Q, 3 * Q - 1, "s1", "s2"),  # straddles the cut at 2 * Q
    ]
    first, second = cell_listing(listed, FIRST), cell_listing(listed, SECOND)
    assert [s.shard_id for s in first] == ["s0", "s1", "s4"]
    assert [s.shard_id for s in second] == ["s2", "s3", "s4"]
    assert straddling(listed, FIRST) == straddling(listed, SECOND) == {"s4": (Q, 3 * Q - 1)}
    # each cell waits for the parent it reads; the other parent holds none of its cards
    reading = {"s0": ShardPosition("1"), "s1": ShardPosition("5")}
    assert plan_lineage(reading, first).added == ()
    done = {"s0": ShardPosition("1"), "s1": ShardPosition("6", closed=True)}
    assert plan_lineage(done, first).added == ("s4",)
    assert plan_lineage({"s3": ShardPosition("2")}, second).added == ("s2",)


def test_records_of_a_straddling_shard_are_kept_by_the_cell_owning_their_key() -> None:
    keys = [f"tok_{n}" for n in range(300)]
    batch = pa.RecordBatch.from_pydict({"partition_key": keys, "n": list(range(300))})
    halves = [keep_owned(batch, cell) for cell in (FIRST, SECOND)]
    assert sum(h.num_rows for h in halves) == 300
    assert sorted(halves[0].column("n").to_pylist() + halves[1].column("n").to_pylist()) == list(
        range(300)
    )
    assert all(FIRST.owns(k) for k in halves[0].column("partition_key").to_pylist())
    assert keep_owned(batch, HashRange(0, 1)) is batch
    chunked = pa.chunked_array([keys[:10], keys[10:20]])
    assert list(owned_mask(chunked, FIRST)) == [FIRST.owns(k) for k in keys[:20]]


@pytest.mark.parametrize(
    "shard_range",
    [(HASH_MAX // 5, HASH_MAX // 2), (Q, 3 * Q - 1), (2**127 - 5, 2**127 + 5), (0, HASH_MAX)],
)
def test_every_record_of_a_shard_is_kept_by_one_cell_that_reads_it(
    shard_range: tuple[int, int],
) -> None:
    """Strays included: records whose keys hash outside the shard (an outdated producer's
    aggregate after a split) go to their owner if it reads the shard, else to the cell holding
    the shard's first key."""
    keys = [f"tok_{n}" for n in range(400)]
    batch = pa.RecordBatch.from_pydict({"partition_key": keys})
    three = [HashRange(i, 3) for i in range(3)]
    readers = [c for c in three if c.overlaps(*shard_range)]
    kept = Counter[str]()
    for cell in readers:
        inside = cell.inside(*shard_range)
        rows = batch if inside else keep_owned(batch, cell, shard_range)
        kept.update(rows.column("partition_key").to_pylist())
    assert kept == Counter(keys)
    first = next(c for c in readers if c.start <= shard_range[0] < c.end)
    for cell in readers:
        mine = set(keep_owned(batch, cell, shard_range).column("partition_key").to_pylist())
        assert {k for k in keys if cell.owns(k)} <= mine
        assert cell == first or all(cell.owns(k) for k in mine)


def test_a_bad_hash_range_option_is_refused() -> None:
    with pytest.raises(ValueError, match="option hashRange must be <index>/<count>"):
        parse_options({"streamName": "tx", "hashRange": "first"})
    assert parse_options({"streamName": "tx", "hashRange": "1/2"}).cell == SECOND


# --- the source, end to end over the double ---------------------------------------------------


def reader(double: Double, cell: str) -> KinesisStreamReader:
    source = KinesisDataSource(
        {
            "streamName": FOUR,
            "endpointUrl": double.endpoint,
            "region": "us-east-1",
            "startingPosition": "TRIM_HORIZON",
            "dataType": "string",
            "idleTimeBetweenReadsMs": "0",
            "prefetch": "false",
            "hashRange": cell,
        }
    )
    made = source.streamReader(source.schema())
    assert isinstance(made, KinesisStreamReader)
    return made


Batch = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]


def drain(made: KinesisStreamReader) -> list[Batch]:
    """Every batch the reader plans, as (start, end, rows read from its partitions)."""
    batches: list[Batch] = []
    start = made.initialOffset()
    for _ in range(200):
        end = made.latestOffset(start, ReadMaxRows(100))
        if end == start:
            return batches
        parts = made.partitions(start, end)
        rows = [r for p in parts for b in made.read(p) for r in b.to_pylist()]
        made.commit(end)
        batches.append((start, end, rows))
        start = end
    raise AssertionError("the reader never ran out of batches")


def put(double: Double, rounds: range, cards: int = 16) -> None:
    for n in rounds:
        for card in range(cards):
            double.clock.advance(0.001)
            double.fake.put(FOUR, f"tok_{card}", f"tok_{card}:{n}".encode())


def resharded(double: Double) -> None:
    """A 4-shard stream, then a split inside the first half and a merge across the cut, with
    traffic before, between and after."""
    double.fake.create_stream(FOUR, 4)
    put(double, range(0, 3))
    double.fake.split(FOUR, "shardId-000000000000")  # 4 and 5, inside the first half
    put(double, range(3, 6))
    double.fake.merge(FOUR, "shardId-000000000001", "shardId-000000000002")  # 6 straddles
    put(double, range(6, 9))


def test_two_cells_read_every_record_once_between_them_through_a_reshard(
    double: Double,
) -> None:
    resharded(double)
    whole = [r for _, _, rows in drain(reader(double, "0/1")) for r in rows]
    assert len(whole) == 16 * 9
    before = Counter(double.fake.calls)
    per_cell: dict[str, list[dict[str, Any]]] = {}
    calls: dict[str, Counter[tuple[str, str]]] = {}
    batches: dict[str, list[Batch]] = {}
    for cell in ("0/2", "1/2"):
        batches[cell] = drain(reader(double, cell))
        per_cell[cell] = [r for _, _, rows in batches[cell] for r in rows]
        calls[cell] = Counter(double.fake.calls) - before
        before = Counter(double.fake.calls)

    got = [r["data"] for rows in per_cell.values() for r in rows]
    assert sorted(got) == sorted(r["data"] for r in whole) and len(set(got)) == len(got)
    for cell, rows in per_cell.items():
        assert all(HashRange.parse(cell).owns(r["partition_key"]) for r in rows)
        order: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            key, n = r["data"].split(":")
            order[key].append(int(n))
        assert all(ns == sorted(ns) and len(ns) == 9 for ns in order.values())
    # each cell asks Kinesis only for the shards meeting its half
    read = {
        cell: {sid for (op, sid), n in c.items() if op == "GetRecords" and n}
        for cell, c in calls.items()
    }
    ids = [f"shardId-00000000000{k}" for k in range(7)]
    assert read["0/2"] == {ids[0], ids[1], ids[4], ids[5], ids[6]}
    assert read["1/2"] == {ids[2], ids[3], ids[6]}

    # A restarted cell has no records in memory: it re-reads ranges, filtering the shard that
    # straddles the cut on the executors, and gets the same records.
    restarted = reader(double, "1/2")
    filtered = set()
    for start, end, rows in batches["1/2"]:
        parts = restarted.partitions(start, end)
        assert all(isinstance(p, KinesisPartition) and p.payload is None for p in parts)
        filtered |= {p.shard_id for p in parts if p.keep}  # type: ignore[attr-defined]
        again = [r for p in parts for b in restarted.read(p) for r in b.to_pylist()]
        assert sorted(r["data"] for r in again) == sorted(r["data"] for r in rows)
    assert filtered == {ids[6]}
