"""Which shards, and which of their records, a hash-range cell reads (``hashRange`` option).

A cell (:class:`fraudstream.cells.HashRange`) reads only the shards whose hash ranges meet its
own. Reshards keep working through the usual lineage rule (:func:`~processor.kinesis.offsets.
plan_lineage`) over that smaller listing: a child is read once the parents the cell reads are
done, and a parent outside the cell counts as done, since it holds none of the cell's cards.

A shard straddling a cut between cells (after a merge across it, or with shard and cell counts
that do not divide) is read by each cell it meets, and each keeps only the user records whose
partition key (the card token) hashes into its range: every record is kept by exactly one cell.
A shard inside the range is kept whole: normally its records are all the cell's cards, and a
record an outdated producer put there by its aggregate's explicit hash key is kept too,
because no other cell reads that shard (docs/deploy.md, "Cells", says what that costs).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream.cells import HashRange, hash_of
from processor.kinesis.offsets import ShardInfo


def cell_listing(listed: Iterable[ShardInfo], cell: HashRange) -> list[ShardInfo]:
    """The shards of a ListShards answer that ``cell`` reads: those meeting its range."""
    return [info for info in listed if cell.overlaps(info.first_hash, info.last_hash)]


def straddling(listed: Iterable[ShardInfo], cell: HashRange) -> frozenset[str]:
    """The shards ``cell`` reads whose records must be filtered by key (not inside it)."""
    if cell.whole:
        return frozenset()
    return frozenset(
        info.shard_id
        for info in cell_listing(listed, cell)
        if not cell.inside(info.first_hash, info.last_hash)
    )


def owned_mask(keys: pa.Array | pa.ChunkedArray, cell: HashRange) -> np.ndarray:
    """Mask of the partition ``keys`` whose hash keys are in ``cell``; each distinct key of
    the batch is hashed once (and remembered), so the Python work follows the cards."""
    if cell.whole:
        return np.ones(len(keys), dtype=bool)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(keys.cast(pa.string()), ""))
    names = encoded.dictionary.to_pylist()
    start, end = cell.start, cell.end
    inside = np.fromiter(
        (start <= hash_of(name) < end for name in names), dtype=bool, count=len(names)
    )
    return inside[encoded.indices.to_numpy(zero_copy_only=False)]


def keep_owned(batch: pa.RecordBatch, cell: HashRange) -> pa.RecordBatch:
    """The rows of ``batch`` (the source's schema, de-aggregated) whose ``partition_key``
    ``cell`` owns."""
    if cell.whole or not batch.num_rows:
        return batch
    mask = owned_mask(batch.column("partition_key"), cell)
    return batch if mask.all() else batch.filter(pa.array(mask))
