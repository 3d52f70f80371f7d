"""The recent transactions of every card, kept exactly, for the windows under an hour.

Windows of ten minutes and an hour (and the current hour of the longer ones) are exact, so the
state must hold the transactions themselves for at least an hour plus the watermark delay. At
a thousand transactions a second that is millions of entries, so they live in sorted columnar
*runs*: each batch appends one run sorted by (card slot, time); small runs merge pairwise as they
accumulate (as in a log-structured merge tree), and once the recent runs hold enough rows they
are merged into one *slab*. Slabs leave the log whole, oldest first, once every entry in them
is older than the caller's cutoff (:meth:`EntryLog.age`), and the caller folds them into its
per-card summaries. Reading a batch's cards costs a binary search per run, not a scan.

When an entry leaves does not change any feature (the caller reads each entry either here or
from its summaries, never both), so the merge and aging policy is free to trade memory for work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_model.features.rings import ragged_arange

COLUMNS: dict[str, type] = {
    "slot": np.int32,
    "t": np.int64,
    "amt": np.int64,
    "lat": np.float64,
    "lon": np.float64,
    "merchant": np.int32,
    "cat": np.int32,
}
"""Columns of an entry: card slot, event ms, amount (scaled integer), location (NaN when
absent), merchant slot and category code (-1 when absent)."""

Columns = dict[str, np.ndarray]


def empty() -> Columns:
    return {name: np.empty(0, dtype=dtype) for name, dtype in COLUMNS.items()}


def sort_order(columns: Columns) -> np.ndarray:
    """The canonical entry order: card slot, time, then the values (so ties are stable).

    Usually one stable sort of a packed (slot, time) key; the five-key sort only when two
    entries of one card share a millisecond or the key does not fit."""
    slot, t = columns["slot"], columns["t"]
    if len(slot) > 1:
        t_min = int(t.min())
        if int(t.max()) - t_min < 2**40 and int(slot.max()) < 2**22 and int(slot.min()) >= 0:
            key = (slot.astype(np.int64) << 40) | (t - t_min)
            order = np.argsort(key, kind="stable")
            packed = key[order]
            if not (packed[1:] == packed[:-1]).any():
                return order
    return np.lexsort((columns["lon"], columns["lat"], columns["amt"], t, slot))


def take(columns: Columns, index: np.ndarray) -> Columns:
    return {name: values[index] for name, values in columns.items()}


def concat(parts: list[Columns]) -> Columns:
    if not parts:
        return empty()
    return {name: np.concatenate([p[name] for p in parts]) for name in COLUMNS}


@dataclass
class Run:
    columns: Columns  # sorted by sort_order

    def __len__(self) -> int:
        return len(self.columns["slot"])

    @property
    def max_t(self) -> int:
        return int(self.columns["t"].max()) if len(self) else np.iinfo(np.int64).min

    def ranges(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        column = self.columns["slot"]
        return np.searchsorted(column, slots, "left"), np.searchsorted(column, slots, "right")


def _merged(runs: list[Run]) -> Run:
    columns = concat([r.columns for r in runs])
    return Run(take(columns, sort_order(columns)))


class EntryLog:
    """Sorted runs of entries (see the module docstring)."""

    def __init__(self, *, min_slab_rows: int = 16_384) -> None:
        self.slabs: list[Run] = []  # oldest first, each sorted
        self.recent: list[Run] = []  # sizes roughly halving from first to last
        self.min_slab_rows = min_slab_rows

    def __len__(self) -> int:
        return sum(len(r) for r in (*self.slabs, *self.recent))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for r in (*self.slabs, *self.recent) for a in r.columns.values())

    def fetch(self, slots: np.ndarray) -> Columns:
        """Every entry of the given card slots (sorted, unique), in no particular order."""
        parts = []
        for run in (*self.slabs, *self.recent):
            lo, hi = run.ranges(slots)
            counts = hi - lo
            if counts.any():
                index = np.repeat(lo, counts) + ragged_arange(counts)
                parts.append(take(run.columns, index))
        return concat(parts)

    def append(self, columns: Columns) -> None:
        """Add a batch's entries."""
        if not len(columns["slot"]):
            return
        self.recent.append(Run(take(columns, sort_order(columns))))
        while len(self.recent) >= 2 and len(self.recent[-2]) <= 2 * len(self.recent[-1]):
            last = self.recent.pop()
            self.recent[-1] = _merged([self.recent[-1], last])
        pending = sum(len(r) for r in self.recent)
        if pending >= max(self.min_slab_rows, len(self) // 16):
            self.seal()

    def seal(self) -> None:
        """Merge the recent runs into one slab (e.g. before aging at a quiet moment)."""
        if self.recent:
            self.slabs.append(_merged(self.recent))
            self.recent = []

    def age(self, cutoff_ms: int) -> Columns:
        """Remove and return (sorted) the slabs whose entries are all at or before
        ``cutoff_ms``, oldest first; recent runs stay until sealed."""
        gone = []
        while self.slabs and self.slabs[0].max_t <= cutoff_ms:
            gone.append(self.slabs.pop(0))
        if not gone:
            return empty()
        if len(gone) == 1:
            return gone[0].columns
        return _merged(gone).columns

    # -- saved form ---------------------------------------------------------------------------
    def all_entries(self) -> Columns:
        """Every entry, for a snapshot (restored as one slab)."""
        return concat([r.columns for r in (*self.slabs, *self.recent)])

    @classmethod
    def from_entries(cls, columns: Columns) -> EntryLog:
        log = cls()
        if len(columns["slot"]):
            log.slabs.append(Run(take(columns, sort_order(columns))))
        return log
