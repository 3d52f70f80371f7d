"""Source offsets and shard lineage: pure data and rules, no I/O.

An offset names the stream it belongs to (ARN and creation time, so a checkpoint taken on a
stream that was later deleted and recreated under the same name is refused) and, per shard,
the last sequence number consumed. Spark stores it as JSON in the checkpoint::

    {"v": 1,
     "stream": {"name": "tx", "arn": "arn:aws:kinesis:...:stream/tx", "createdMs": 1714560000000},
     "start": {"type": "TRIM_HORIZON"},
     "shards": {"shardId-000000000000": {"seq": "4959...", "closed": false},
                "shardId-000000000001": {"seq": null, "closed": false}}}

``seq: null`` means nothing of that shard has been consumed yet: reading starts at ``start``
(TRIM_HORIZON, or AT_TIMESTAMP for LATEST / AT_TIMESTAMP queries, so a replay re-reads the same
records). ``closed: true`` means the shard was closed by a reshard and every record in it has
been consumed, which is what lets its children be read (see :func:`plan_lineage`).

Sequence numbers are kept as the strings Kinesis returns and compared as integers: real ones
are 56 digits long, the emulator's are small, and neither compares correctly as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from processor.kinesis.errors import KinesisSourceError

OFFSET_VERSION = 1
HASH_MAX = 2**128 - 1  # the last Kinesis hash key


def seq_int(sequence_number: str) -> int:
    """A sequence number as an integer, the only order Kinesis defines for them."""
    return int(sequence_number)


@dataclass(frozen=True)
class StreamIdentity:
    """Which stream an offset belongs to; a recreated stream has a new creation time."""

    name: str
    arn: str
    created_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arn": self.arn, "createdMs": self.created_ms}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StreamIdentity:
        return cls(name=str(data["name"]), arn=str(data["arn"]), created_ms=int(data["createdMs"]))


@dataclass(frozen=True)
class StartSpec:
    """Where a shard with nothing consumed yet is read from (fixed when the query starts)."""

    type: Literal["TRIM_HORIZON", "AT_TIMESTAMP"]
    timestamp_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        if self.type == "AT_TIMESTAMP":
            return {"type": self.type, "timestampMs": self.timestamp_ms}
        return {"type": self.type}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StartSpec:
        kind = data["type"]
        if kind == "TRIM_HORIZON":
            return cls("TRIM_HORIZON")
        if kind == "AT_TIMESTAMP":
            return cls("AT_TIMESTAMP", int(data["timestampMs"]))
        raise ValueError(f"unknown start type {kind!r}")


@dataclass(frozen=True)
class ShardPosition:
    """How far one shard has been consumed."""

    seq: str | None = None  # last consumed sequence number; None: nothing yet
    closed: bool = False  # the shard is closed and fully consumed

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "closed": self.closed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardPosition:
        seq = data.get("seq")
        if seq is not None:
            seq_int(str(seq))  # reject anything that is not a sequence number
        return cls(seq=None if seq is None else str(seq), closed=bool(data.get("closed", False)))


@dataclass(frozen=True)
class SourceOffset:
    """The whole offset of the source: one position per tracked shard."""

    stream: StreamIdentity
    start: StartSpec
    shards: Mapping[str, ShardPosition] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of primitives, shards sorted so equal offsets serialise equally."""
        return {
            "v": OFFSET_VERSION,
            "stream": self.stream.to_json(),
            "start": self.start.to_json(),
            "shards": {sid: self.shards[sid].to_json() for sid in sorted(self.shards)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceOffset:
        """Parse a checkpointed offset; raise a clear error for anything else."""
        try:
            if data.get("v") != OFFSET_VERSION:
                raise ValueError(f"unsupported offset version {data.get('v')!r}")
            return cls(
                stream=StreamIdentity.from_json(data["stream"]),
                start=StartSpec.from_json(data["start"]),
                shards={
                    str(sid): ShardPosition.from_json(pos) for sid, pos in data["shards"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise KinesisSourceError(
                f"the checkpoint holds an offset this Kinesis source cannot read ({error}): "
                f"{data!r}"
            ) from error

    def with_shards(self, shards: Mapping[str, ShardPosition]) -> SourceOffset:
        return SourceOffset(self.stream, self.start, dict(shards))


@dataclass(frozen=True)
class ShardInfo:
    """What ListShards says about one shard."""

    shard_id: str
    parents: tuple[str, ...] = ()  # ParentShardId, then AdjacentParentShardId (merges)
    closed: bool = False  # has an EndingSequenceNumber
    first_hash: int = 0  # HashKeyRange, both ends inclusive
    last_hash: int = HASH_MAX

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> ShardInfo:
        parents = tuple(
            str(shard[key]) for key in ("ParentShardId", "AdjacentParentShardId") if shard.get(key)
        )
        ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
        hashes = shard.get("HashKeyRange", {})
        return cls(
            shard_id=str(shard["ShardId"]),
            parents=parents,
            closed=ending is not None,
            first_hash=int(hashes.get("StartingHashKey", 0)),
            last_hash=int(hashes.get("EndingHashKey", HASH_MAX)),
        )


@dataclass(frozen=True)
class LineageChange:
    """How the tracked shard set changes after a ListShards."""

    shards: dict[str, ShardPosition]  # the new tracked set
    added: tuple[str, ...] = ()  # shards now readable (roots, or children of finished parents)
    dropped: tuple[str, ...] = ()  # closed, fully consumed shards no longer needed
    expired: tuple[str, ...] = ()  # tracked shards gone from the stream before being finished


def plan_lineage(
    tracked: Mapping[str, ShardPosition], listed: Iterable[ShardInfo]
) -> LineageChange:
    """Decide which shards to read, following Kinesis's parent-before-child rule.

    - A listed shard becomes readable once each of its parents is finished: tracked and
      closed (fully consumed), or no longer known at all (expired past retention, or older than
      the query's start). Children therefore never start before their parents are drained,
      which keeps each partition key's records in order across splits and merges.
    - A closed, fully consumed shard is dropped once all of its children are tracked; a
      listed shard with a tracked descendant is known to be done and is not read again.
    - A tracked shard that is not finished yet but no longer listed has expired past the
      stream's retention: its unread records are lost. It is reported in ``expired`` and left
      out of the result; the caller decides whether that fails the query.
    """
    listing = {info.shard_id: info for info in listed}
    expired = tuple(sorted(s for s, p in tracked.items() if s not in listing and not p.closed))
    shards = {s: p for s, p in tracked.items() if s in listing or p.closed}
    children: dict[str, list[str]] = {}
    for info in listing.values():
        for parent in info.parents:
            children.setdefault(parent, []).append(info.shard_id)

    def superseded(shard: str) -> bool:
        """Untracked, but a descendant is tracked: read and dropped earlier."""
        pending = list(children.get(shard, []))
        while pending:
            child = pending.pop()
            if child in shards:
                return True
            pending.extend(children.get(child, []))
        return False

    def finished(parent: str) -> bool:
        if parent in shards:
            return shards[parent].closed
        return parent not in listing or parent in expired or superseded(parent)

    # New shards start unfinished, so one pass over the listing is enough.
    added = tuple(
        sorted(
            info.shard_id
            for info in listing.values()
            if info.shard_id not in shards
            and not superseded(info.shard_id)
            and all(finished(p) for p in info.parents)
        )
    )
    for shard_id in added:
        shards[shard_id] = ShardPosition()

    dropped = tuple(
        sorted(
            s
            for s, p in shards.items()
            if p.closed
            and (s not in listing or (children.get(s) and all(c in shards for c in children[s])))
        )
    )
    for shard_id in dropped:
        del shards[shard_id]
    return LineageChange(shards=shards, added=added, dropped=dropped, expired=expired)
