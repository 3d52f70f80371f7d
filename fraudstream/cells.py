"""Hash-range cells: which part of the Kinesis hash-key space, and so which cards, a processor
owns.

Kinesis routes a record by a 128-bit hash key, the MD5 of its partition key, and the producer's
partition key is the card token. ``i/n`` names the ``i``-th of ``n`` equal, contiguous ranges of
that space, cut where Kinesis cuts a stream of ``n`` uniform shards (``k * 2**128 // n``): cell
``i`` owns the hash keys ``start <= h < end``. A card belongs to the cell owning the hash key of
its token, so to exactly one cell of any count. A cell reads the shards whose hash ranges meet
its own (:func:`overlaps`); a shard inside the range (:func:`inside`) holds only its cards, a
shard straddling a cut holds some of another cell's as well, whose records it skips. Pure logic,
no I/O (docs/deploy.md, "Cells").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fraudstream.kpl import hash_key

HASH_SPACE = 2**128
MAX_CELLS = 256
_SPEC = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")
_CACHE_LIMIT = 1 << 20  # hash keys remembered per process (cards repeat batch after batch)
_hashes: dict[str, int] = {}


def hash_of(key: str) -> int:
    """The Kinesis hash key of partition key ``key``, remembered: cards repeat batch after
    batch, and MD5 is the costly part of deciding ownership."""
    found = _hashes.get(key)
    if found is None:
        if len(_hashes) >= _CACHE_LIMIT:
            _hashes.clear()
        found = _hashes[key] = hash_key(key)
    return found


@dataclass(frozen=True)
class HashRange:
    """Cell ``index`` of ``count``; ``0/1`` is the whole space (one processor)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_CELLS:
            raise ValueError(f"a cell count must be 1-{MAX_CELLS}, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"cell index {self.index} is not below the count {self.count}")

    @classmethod
    def parse(cls, text: str) -> HashRange:
        """``"i/n"`` (e.g. ``"0/2"``: the first half); a clear ``ValueError`` otherwise."""
        match = _SPEC.match(text)
        if not match:
            raise ValueError(f"must be <index>/<count> such as 0/2, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def whole(self) -> bool:
        return self.count == 1

    @property
    def start(self) -> int:
        """First hash key of the range."""
        return self.index * HASH_SPACE // self.count

    @property
    def end(self) -> int:
        """First hash key after the range."""
        return (self.index + 1) * HASH_SPACE // self.count

    @property
    def label(self) -> str:
        """``<index>-of-<count>``: the cell's name in paths."""
        return f"{self.index}-of-{self.count}"

    def owns(self, key: str) -> bool:
        """True when the hash key of partition key (card token) ``key`` is in this range."""
        return self.whole or self.start <= hash_of(key) < self.end

    def overlaps(self, first: int, last: int) -> bool:
        """True when a shard of hash keys ``first..last`` (inclusive, as ListShards gives
        them) holds some key of this range: the cell reads that shard."""
        return first < self.end and last >= self.start

    def inside(self, first: int, last: int) -> bool:
        """True when every hash key ``first..last`` is this cell's: the shard's records need
        no filtering (and records Kinesis put there by an explicit hash key are kept, as no
        other cell reads the shard)."""
        return self.start <= first and last < self.end


def cells(count: int) -> list[HashRange]:
    """Every cell of a ``count``-cell deployment, in hash order."""
    return [HashRange(i, count) for i in range(count)]
