"""The last day each card used each merchant (and merchant category): ``first_time_*``.

A sparse map from a 64-bit key (card slot in the high half, merchant slot or category code in
the low half) to a day number, kept as sorted numpy arrays: a large main part and a small
delta that new keys go to, merged into the main part when it passes an eighth of it. Lookups
and updates take whole batches (``np.searchsorted``); expiry drops keys whose day is too old
to matter, during the merge.
"""

from __future__ import annotations

import numpy as np

_MIN_DELTA = 4096
CATEGORY_BIT = np.int64(1 << 31)
_LOW = np.int64(1 << 32)


def merchant_key(card_slots: np.ndarray, merchant_slots: np.ndarray) -> np.ndarray:
    return card_slots.astype(np.int64) * _LOW + merchant_slots.astype(np.int64)


def category_key(card_slots: np.ndarray, categories: np.ndarray) -> np.ndarray:
    return card_slots.astype(np.int64) * _LOW + CATEGORY_BIT + categories.astype(np.int64)


def card_of(keys: np.ndarray) -> np.ndarray:
    return (keys // _LOW).astype(np.int32)


class LastSeen:
    """Sorted ``key -> day`` with batch lookups and max-updates."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)
        self._days = np.empty(0, dtype=np.uint16)  # days since 1970 (until 2149)
        self._new_keys = np.empty(0, dtype=np.int64)
        self._new_days = np.empty(0, dtype=np.uint16)

    def __len__(self) -> int:
        return len(self._keys) + len(self._new_keys)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._keys, self._days, self._new_keys, self._new_days))

    @staticmethod
    def _find(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(keys):
            return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return at, keys[at] == wanted

    def lookup(self, keys: np.ndarray, missing: int = -(2**31)) -> np.ndarray:
        """The day of each key (``missing`` where absent)."""
        out = np.full(len(keys), missing, dtype=np.int32)
        at, hit = self._find(self._keys, keys)
        out[hit] = self._days[at[hit]]
        at, hit = self._find(self._new_keys, keys)
        out[hit] = np.maximum(out[hit], self._new_days[at[hit]])
        return out

    def update(self, keys: np.ndarray, days: np.ndarray) -> None:
        """Raise each key's day to at least ``days`` (adding keys as needed)."""
        if not len(keys):
            return
        order = np.lexsort((days, keys))
        keys, days = keys[order], np.clip(days[order], 0, 65_535).astype(np.uint16)
        last = np.r_[keys[1:] != keys[:-1], True]
        keys, days = keys[last], days[last]  # the largest day per key
        at, hit = self._find(self._keys, keys)
        self._days[at[hit]] = np.maximum(self._days[at[hit]], days[hit])
        keys, days = keys[~hit], days[~hit]
        at, hit = self._find(self._new_keys, keys)
        self._new_days[at[hit]] = np.maximum(self._new_days[at[hit]], days[hit])
        keys, days = keys[~hit], days[~hit]
        if len(keys):
            where = np.searchsorted(self._new_keys, keys)
            self._new_keys = np.insert(self._new_keys, where, keys)
            self._new_days = np.insert(self._new_days, where, days)
        if len(self._new_keys) > max(_MIN_DELTA, len(self._keys) // 8):
            self.merge()

    def merge(self, *, oldest_day: int | None = None) -> None:
        """Fold the delta into the main part, dropping keys last seen before ``oldest_day``."""
        where = np.searchsorted(self._keys, self._new_keys)
        keys = np.insert(self._keys, where, self._new_keys)
        days = np.insert(self._days, where, self._new_days)
        if oldest_day is not None:
            keep = days >= oldest_day
            keys, days = keys[keep], days[keep]
        self._keys, self._days = keys, days
        self._new_keys = self._new_keys[:0]
        self._new_days = self._new_days[:0]

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, days), sorted by key."""
        self.merge()
        return self._keys, self._days

    @classmethod
    def from_items(cls, keys: np.ndarray, days: np.ndarray) -> LastSeen:
        table = cls()
        order = np.argsort(keys, kind="stable")
        table._keys = keys[order].astype(np.int64)
        table._days = days[order].astype(np.uint16)
        return table
