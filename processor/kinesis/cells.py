"""Which shards, and which of their records, a hash-range cell reads (``hashRange`` option).

A cell (:class:`fraudstream.cells.HashRange`) reads only the shards whose hash ranges meet its
own. Reshards keep working through the usual lineage rule (:func:`~processor.kinesis.offsets.
plan_lineage`) over that smaller listing: a child is read once the parents the cell reads are
done, and a parent outside the cell counts as done, since it holds none of the cell's cards.

A shard straddling a cut between cells (after a merge across it, or with shard and cell counts
that do not divide) is read by each cell it meets, and each keeps only the user records whose
partition key (the card token) hashes into its range: every record is kept by exactly one cell.
A shard inside the range is kept whole. A record can sit in a shard whose range does not hold
its hash: an outdated producer put an aggregated record by its first record's explicit hash key
after a split. The owning cell may not read that shard, so such a record is kept by the cell
holding the shard's first hash key (for a shard inside a cell, that cell) unless its owner reads
the shard too: nothing is lost or kept twice, though the record is scored without its card's
history (ADR 0015).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream.cells import HASH_SPACE, HashRange, hash_of
from processor.kinesis.offsets import HASH_MAX, ShardInfo


def cell_listing(listed: Iterable[ShardInfo], cell: HashRange) -> list[ShardInfo]:
    """The shards of a ListShards answer that ``cell`` reads: those meeting its range."""
    return [info for info in listed if cell.overlaps(info.first_hash, info.last_hash)]


def straddling(listed: Iterable[ShardInfo], cell: HashRange) -> dict[str, tuple[int, int]]:
    """The shards ``cell`` reads whose records must be filtered by key (not inside it), with
    their hash ranges (first and last key)."""
    if cell.whole:
        return {}
    return {
        info.shard_id: (info.first_hash, info.last_hash)
        for info in cell_listing(listed, cell)
        if not cell.inside(info.first_hash, info.last_hash)
    }


def owned_mask(
    keys: pa.Array | pa.ChunkedArray, cell: HashRange, shard: tuple[int, int] | None = None
) -> np.ndarray:
    """Mask of the partition ``keys`` ``cell`` keeps from a shard of hash range ``shard``
    (first and last key; ``None``: the whole space): those hashing into the cell, and, when
    the cell holds the shard's first key, those hashing outside the shard into a cell that
    does not read it. Each distinct key of
    the batch is hashed once (and remembered), so the Python work follows the cards."""
    if cell.whole:
        return np.ones(len(keys), dtype=bool)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(keys.cast(pa.string()), ""))
    names = encoded.dictionary.to_pylist()
    start, end = cell.start, cell.end
    first, last = shard if shard is not None else (0, HASH_MAX)
    strays = start <= first < end  # this cell keeps keys the shard should not hold

    def kept(name: str) -> bool:
        key = hash_of(name)
        if start <= key < end:
            return True
        if not strays or first <= key <= last:
            return False
        owner = HashRange(key * cell.count // HASH_SPACE, cell.count)
        return not owner.overlaps(first, last)  # its owner does not read this shard

    inside = np.fromiter((kept(name) for name in names), dtype=bool, count=len(names))
    return inside[encoded.indices.to_numpy(zero_copy_only=False)]


def keep_owned(
    batch: pa.RecordBatch, cell: HashRange, shard: tuple[int, int] | None = None
) -> pa.RecordBatch:
    """The rows of ``batch`` (the source's schema, de-aggregated, from a shard of hash range
    ``shard``) that ``cell`` keeps, by their ``partition_key`` (:func:`owned_mask`)."""
    if cell.whole or not batch.num_rows:
        return batch
    mask = owned_mask(batch.column("partition_key"), cell, shard)
    return batch if mask.all() else batch.filter(pa.array(mask))
