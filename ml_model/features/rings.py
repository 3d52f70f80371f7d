"""Per-entity totals by time period (hour, day, ...) in fixed rings: the tiles of long windows.

Each entity (a card or merchant slot) owns a row of ``length`` slots holding the totals of its
most recent periods; period ``p`` lives in slot ``p % length``. A row remembers the newest
period written to it; writing a newer one clears the slots of the periods skipped, so a slot
read back is either the total of the period asked for or known to be empty. Reads and writes
take whole batches of (row, period) pairs and run as numpy fancy indexing.

Windows of a day or more are sums of whole periods from here plus the part of the current
period the caller computes exactly (see :mod:`ml_model.features.cards`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

NEVER = np.iinfo(np.int64).min // 4  # "no period written yet"; far below any real period


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without the Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


class PeriodRings:
    """Rings of ``length`` periods of ``period_ms`` each, one row per slot, for several
    value columns of the given dtypes."""

    def __init__(self, length: int, period_ms: int, dtypes: Mapping[str, np.dtype | type]) -> None:
        if length < 1 or period_ms < 1:
            raise ValueError("ring length and period must be positive")
        self.length = length
        self.period_ms = period_ms
        self.values = {name: np.zeros((0, length), dtype=dtype) for name, dtype in dtypes.items()}
        self.newest = np.empty(0, dtype=np.int64)

    @property
    def rows(self) -> int:
        return len(self.newest)

    @property
    def nbytes(self) -> int:
        return self.newest.nbytes + sum(v.nbytes for v in self.values.values())

    def grow(self, rows: int) -> None:
        """Make room for ``rows`` rows (new rows are empty)."""
        if rows <= self.rows:
            return
        size = max(rows, 2 * self.rows, 1024)
        newest = np.full(size, NEVER, dtype=np.int64)
        newest[: self.rows] = self.newest
        for name, old in self.values.items():
            grown = np.zeros((size, self.length), dtype=old.dtype)
            grown[: len(old)] = old
            self.values[name] = grown
        self.newest = newest

    def clear(self, rows: np.ndarray) -> None:
        """Empty ``rows`` (slots being reused for another entity)."""
        self.newest[rows] = NEVER

    def add(self, rows: np.ndarray, periods: np.ndarray, **values: np.ndarray) -> None:
        """Add ``values`` to (row, period) totals; pairs may repeat. A period older than the
        row's ring keeps is dropped (the caller sizes rings so that nothing still needed is)."""
        if not len(rows):
            return
        rows = np.asarray(rows, dtype=np.int64)
        periods = np.asarray(periods, dtype=np.int64)
        low = int(periods.min())
        span = int(periods.max()) - low + 1
        if span * (int(rows.max()) + 1) < 2**62:  # one sort of a packed key
            order = np.argsort(rows * span + (periods - low), kind="stable")
        else:
            order = np.lexsort((periods, rows))
        rows, periods = rows[order], periods[order]
        # one total per (row, period)
        starts = np.flatnonzero(
            np.r_[True, (rows[1:] != rows[:-1]) | (periods[1:] != periods[:-1])]
        )
        totals = {
            name: np.add.reduceat(np.asarray(amount, dtype=np.int64)[order], starts)
            for name, amount in values.items()
        }
        rows, periods = rows[starts], periods[starts]
        # newest period per row after this write
        last = np.flatnonzero(np.r_[rows[1:] != rows[:-1], True])
        touched = rows[last]
        incoming = periods[last]
        old = self.newest[touched]
        new = np.maximum(old, incoming)
        advanced = new > old
        if advanced.any():
            r, o, n = touched[advanced], old[advanced], new[advanced]
            self._clear_skipped(r, o, n)
            self.newest[r] = n
        keep = periods > self.newest[rows] - self.length
        rows, periods = rows[keep], periods[keep]
        slots = periods % self.length
        for name, total in totals.items():
            column = self.values[name]
            summed = column[rows, slots].astype(np.int64) + total[keep]
            if np.issubdtype(column.dtype, np.integer):  # saturate rather than wrap
                info = np.iinfo(column.dtype)
                summed = np.clip(summed, info.min, info.max)
            column[rows, slots] = summed

    def _clear_skipped(self, rows: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Zero the slots of periods ``old + 1 .. new`` of each row. A row skipping a whole ring
        (every new or long-idle entity) is zeroed whole: one pass over its slots, where the
        (row, slot) pairs of a thousand-slot ring cost seconds on a batch of new merchants."""
        whole = new - old >= self.length
        if whole.any():
            for column in self.values.values():
                column[rows[whole]] = 0
        part = ~whole
        if part.any():
            rows, old, new = rows[part], old[part], new[part]
            count = new - old
            rep_rows = np.repeat(rows, count)
            slots = (np.repeat(old + 1, count) + ragged_arange(count)) % self.length
            for column in self.values.values():
                column[rep_rows, slots] = 0

    def gather(self, rows: np.ndarray, first: np.ndarray, count: int) -> dict[str, np.ndarray]:
        """For each row, the totals of periods ``first .. first + count - 1`` as an
        ``[len(rows), count]`` matrix per column (zero where nothing was recorded)."""
        rows = np.asarray(rows, dtype=np.int64)
        if count <= 0:
            return {n: np.zeros((len(rows), 0), v.dtype) for n, v in self.values.items()}
        periods = np.asarray(first, dtype=np.int64)[:, None] + np.arange(count)[None, :]
        newest = self.newest[rows][:, None]
        valid = (periods <= newest) & (periods > newest - self.length)
        flat = rows[:, None] * self.length + periods % self.length
        out = {}
        for name, column in self.values.items():
            picked = np.take(column.reshape(-1), flat)
            picked[~valid] = 0
            out[name] = picked
        return out
