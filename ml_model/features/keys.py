"""Entity ids (card tokens, merchant ids) to stable small integer slots, for a whole batch.

The feature state keeps each card's and merchant's numbers in arrays indexed by a slot, so a
batch reads and writes them with numpy fancy indexing rather than a dict per entity. This
module maps the batch's id column to slots in one vectorised pass: ids become fixed-width byte
strings (Arrow pads them in C), and a sorted array of known ids is searched with
``np.searchsorted``. New ids land in a small sorted delta that is merged into the main array
when it grows past an eighth of it, so adding a batch's new cards costs about their number,
not the number of cards known. Slots of removed ids are reused.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MIN_DELTA = 4096


def fixed_width(ids: pa.Array | pa.ChunkedArray, width: int = 1) -> np.ndarray:
    """``ids`` (strings, no nulls) as a numpy ``S<w>`` array, ``w`` at least ``width``.

    ASCII ids are padded with NULs by Arrow and viewed without a copy; ids with other
    characters (rare: merchant categories are not keyed here) go through Python bytes.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if ids.null_count:
        raise ValueError("ids must not be null")
    if len(ids) == 0:
        return np.empty(0, dtype=f"S{width}")
    ids = ids.cast(pa.string())
    longest = int(pc.max(pc.binary_length(ids)).as_py() or 0)
    w = max(width, longest, 1)
    if pc.all(pc.string_is_ascii(ids)).as_py():
        padded = pc.utf8_rpad(ids, width=w, padding="\x00")
        data = padded.buffers()[2]
        return np.frombuffer(data, dtype=f"S{w}", count=len(padded)).copy()
    return np.array([s.encode() for s in ids.to_pylist()], dtype=f"S{w}")


class KeyIndex:
    """Ids to slots. ``slots_for`` allocates; ``remove`` frees; ``ids_of`` maps back."""

    def __init__(self) -> None:
        self._width = 1
        self._main = np.empty(0, dtype="S1")
        self._main_slots = np.empty(0, dtype=np.int32)
        self._delta = np.empty(0, dtype="S1")
        self._delta_slots = np.empty(0, dtype=np.int32)
        self._ids = np.empty(0, dtype="S1")  # id of each slot (b"" when free)
        self._free: list[np.ndarray] = []
        self.capacity = 0  # slots ever allocated (the high-water mark)

    def __len__(self) -> int:
        return len(self._main) + len(self._delta)

    @property
    def nbytes(self) -> int:
        arrays = (self._main, self._main_slots, self._delta, self._delta_slots, self._ids)
        return sum(a.nbytes for a in arrays)

    def _widen(self, width: int) -> None:
        if width <= self._width:
            return
        self._width = width
        dtype = f"S{width}"
        self._main = self._main.astype(dtype)
        self._delta = self._delta.astype(dtype)
        self._ids = self._ids.astype(dtype)

    @staticmethod
    def _find(keys: np.ndarray, slots: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        if len(keys) == 0:
            return np.full(len(wanted), -1, dtype=np.int32)
        at = np.searchsorted(keys, wanted)
        at = np.minimum(at, len(keys) - 1)
        return np.where(keys[at] == wanted, slots[at], -1).astype(np.int32)

    def lookup_fixed(self, wanted: np.ndarray) -> np.ndarray:
        """Slots of fixed-width ids (``-1`` where unknown)."""
        wanted = wanted.astype(f"S{max(self._width, wanted.dtype.itemsize)}")
        found = self._find(self._main, self._main_slots, wanted)
        missing = found < 0
        if missing.any() and len(self._delta):
            found[missing] = self._find(self._delta, self._delta_slots, wanted[missing])
        return found

    def lookup(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Slots of ``ids`` (``-1`` where unknown); nothing is added."""
        return self.lookup_fixed(fixed_width(ids, self._width))

    def slots_for(self, ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Slot of every id (allocating slots for new ids) and the new slots, sorted."""
        keys = fixed_width(ids, self._width)
        self._widen(keys.dtype.itemsize)
        keys = keys.astype(f"S{self._width}")
        unique, inverse = np.unique(keys, return_inverse=True)
        slots = self.lookup_fixed(unique)
        new = slots < 0
        if new.any():
            slots[new] = self._add(unique[new])
        return slots[inverse].astype(np.int32), np.sort(slots[new])

    def _allocate(self, count: int) -> np.ndarray:
        reused = np.empty(0, dtype=np.int32)
        if self._free:
            pool = np.concatenate(self._free)
            reused, rest = pool[:count], pool[count:]
            self._free = [rest] if len(rest) else []
        fresh = count - len(reused)
        if fresh:
            start = self.capacity
            self.capacity += fresh
            if self.capacity > len(self._ids):
                grown = np.zeros(max(self.capacity, 2 * len(self._ids), 1024), self._ids.dtype)
                grown[: len(self._ids)] = self._ids
                self._ids = grown
            reused = np.concatenate([reused, np.arange(start, self.capacity, dtype=np.int32)])
        return reused

    def _add(self, keys: np.ndarray) -> np.ndarray:
        """Slots for ``keys`` (sorted, unique, all unknown)."""
        slots = self._allocate(len(keys))
        self._ids[slots] = keys
        at = np.searchsorted(self._delta, keys)
        self._delta = np.insert(self._delta, at, keys)
        self._delta_slots = np.insert(self._delta_slots, at, slots)
        if len(self._delta) > max(_MIN_DELTA, len(self._main) // 8):
            self._merge()
        return slots

    def _merge(self) -> None:
        at = np.searchsorted(self._main, self._delta)
        self._main = np.insert(self._main, at, self._delta)
        self._main_slots = np.insert(self._main_slots, at, self._delta_slots)
        self._delta = self._delta[:0]
        self._delta_slots = self._delta_slots[:0]

    def remove(self, slots: np.ndarray) -> None:
        """Forget the ids of ``slots`` and free the slots for reuse."""
        slots = np.unique(np.asarray(slots, dtype=np.int32))
        if not len(slots):
            return
        self._merge()
        keep = ~np.isin(self._main_slots, slots)
        self._main = self._main[keep]
        self._main_slots = self._main_slots[keep]
        self._ids[slots] = b""
        self._free.append(slots)

    def ids_of(self, slots: np.ndarray) -> pa.Array:
        """The ids of ``slots`` as an Arrow string array."""
        raw = self._ids[np.asarray(slots, dtype=np.int64)]
        return pa.array(raw.astype(object), pa.binary()).cast(pa.string())

    def live_slots(self) -> np.ndarray:
        """Every slot that holds an id, ascending."""
        return np.sort(np.concatenate([self._main_slots, self._delta_slots]))

    # -- saved form ---------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """(slot, id) of every live id; restored exactly by :meth:`from_arrow`."""
        slots = self.live_slots()
        return pa.table({"slot": pa.array(slots, pa.int32()), "id": self.ids_of(slots)})

    @classmethod
    def from_arrow(cls, table: pa.Table, capacity: int) -> KeyIndex:
        index = cls()
        slots = table["slot"].to_numpy().astype(np.int32)
        keys = fixed_width(table["id"])
        index._width = keys.dtype.itemsize
        index.capacity = capacity
        index._ids = np.zeros(max(capacity, 1024), dtype=keys.dtype)
        index._ids[slots] = keys
        order = np.argsort(keys, kind="stable")
        index._main, index._main_slots = keys[order], slots[order]
        index._delta = index._delta.astype(keys.dtype)
        used = np.zeros(capacity, dtype=bool)
        used[slots] = True
        free = np.flatnonzero(~used).astype(np.int32)
        index._free = [free] if len(free) else []
        return index
