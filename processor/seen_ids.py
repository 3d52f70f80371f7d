"""Ids already seen, so a record delivered twice counts once (Kinesis is at-least-once).

Two sets live in the batch sink's state: the transactions processed (keyed by transaction id,
timed by event time) and the labels applied (the labelled transaction's id, timed by label
time). An id is remembered until the newest time seen is more than the watermark delay past
its own, so memory holds one watermark's worth of ids, not a month's. For transactions that
is exact: a transaction older than the watermark is dropped as late before it is looked up
(:meth:`SeenIds.late`), so a forgotten id can only come back late. A label delivered again
after the watermark would be applied twice (Kinesis redelivers within seconds or minutes).
The ids live in sorted fixed-width byte arrays (a large main part and a small recent part
merged into it when it passes an eighth of it), checked for a whole batch with
``np.searchsorted``: no per-id Python.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml_model.features.keys import fixed_width

_MIN_RECENT = 4096
_NEVER = np.iinfo(np.int64).min // 4


class SeenIds:
    """Ids with their times (epoch ms), remembered for ``window_ms`` past the newest time."""

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

    def late(self, ms: np.ndarray) -> np.ndarray:
        """Mask of the times older than the window before the newest seen so far: what the
        watermark of the batches before this one has already passed."""
        return np.asarray(ms, dtype=np.int64) < self.cutoff

    def admit(self, ids: pa.Array | pa.ChunkedArray, ms: np.ndarray) -> np.ndarray:
        """Mask of the ids seen for the first time (the first of repeats within the batch
        too), and remember them."""
        n = len(ms)
        if n == 0:
            return np.zeros(0, dtype=bool)
        keys = fixed_width(ids)
        keys = keys.astype(f"S{self._width(keys.dtype.itemsize)}")
        _, first = np.unique(keys, return_index=True)
        fresh = np.zeros(n, dtype=bool)
        fresh[first] = True
        fresh &= ~self._known(keys)
        self._remember(keys[fresh], np.asarray(ms, dtype=np.int64)[fresh])
        self.newest_ms = max(self.newest_ms, int(np.max(ms)))
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
        if not keep.all():  # most merges forget nothing: no third copy then
            ids, ms = ids[keep], ms[keep]
        self._ids, self._ms = ids, ms
        self._new_ids, self._new_ms = self._new_ids[:0], self._new_ms[:0]

    # -- saved form ---------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The ids still remembered, with their times."""
        self._merge()
        ids = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(self._ids.dtype.itemsize), len(self._ids), [None, pa.py_buffer(self._ids)]
        )  # NUL-padded as held: no Python object per id
        return pa.table({"transaction_id": ids, "ms": pa.array(self._ms, pa.int64())})

    @classmethod
    def from_arrow(cls, table: pa.Table | None, window_ms: int, newest_ms: int | None) -> SeenIds:
        """The set :meth:`to_arrow` saved (None: no ids were saved); ``newest_ms`` None when
        nothing was ever seen."""
        seen = cls(window_ms)
        if newest_ms is not None:
            seen.newest_ms = newest_ms
        if table is not None and table.num_rows:
            column = table.column("transaction_id").combine_chunks()
            if pa.types.is_fixed_size_binary(column.type):
                width = column.type.byte_width
                keys = np.frombuffer(
                    column.buffers()[1], f"S{width}", len(column), column.offset * width
                )
            else:  # strings: sink state format 5 and older
                keys = fixed_width(column)
            order = np.argsort(keys, kind="stable")
            seen._ids = keys[order]
            # "label_ms": the labels' set as sink state format 5 and older saved it
            times = "ms" if "ms" in table.column_names else "label_ms"
            seen._ms = table.column(times).to_numpy()[order]
            seen._new_ids = seen._new_ids.astype(seen._ids.dtype)
        return seen
