"""Labels already applied, so one delivered twice counts once (Kinesis is at-least-once).

A label is remembered until the newest label time seen is more than the watermark delay past
its own, so memory holds one watermark's worth of labels, not a month's; a label delivered
again later than that would be applied twice (Kinesis redelivers within seconds or minutes).
The ids live in sorted fixed-width byte arrays (a large main part and a small recent part
merged into it when it passes an eighth of it), checked for a whole batch with
``np.searchsorted``: no per-label Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml_model.features.keys import fixed_width

_MIN_RECENT = 4096
_NEVER = np.iinfo(np.int64).min // 4


class SeenLabels:
    """Transaction ids of applied labels with their label times (epoch ms)."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.newest_ms = int(_NEVER)
        self._ids = np.empty(0, dtype="S1")
        self._ms = np.empty(0, dtype=np.int64)
        self._new_ids = np.empty(0, dtype="S1")
        self._new_ms = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int((self._ms >= self.cutoff).sum() + (self._new_ms >= self.cutoff).sum())

    @property
    def cutoff(self) -> int:
        return self.newest_ms - self.window_ms

    def _width(self, width: int) -> int:
        width = max(width, self._ids.dtype.itemsize)
        if width > self._ids.dtype.itemsize:
            self._ids = self._ids.astype(f"S{width}")
            self._new_ids = self._new_ids.astype(f"S{width}")
        return width

    def _known(self, keys: np.ndarray) -> np.ndarray:
        known = np.zeros(len(keys), dtype=bool)
        for ids, ms in ((self._ids, self._ms), (self._new_ids, self._new_ms)):
            if len(ids):
                at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
                known |= (ids[at] == keys) & (ms[at] >= self.cutoff)
        return known

    def admit(self, transaction_ids: pa.Array, label_ms: np.ndarray) -> np.ndarray:
        """Mask of the labels seen for the first time (the first of repeats within the batch
        too), and remember them."""
        n = len(label_ms)
        if n == 0:
            return np.zeros(0, dtype=bool)
        keys = fixed_width(transaction_ids)
        keys = keys.astype(f"S{self._width(keys.dtype.itemsize)}")
        _, first = np.unique(keys, return_index=True)
        fresh = np.zeros(n, dtype=bool)
        fresh[first] = True
        fresh &= ~self._known(keys)
        self._remember(keys[fresh], np.asarray(label_ms, dtype=np.int64)[fresh])
        self.newest_ms = max(self.newest_ms, int(np.max(label_ms)))
        return fresh

    def _remember(self, keys: np.ndarray, ms: np.ndarray) -> None:
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        keys, ms = keys[order], ms[order]
        # a key forgotten (past the cutoff) but still stored is replaced, not duplicated
        for name_ids, name_ms in (("_ids", "_ms"), ("_new_ids", "_new_ms")):
            ids = getattr(self, name_ids)
            if len(ids):
                at = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
                stale = ids[at] == keys
                if stale.any():
                    getattr(self, name_ms)[at[stale]] = ms[stale]
                    keys, ms = keys[~stale], ms[~stale]
        where = np.searchsorted(self._new_ids, keys)
        self._new_ids = np.insert(self._new_ids, where, keys)
        self._new_ms = np.insert(self._new_ms, where, ms)
        if len(self._new_ids) > max(_MIN_RECENT, len(self._ids) // 8):
            self._merge()

    def _merge(self) -> None:
        where = np.searchsorted(self._ids, self._new_ids)
        ids = np.insert(self._ids, where, self._new_ids)
        ms = np.insert(self._ms, where, self._new_ms)
        keep = ms >= self.cutoff
        self._ids, self._ms = ids[keep], ms[keep]
        self._new_ids, self._new_ms = self._new_ids[:0], self._new_ms[:0]

    # -- saved form ---------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The labels still remembered."""
        self._merge()
        return pa.table(
            {
                "transaction_id": pa.array(self._ids.astype(object), pa.binary()).cast(pa.string()),
                "label_ms": pa.array(self._ms, pa.int64()),
            }
        )

    @classmethod
    def from_arrow(cls, table: pa.Table, window_ms: int, newest_ms: int) -> SeenLabels:
        seen = cls(window_ms)
        seen.newest_ms = newest_ms
        if table.num_rows:
            keys = fixed_width(table.column("transaction_id"))
            order = np.argsort(keys, kind="stable")
            seen._ids = keys[order]
            seen._ms = table.column("label_ms").to_numpy()[order]
            seen._new_ids = seen._new_ids.astype(seen._ids.dtype)
        return seen
