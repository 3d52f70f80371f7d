"""The last N decided transactions, indexed so that a batch's labels find theirs in O(labels).

The model monitor joins each arriving label to the score and decision of its transaction, if
that transaction is among the last ``capacity`` decided. Building a hash set of all of them for
every batch (Arrow's ``index_in`` over a 200,000-row buffer) cost 16 ms of CPU per micro-batch
(46 µs per transaction in the soak's batches of 350; a quarter of the driver's profile). Here
the decisions are kept sorted by a 64-bit hash of the transaction id, and a label is a binary
search. New decisions wait in a small unsorted tail that is merged into the sorted part once it
holds ``merge_rows`` (one memory move of the buffer per merge, not per batch); the oldest
beyond ``capacity`` are skipped at once and dropped at the merge.

Transaction ids are unique here (the processor drops duplicate deliveries before deciding).
A label whose id shares a 64-bit hash with a remembered decision's would join the wrong score:
at 1,000 labels/s against 200,000 decisions, 3 * 10^10 labels a year each match by chance with
probability 200,000 / 2^64, about 0.0004 such joins a year. The monitor is an estimate; the
lake is the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

MERGE_ROWS = 8_192
"""Decisions the unsorted tail holds before it is merged into the sorted part."""


def id_keys(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each transaction id (pandas' SipHash of the string)."""
    values = ids.to_numpy(zero_copy_only=False)
    return np.asarray(pd.util.hash_array(np.asarray(values, dtype=object)), dtype=np.uint64)


@dataclass
class _Rows:
    """Decisions as four aligned arrays."""

    keys: np.ndarray  # uint64 id hashes
    order: np.ndarray  # int64: when each was added (what eviction goes by)
    scores: np.ndarray  # float64
    flagged: np.ndarray  # bool

    @classmethod
    def empty(cls) -> _Rows:
        return cls(np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0), np.empty(0, bool))

    @classmethod
    def concat(cls, parts: list[_Rows]) -> _Rows:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def take(self, index: np.ndarray) -> _Rows:
        return _Rows(*(getattr(self, f)[index] for f in _FIELDS))

    def by_key(self) -> _Rows:
        """These rows sorted by key; rows of equal keys keep the order they were added in."""
        return self.take(np.argsort(self.keys, kind="stable"))

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in _FIELDS)

    def lookup(self, keys: np.ndarray, oldest: int) -> tuple[np.ndarray, np.ndarray]:
        """(found, index into these rows) of ``keys`` in these rows, sorted by key; a row added
        before ``oldest`` does not count."""
        at = np.searchsorted(self.keys, keys)
        inside = at < len(self.keys)
        found = np.zeros(len(keys), bool)
        found[inside] = self.keys[at[inside]] == keys[inside]
        found[found] = self.order[at[found]] >= oldest
        return found, at


_FIELDS = ("keys", "order", "scores", "flagged")


class RecentDecisions:
    """The ``capacity`` most recently added decisions (id, score, flagged)."""

    def __init__(self, capacity: int, merge_rows: int = MERGE_ROWS) -> None:
        if capacity < 1 or merge_rows < 1:
            raise ValueError("capacity and merge_rows must be positive")
        self.capacity = capacity
        self.merge_rows = merge_rows
        self._sorted = _Rows.empty()
        self._tail: list[_Rows] = []
        self._tail_rows = 0
        self._added = 0

    @property
    def _oldest(self) -> int:
        return self._added - self.capacity

    def __len__(self) -> int:
        return min(self._added, self.capacity)

    @property
    def nbytes(self) -> int:
        """Bytes held (25 a decision, up to ``capacity + merge_rows`` decisions)."""
        return self._sorted.nbytes + sum(t.nbytes for t in self._tail)

    def add(self, ids: pa.Array | pa.ChunkedArray, scores: np.ndarray, flagged: np.ndarray) -> None:
        """Remember a batch's decisions; the oldest beyond ``capacity`` are forgotten."""
        count = len(ids)
        if count == 0:
            return
        order = np.arange(self._added, self._added + count, dtype=np.int64)
        self._tail.append(
            _Rows(id_keys(ids), order, np.asarray(scores, np.float64), np.asarray(flagged, bool))
        )
        self._tail_rows += count
        self._added += count
        if self._tail_rows >= self.merge_rows:
            self._merge()

    def _merge(self) -> None:
        tail = _Rows.concat(self._tail).by_key()
        at = np.searchsorted(self._sorted.keys, tail.keys, side="right")
        merged = _Rows(
            *(np.insert(getattr(self._sorted, f), at, getattr(tail, f)) for f in _FIELDS)
        )
        keep = merged.order >= self._oldest
        self._sorted = merged if keep.all() else merged.take(keep)
        self._tail, self._tail_rows = [], 0

    def find(self, ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(found, scores, flagged)``: which of ``ids`` are remembered (a mask over ``ids``),
        and the score and decision of each one found, in the order of ``ids``."""
        keys = id_keys(ids) if len(ids) else np.empty(0, np.uint64)
        found, at = self._sorted.lookup(keys, self._oldest)
        scores = np.zeros(len(keys))
        flagged = np.zeros(len(keys), bool)
        scores[found] = self._sorted.scores[at[found]]
        flagged[found] = self._sorted.flagged[at[found]]
        if self._tail and not found.all():
            tail = _Rows.concat(self._tail).by_key()
            rest = ~found
            in_tail, where = tail.lookup(keys[rest], self._oldest)
            hit = np.flatnonzero(rest)[in_tail]
            scores[hit] = tail.scores[where[in_tail]]
            flagged[hit] = tail.flagged[where[in_tail]]
            found[hit] = True
        return found, scores[found], flagged[found]
