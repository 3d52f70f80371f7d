"""The card part of the feature vector, for a whole batch at once, and the card state behind it.

Semantics (docs/model.md, "Features"): a transaction's history is its card's transactions
*strictly earlier* in event time (two in the same millisecond do not see each other), whatever
batch they arrived in. Windows under an hour (10 minutes, 1 hour) are exact; the day windows
are tiled: ``1d`` is the 23 whole hours before the transaction's hour plus that hour so far,
``7d``/``30d`` the 6/29 whole days before its day plus that day so far. Nothing looks back more
than 30 days (the previous transaction, the previous location, merchants and categories seen).

State, per card slot: hourly and daily totals (:class:`~ml_model.features.rings.PeriodRings`),
the card's transactions of the last hour and a bit exactly (:class:`~ml_model.features.entries.
EntryLog`), the day it last used each merchant and category (:class:`~ml_model.features.pairs.
LastSeen`), and a few numbers describing the transactions that have left the exact log (the
newest one, the newest located one, the sums of the current run's locations for the "home").

How a batch is computed (no Python loop per transaction): the batch's rows and the logged
entries of the same cards are sorted into one array by (card, time); cumulative sums over it
and binary searches for each row's window edges give the exact parts; the whole periods come
from the rings (written by earlier batches) plus this batch's rows in those periods, counted
from the same cumulative sums. Every part is exact for any row within the watermark, so the
answer does not depend on how the rows were split into batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ml_model.features import entries as E
from ml_model.features.entries import EntryLog
from ml_model.features.geo import haversine_km
from ml_model.features.keys import KeyIndex
from ml_model.features.pairs import LastSeen, category_key, merchant_key
from ml_model.features.rings import NEVER, PeriodRings
from ml_model.features.schema import (
    CARD_WINDOWS,
    DAY_MS,
    FEATURE_INDEX,
    FEATURE_NAMES,
    HOUR_MS,
    LOOKBACK_MS,
    RATIO_WINDOWS,
    UNKNOWN,
)

AMOUNT_SCALE = 100
"""Amounts are summed as integer cents: exact whatever the order of additions."""
COORD_SCALE = 1_000_000
EXACT_MS = HOUR_MS
"""Entries stay in the exact log at least this long past the watermark (the longest exact
window, and the current hour of the tiled ones)."""
MIN_SPEED_HOURS = 1.0 / 60.0
LOOKBACK_DAYS = LOOKBACK_MS // DAY_MS
_OWN = ("amount", "log_amount", "hour_of_day", "is_night", "is_weekend", "channel_code")
CARD_COLUMNS = np.array(
    [
        FEATURE_INDEX[name]
        for name in FEATURE_NAMES
        if name not in _OWN and (not name.startswith("merchant_") or name == "first_time_merchant")
    ]
)
"""Feature columns this module writes (from the card's history)."""


def scale_amount(amount: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(amount, dtype=np.float64) * AMOUNT_SCALE).astype(np.int64)


def scale_coord(value: np.ndarray) -> np.ndarray:
    """Micro-degrees as int64 (0 where NaN; callers mask)."""
    return np.rint(np.nan_to_num(value) * COORD_SCALE).astype(np.int64)


@dataclass
class CardRows:
    """The card-side columns of a batch's transactions (aligned numpy arrays)."""

    slot: np.ndarray  # int32 card slot
    t: np.ndarray  # int64 event ms
    amount: np.ndarray  # float64
    lat: np.ndarray  # float64, NaN when absent (both or neither)
    lon: np.ndarray
    merchant: np.ndarray  # int32 merchant slot
    cat: np.ndarray  # int32 category code, -1 when absent

    def __len__(self) -> int:
        return len(self.slot)

    def take(self, index: np.ndarray) -> CardRows:
        return CardRows(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    def entries(self) -> E.Columns:
        return {
            "slot": self.slot.astype(np.int32),
            "t": self.t.astype(np.int64),
            "amt": scale_amount(self.amount),
            "lat": self.lat.astype(np.float64),
            "lon": self.lon.astype(np.float64),
            "merchant": self.merchant.astype(np.int32),
            "cat": self.cat.astype(np.int32),
        }


_SCALARS: dict[str, tuple[type, int | float]] = {
    "newest": (np.int64, NEVER),  # newest transaction time
    "old_t": (np.int64, NEVER),  # newest transaction that left the exact log
    "old_loc_t": (np.int64, NEVER),  # newest located one of those, and where
    "old_lat": (np.float64, math.nan),
    "old_lon": (np.float64, math.nan),
    "home_lat": (np.int64, 0),  # located transactions of the current run (micro-degrees)
    "home_lon": (np.int64, 0),
    "home_n": (np.int32, 0),
}


class CardStore:
    """Every card's state (see the module docstring). ``lateness_ms`` is the most an event
    may be older than the newest one already seen (the watermark delay)."""

    def __init__(self, lateness_ms: int, *, slab_rows: int = 16_384) -> None:
        self.lateness_ms = lateness_ms
        self.keys = KeyIndex()
        extra_hours = -(-lateness_ms // HOUR_MS)
        extra_days = -(-lateness_ms // DAY_MS)
        # counts saturate at 65,535 and cents at +-21 million per card and period
        ring_values = {"n": np.uint16, "amt": np.int32}
        self.hours = PeriodRings(25 + extra_hours, HOUR_MS, ring_values)
        self.days = PeriodRings(LOOKBACK_DAYS + 1 + extra_days, DAY_MS, ring_values)
        self.entries = EntryLog(min_slab_rows=slab_rows)
        self.pairs = LastSeen()
        self.scalars: dict[str, np.ndarray] = {
            name: np.empty(0, dtype=kind) for name, (kind, _) in _SCALARS.items()
        }

    @property
    def ttl_ms(self) -> int:
        """An idle card past this is forgotten: nothing of it can reach a feature any more."""
        return LOOKBACK_MS + 2 * DAY_MS + self.lateness_ms

    def __len__(self) -> int:
        return len(self.keys)

    def nbytes(self) -> dict[str, int]:
        """Bytes held, by part (arrays sized to the slots in use, not their spare capacity)."""
        live = max(self.keys.capacity, 1)
        per_slot_scalars = sum(np.dtype(kind).itemsize for kind, _ in _SCALARS.values())
        ring_bytes = sum(
            ring.length * v.dtype.itemsize + 8
            for ring in (self.hours, self.days)
            for v in ring.values.values()
        )
        return {
            "keys": self.keys.nbytes,
            "scalars": per_slot_scalars * live,
            "rings": ring_bytes * live,
            "entries": self.entries.nbytes,
            "pairs": self.pairs.nbytes,
        }

    # -- slots --------------------------------------------------------------------------------
    def _grow(self, capacity: int) -> None:
        size = len(self.scalars["newest"])
        if capacity <= size:
            return
        new_size = max(capacity, 2 * size, 1024)
        for name, (kind, fill) in _SCALARS.items():
            grown: np.ndarray = np.full(new_size, fill, dtype=kind)
            grown[:size] = self.scalars[name]
            self.scalars[name] = grown
        self.hours.grow(new_size)
        self.days.grow(new_size)

    def _reset(self, slots: np.ndarray) -> None:
        for name, (_, fill) in _SCALARS.items():
            self.scalars[name][slots] = fill
        self.hours.clear(slots)
        self.days.clear(slots)

    def slots_for(self, card_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        slots, new = self.keys.slots_for(card_ids)
        self._grow(self.keys.capacity)
        if len(new):
            self._reset(new)
        return slots

    # -- the batch ----------------------------------------------------------------------------
    def features(self, rows: CardRows, out: np.ndarray) -> None:
        """Write the card part of ``rows``' features into ``out`` (columns by name) and record
        the rows in the state."""
        n = len(rows)
        if n == 0:
            return
        batch = rows.entries()
        logged = self.entries.fetch(np.unique(rows.slot))
        s = E.concat([logged, batch])
        from_batch = np.r_[np.zeros(len(logged["slot"]), bool), np.ones(n, bool)]
        order = E.sort_order(s)
        s = E.take(s, order)
        from_batch = from_batch[order]
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        p = position[len(logged["slot"]) :]  # each batch row's place in s
        # work in s's order (binary searches with ascending queries are cache-friendly)
        by_place = np.argsort(p)
        part = np.empty((n, out.shape[1]), dtype=out.dtype)
        _card_columns(self, s, from_batch, p[by_place], rows.take(by_place), part)
        out[by_place[:, None], CARD_COLUMNS[None, :]] = part[:, CARD_COLUMNS]
        self._record(rows, batch)

    def _record(self, rows: CardRows, batch: E.Columns) -> None:
        np.maximum.at(self.scalars["newest"], rows.slot, rows.t)
        ones = np.ones(len(rows), dtype=np.int64)
        self.hours.add(rows.slot, rows.t // HOUR_MS, n=ones, amt=batch["amt"])
        self.days.add(rows.slot, rows.t // DAY_MS, n=ones, amt=batch["amt"])
        self.entries.append(batch)

    # -- upkeep -------------------------------------------------------------------------------
    def age(self, newest_ms: int) -> int:
        """Fold logged entries that can no longer fall in an exact window into the per-card
        summaries; returns how many left the log."""
        cutoff = newest_ms - self.lateness_ms - EXACT_MS
        gone = self.entries.age(cutoff)
        if len(gone["slot"]):
            _fold(self, gone)
        return len(gone["slot"])

    def expire(self, newest_ms: int) -> int:
        """Forget cards idle past :attr:`ttl_ms` and merchant/category days too old to matter;
        returns how many cards were forgotten."""
        oldest_day = (newest_ms - self.lateness_ms) // DAY_MS - LOOKBACK_DAYS - 1
        self.pairs.merge(oldest_day=int(oldest_day))
        live = self.keys.live_slots()
        idle = live[self.scalars["newest"][live] < newest_ms - self.ttl_ms]
        if len(idle):
            # a slot is reused only once none of its entries is left in the log
            self.entries.seal()
            self.age(newest_ms)
            idle = idle[~np.isin(idle, self.entries.fetch(idle)["slot"])]
            self.keys.remove(idle)
            self._reset(idle)
        return len(idle)


def _fold(store: CardStore, gone: E.Columns) -> None:
    """Fold entries leaving the exact log (sorted by card and time) into the summaries."""
    sc = store.scalars
    slot, t = gone["slot"], gone["t"]
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
    ends = np.r_[starts[1:], len(slot)]
    cards = slot[starts]
    previous_old = sc["old_t"][cards]
    # runs of the "home" location: a gap of more than the lookback starts a new one
    gap = np.empty(len(t), dtype=np.int64)
    gap[1:] = t[1:] - t[:-1]
    gap[starts] = t[starts] - np.maximum(previous_old, NEVER // 2)
    is_break = gap > LOOKBACK_MS
    group = np.repeat(np.arange(len(starts)), ends - starts)
    last_break = np.maximum.reduceat(np.where(is_break, np.arange(len(t)), -1), starts)
    located = np.isfinite(gone["lat"]) & np.isfinite(gone["lon"])
    lat_i, lon_i = scale_coord(gone["lat"]), scale_coord(gone["lon"])
    counted = located & (np.arange(len(t)) >= last_break[group])
    add_lat = np.add.reduceat(np.where(counted, lat_i, 0), starts)
    add_lon = np.add.reduceat(np.where(counted, lon_i, 0), starts)
    add_n = np.add.reduceat(counted.astype(np.int64), starts)
    restart = last_break >= 0
    sc["home_lat"][cards] = np.where(restart, 0, sc["home_lat"][cards]) + add_lat
    sc["home_lon"][cards] = np.where(restart, 0, sc["home_lon"][cards]) + add_lon
    sc["home_n"][cards] = np.where(restart, 0, sc["home_n"][cards]) + add_n
    sc["old_t"][cards] = np.maximum(previous_old, t[ends - 1])
    # newest located entry of each group (entries are in canonical order)
    last_loc = np.maximum.reduceat(np.where(located, np.arange(len(t)), -1), starts)
    has = last_loc >= 0
    pick = last_loc[has]
    newer = t[pick] >= sc["old_loc_t"][cards[has]]
    upd = cards[has][newer]
    sc["old_loc_t"][upd] = t[pick][newer]
    sc["old_lat"][upd] = gone["lat"][pick][newer]
    sc["old_lon"][upd] = gone["lon"][pick][newer]
    days = t // DAY_MS
    store.pairs.update(merchant_key(slot, gone["merchant"]), days)
    with_cat = gone["cat"] >= 0
    store.pairs.update(category_key(slot[with_cat], gone["cat"][with_cat]), days[with_cat])


def _window_edges(key: np.ndarray, base: np.ndarray, times: np.ndarray, side: str) -> np.ndarray:
    return np.searchsorted(key, base + times, side)  # type: ignore[call-overload]


def _card_columns(
    store: CardStore,
    s: E.Columns,
    from_batch: np.ndarray,
    p: np.ndarray,
    rows: CardRows,
    out: np.ndarray,
) -> None:
    """Fill the card columns of ``out`` for the batch rows at positions ``p`` of ``s``."""
    sc = store.scalars
    slot_s, t_s, amt_s = s["slot"], s["t"], s["amt"]
    size = len(slot_s)
    t = rows.t
    slots = rows.slot
    # segments of s (one per card) and a sortable key (segment, time)
    change = np.r_[True, slot_s[1:] != slot_s[:-1]]
    seg = np.cumsum(change) - 1
    seg_first = np.flatnonzero(change)
    t_min, t_max = int(t_s.min()), int(t_s.max())
    offset = LOOKBACK_MS + 2 * DAY_MS
    span = t_max - t_min + offset + 2
    if (seg[-1] + 1) * span >= 2**62:
        raise ValueError("batch spans too long a time for one pass; split it by time")
    key = seg * span + (t_s - t_min + offset)
    base = seg[p] * span + (offset - t_min)
    first = seg_first[seg[p]]

    def cum(values: np.ndarray) -> np.ndarray:
        return np.r_[0, np.cumsum(values, dtype=np.int64)]

    c_amt = cum(amt_s)
    c_batch = cum(from_batch)
    c_batch_amt = cum(np.where(from_batch, amt_s, 0))
    lo_t = _window_edges(key, base, t, "left")  # history is [first, lo_t)

    hour_start = t - t % HOUR_MS
    day_start = t - t % DAY_MS
    lo_hour = _window_edges(key, base, hour_start, "left")
    now_n = lo_t - lo_hour
    now_amt = c_amt[lo_t] - c_amt[lo_hour]
    hours = store.hours.gather(slots, t // HOUR_MS - 23, 23)
    days = store.days.gather(slots, t // DAY_MS - LOOKBACK_DAYS + 1, LOOKBACK_DAYS - 1)
    hour_n = np.c_[np.zeros(len(t)), np.cumsum(hours["n"], axis=1)]
    hour_amt = np.c_[np.zeros(len(t)), np.cumsum(hours["amt"], axis=1)]
    today = (hour_start - day_start) // HOUR_MS  # whole hours of the day before this one
    rows_index = np.arange(len(t))
    today_n = hour_n[:, 23] - hour_n[rows_index, 23 - today]
    today_amt = hour_amt[:, 23] - hour_amt[rows_index, 23 - today]

    counts: dict[str, np.ndarray] = {}
    sums: dict[str, np.ndarray] = {}
    for suffix, window in CARD_WINDOWS:
        if window <= EXACT_MS:
            lo = _window_edges(key, base, t - window, "right")
            counts[suffix] = (lo_t - lo).astype(np.float64)
            sums[suffix] = (c_amt[lo_t] - c_amt[lo]).astype(np.float64)
            continue
        if window == DAY_MS:
            start = hour_start - 23 * HOUR_MS
            ring_n, ring_amt = hour_n[:, 23], hour_amt[:, 23]
        else:
            whole = window // DAY_MS - 1
            start = day_start - whole * DAY_MS
            ring_n = days["n"][:, -whole:].sum(axis=1) + today_n
            ring_amt = days["amt"][:, -whole:].sum(axis=1) + today_amt
        lo = _window_edges(key, base, start, "left")
        counts[suffix] = ring_n + (c_batch[lo_hour] - c_batch[lo]) + now_n
        sums[suffix] = ring_amt + (c_batch_amt[lo_hour] - c_batch_amt[lo]) + now_amt
    means: dict[str, np.ndarray] = {}
    for suffix, _ in CARD_WINDOWS:
        count, money = counts[suffix], sums[suffix] / AMOUNT_SCALE
        mean = np.divide(money, count, out=np.zeros_like(money), where=count > 0)
        means[suffix] = mean
        out[:, FEATURE_INDEX[f"card_count_{suffix}"]] = count
        out[:, FEATURE_INDEX[f"card_sum_{suffix}"]] = money
        out[:, FEATURE_INDEX[f"card_mean_{suffix}"]] = mean
    amount = rows.amount
    for suffix in RATIO_WINDOWS:
        mean = means[suffix]
        ratio = np.divide(amount, mean, out=np.full(len(t), UNKNOWN), where=mean > 0)
        out[:, FEATURE_INDEX[f"amount_to_mean_{suffix}"]] = ratio

    # the previous transaction: the newest logged one before t, or the newest that left the log
    has_history = lo_t > first
    prev_logged = np.where(has_history, t_s[np.maximum(lo_t - 1, 0)], NEVER)
    prev_t = np.maximum(prev_logged, sc["old_t"][slots])
    known_prev = (prev_t > NEVER) & (t - prev_t <= LOOKBACK_MS)
    out[:, FEATURE_INDEX["seconds_since_previous"]] = np.where(
        known_prev, (t - prev_t) / 1000.0, UNKNOWN
    )

    # the previous located transaction
    located_s = np.isfinite(s["lat"]) & np.isfinite(s["lon"])
    last_loc = np.maximum.accumulate(np.where(located_s, np.arange(size), -1))
    idx = np.where(lo_t > 0, last_loc[np.maximum(lo_t - 1, 0)], -1)
    in_log = idx >= first
    log_t = np.where(in_log, t_s[np.maximum(idx, 0)], NEVER)
    old_loc_t = sc["old_loc_t"][slots]
    use_log = in_log & (log_t >= old_loc_t)
    loc_t = np.where(use_log, log_t, old_loc_t)
    loc_lat = np.where(use_log, s["lat"][np.maximum(idx, 0)], sc["old_lat"][slots])
    loc_lon = np.where(use_log, s["lon"][np.maximum(idx, 0)], sc["old_lon"][slots])
    located = np.isfinite(rows.lat) & np.isfinite(rows.lon)
    has_loc = located & (loc_t > NEVER) & (t - loc_t <= LOOKBACK_MS)
    distance = np.full(len(t), UNKNOWN)
    speed = np.full(len(t), UNKNOWN)
    if has_loc.any():
        km = haversine_km(loc_lat[has_loc], loc_lon[has_loc], rows.lat[has_loc], rows.lon[has_loc])
        hours_apart = np.maximum((t[has_loc] - loc_t[has_loc]) / HOUR_MS, MIN_SPEED_HOURS)
        distance[has_loc] = km
        speed[has_loc] = km / hours_apart
    out[:, FEATURE_INDEX["distance_from_previous_km"]] = distance
    out[:, FEATURE_INDEX["speed_from_previous_kmh"]] = speed

    # home: mean location of the current run (no gap longer than the lookback)
    gap = np.empty(size, dtype=np.int64)
    gap[1:] = t_s[1:] - t_s[:-1]
    old_t_s = sc["old_t"][slot_s[seg_first]]
    gap[seg_first] = np.where(old_t_s > NEVER, t_s[seg_first] - old_t_s, LOOKBACK_MS + 1)
    last_break = np.maximum.accumulate(np.where(gap > LOOKBACK_MS, np.arange(size), -1))
    lat_i = np.where(located_s, scale_coord(s["lat"]), 0)
    lon_i = np.where(located_s, scale_coord(s["lon"]), 0)
    c_lat, c_lon, c_loc = cum(lat_i), cum(lon_i), cum(located_s)
    run_break = np.where(has_history, last_break[np.maximum(lo_t - 1, 0)], -1)
    broken = run_break >= first  # a gap inside the logged history: the run starts there
    run_start = np.where(broken, run_break, first)
    with_old = ~broken & (sc["old_t"][slots] > NEVER)
    home_lat = c_lat[lo_t] - c_lat[run_start] + np.where(with_old, sc["home_lat"][slots], 0)
    home_lon = c_lon[lo_t] - c_lon[run_start] + np.where(with_old, sc["home_lon"][slots], 0)
    home_n = c_loc[lo_t] - c_loc[run_start] + np.where(with_old, sc["home_n"][slots], 0)
    has_home = located & known_prev & (home_n > 0)
    home = np.full(len(t), UNKNOWN)
    if has_home.any():
        count = home_n[has_home]
        home[has_home] = haversine_km(
            home_lat[has_home] / count / COORD_SCALE,
            home_lon[has_home] / count / COORD_SCALE,
            rows.lat[has_home],
            rows.lon[has_home],
        )
    out[:, FEATURE_INDEX["distance_from_home_km"]] = home

    # merchants and categories used in the lookback
    day = t // DAY_MS
    out[:, FEATURE_INDEX["first_time_merchant"]] = np.where(
        _seen(seg, t_s, s["merchant"], p, t, day)
        | (store.pairs.lookup(merchant_key(slots, rows.merchant)) >= day - LOOKBACK_DAYS),
        0.0,
        1.0,
    )
    has_cat = rows.cat >= 0
    seen_cat = _seen(seg, t_s, s["cat"], p, t, day) | (
        store.pairs.lookup(category_key(slots, np.maximum(rows.cat, 0))) >= day - LOOKBACK_DAYS
    )
    out[:, FEATURE_INDEX["first_time_category"]] = np.where(
        has_cat, np.where(seen_cat, 0.0, 1.0), UNKNOWN
    )


def _seen(
    seg: np.ndarray,
    t_s: np.ndarray,
    value_s: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    day: np.ndarray,
) -> np.ndarray:
    """Whether the card's logged history before each row holds an entry with the row's value
    (merchant or category, ``-1`` never matching) on a day within the lookback."""
    pair = seg.astype(np.int64) * (int(value_s.max(initial=0)) + 2) + (value_s + 1)
    t_low = int(t_s.min())
    if (int(pair.max()) + 1) * (int(t_s.max()) - t_low + 1) < 2**62:
        order = np.argsort(pair * (int(t_s.max()) - t_low + 1) + (t_s - t_low), kind="stable")
    else:
        order = np.lexsort((t_s, pair))
    pair_sorted = pair[order]
    rank = np.cumsum(np.r_[True, pair_sorted[1:] != pair_sorted[:-1]]) - 1
    t_sorted = t_s[order]
    t_min = int(t_s.min())
    span = int(t_s.max()) - t_min + 2
    key = rank * span + (t_sorted - t_min)
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    row_rank = rank[where[p]]
    before = np.searchsorted(key, row_rank * span + (t - t_min), "left") - 1
    valid = before >= 0
    before = np.maximum(before, 0)
    same = valid & (rank[before] == row_rank) & (value_s[p] >= 0)
    return same & (t_sorted[before] // DAY_MS >= day - LOOKBACK_DAYS)
