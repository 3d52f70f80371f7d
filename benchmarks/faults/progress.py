"""How far the processor has got: its batch log and its checkpoint.

The processor child (:mod:`.child`) appends one JSON line per committed micro-batch, its
:class:`~processor.metrics.BatchSummary` with the wall-clock time, to a log file; a replayed
batch (after a crash) appends its line again under the same batch id. The checkpoint's offset
log says which stream positions the last committed batch covered, which tells when every record
put on the stream has been processed (:func:`drained`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processor.kinesis.offsets import SourceOffset, seq_int
from processor.metrics import BatchSummary


@dataclass(frozen=True)
class Batch:
    """One line of the batch log."""

    at: float  # wall-clock time (epoch seconds) the batch's sinks committed
    pid: int  # the processor process that ran it
    batch_id: int
    rows: int
    quarantined: int
    scored_by: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, summary: BatchSummary, *, at: float, pid: int) -> Batch:
        return cls(
            at=at,
            pid=pid,
            batch_id=summary.batch_id,
            rows=summary.rows,
            quarantined=sum(summary.quarantined.values()),
            scored_by=dict(summary.scored_by),
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Batch:
        return cls(**json.loads(line))


def read_batches(path: Path) -> list[Batch]:
    """The batch log so far (a last line cut short by ``kill -9`` is ignored)."""
    if not path.exists():
        return []
    batches = []
    for line in path.read_text().splitlines():
        try:
            batches.append(Batch.from_json(line))
        except (ValueError, TypeError):
            continue
    return batches


def latest_per_batch(batches: Iterable[Batch]) -> dict[int, Batch]:
    """The last run of each batch id (each counts once in the lake: a replayed batch that had
    committed is recognised and skipped)."""
    return {b.batch_id: b for b in batches}


def committed_rows(batches: Iterable[Batch]) -> int:
    return sum(b.rows for b in latest_per_batch(batches).values())


def last_committed(query_checkpoint: Path) -> int | None:
    """Id of the last batch Spark committed in this checkpoint, if any."""
    commits = query_checkpoint / "commits"
    ids = [int(p.name) for p in commits.glob("*") if p.name.isdigit()] if commits.is_dir() else []
    return max(ids, default=None)


def parse_offset_log(text: str) -> list[SourceOffset]:
    """The Kinesis source offsets of one entry of Spark's offset log (``offsets/<batch>``):
    a version line, the batch metadata line, then one line per source."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("v"):
        raise ValueError("not a Spark offset log entry")
    offsets = []
    for line in lines[2:]:
        data: Any = json.loads(line) if line and line != "-" else None
        if isinstance(data, dict) and "shards" in data:
            offsets.append(SourceOffset.from_json(data))
    return offsets


def consumed(query_checkpoint: Path, stream_name: str) -> dict[str, int]:
    """The last sequence number the last committed batch consumed, per shard of a stream."""
    batch = last_committed(query_checkpoint)
    if batch is None:
        return {}
    text = (query_checkpoint / "offsets" / str(batch)).read_text()
    for offset in parse_offset_log(text):
        if offset.stream.name == stream_name:
            return {
                shard: seq_int(position.seq)
                for shard, position in offset.shards.items()
                if position.seq is not None
            }
    return {}


def caught_up(tips: Mapping[str, int], done: Mapping[str, int]) -> bool:
    """Has every shard been consumed up to its tip? (A shard with nothing on it has no tip.)"""
    return all(done.get(shard, -1) >= seq for shard, seq in tips.items())


def drained(query_checkpoint: Path, stream_name: str, tips: Mapping[str, int]) -> bool:
    """Has a committed batch covered every record up to ``tips`` (last sequence per shard)?"""
    return caught_up(tips, consumed(query_checkpoint, stream_name))
