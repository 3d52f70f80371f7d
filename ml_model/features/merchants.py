"""The merchant part of the feature vector (risk from delayed fraud labels), batch at a time.

Semantics (docs/model.md): a merchant window ends at ``end``, the transaction's time minus the
label delay aligned down to ``merchant_bucket_ms``, so it counts only transactions old enough
for their labels to be known. ``1d`` is the 23 whole hours before ``end``'s hour plus that hour
up to ``end``; ``7d``/``30d`` are the 6/29 whole days before ``end``'s day plus that day up to
``end``. A fraud label counts for a transaction at time ``t`` once its label time is at or
before ``t`` ("labels first on ties"), whatever batch it arrived in.

State, per merchant slot: transaction and fraud-label totals per bucket, hour and day in rings
(:class:`~ml_model.features.rings.PeriodRings`), and the fraud labels of the last watermark
delay, which some late transaction may still be older than, kept apart until no row can be.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ml_model.features.keys import KeyIndex
from ml_model.features.rings import NEVER, PeriodRings, ragged_arange
from ml_model.features.schema import (
    DAY_MS,
    FEATURE_INDEX,
    HOUR_MS,
    LOOKBACK_MS,
    MERCHANT_WINDOW_DAYS,
    UNKNOWN,
    FeatureConfig,
)

_FAR = np.iinfo(np.int64).max // 4
_VALUES = {"tx": np.int32, "fraud": np.int32}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class MerchantStore:
    """Every merchant's state; ``lateness_ms`` as for the cards."""

    def __init__(self, config: FeatureConfig, lateness_ms: int) -> None:
        self.config = config
        self.lateness_ms = lateness_ms
        self.keys = KeyIndex()
        lag = lateness_ms + config.label_delay_ms
        bucket = config.merchant_bucket_ms
        self.fine = (
            PeriodRings(HOUR_MS // bucket + _ceil(lag, bucket) + 1, bucket, _VALUES)
            if bucket < HOUR_MS
            else None
        )
        self.hours = PeriodRings(25 + _ceil(lag, HOUR_MS), HOUR_MS, _VALUES)
        self.days = PeriodRings(31 + _ceil(lag, DAY_MS), DAY_MS, _VALUES)
        self.last_seen = np.empty(0, dtype=np.int64)
        # fraud labels not yet in the rings: merchant slot, event ms, label ms
        self.pending: dict[str, np.ndarray] = {
            "slot": np.empty(0, np.int32),
            "te": np.empty(0, np.int64),
            "label_ms": np.empty(0, np.int64),
        }

    def _rings(self) -> list[PeriodRings]:
        return [r for r in (self.fine, self.hours, self.days) if r is not None]

    @property
    def ttl_ms(self) -> int:
        return LOOKBACK_MS + 2 * DAY_MS + self.lateness_ms + self.config.label_delay_ms

    def __len__(self) -> int:
        return len(self.keys)

    def nbytes(self) -> dict[str, int]:
        live = max(self.keys.capacity, 1)
        ring_bytes = sum(
            r.length * v.dtype.itemsize + 8 for r in self._rings() for v in r.values.values()
        )
        return {
            "keys": self.keys.nbytes,
            "rings": ring_bytes * live + 8 * live,
            "pending": sum(a.nbytes for a in self.pending.values()),
        }

    def slots_for(self, merchant_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        slots, new = self.keys.slots_for(merchant_ids)
        size = len(self.last_seen)
        if self.keys.capacity > size:
            grown = np.full(max(self.keys.capacity, 2 * size, 1024), NEVER, dtype=np.int64)
            grown[:size] = self.last_seen
            self.last_seen = grown
            for ring in self._rings():
                ring.grow(len(grown))
        if len(new):
            self.last_seen[new] = NEVER
            for ring in self._rings():
                ring.clear(new)
        return slots

    def add_labels(self, slots: np.ndarray, event_ms: np.ndarray, label_ms: np.ndarray) -> None:
        """Fraud labels (only frauds change merchant risk) that arrived with this batch."""
        self.pending = {
            "slot": np.r_[self.pending["slot"], slots.astype(np.int32)],
            "te": np.r_[self.pending["te"], event_ms.astype(np.int64)],
            "label_ms": np.r_[self.pending["label_ms"], label_ms.astype(np.int64)],
        }
        np.maximum.at(self.last_seen, slots, label_ms)

    # -- the batch ----------------------------------------------------------------------------
    def features(self, slot: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
        """Write the merchant part of the features of transactions (merchant ``slot``, time
        ``t``) into ``out``, then count them in the state."""
        if len(t) == 0:
            return
        _merchant_columns(self, slot.astype(np.int64), t, out)
        ones = np.ones(len(t), dtype=np.int64)
        for ring in self._rings():
            ring.add(slot, t // ring.period_ms, tx=ones)
        np.maximum.at(self.last_seen, slot, t)

    # -- upkeep -------------------------------------------------------------------------------
    def fold(self, newest_ms: int) -> int:
        """Move pending labels that every future row may see into the rings."""
        ready = self.pending["label_ms"] <= newest_ms - self.lateness_ms
        if not ready.any():
            return 0
        slots, te = self.pending["slot"][ready], self.pending["te"][ready]
        ones = np.ones(len(slots), dtype=np.int64)
        for ring in self._rings():
            ring.add(slots, te // ring.period_ms, fraud=ones)
        self.pending = {k: v[~ready] for k, v in self.pending.items()}
        return int(ready.sum())

    def expire(self, newest_ms: int) -> int:
        live = self.keys.live_slots()
        idle = live[self.last_seen[live] < newest_ms - self.ttl_ms]
        idle = idle[~np.isin(idle, self.pending["slot"])]
        if len(idle):
            self.keys.remove(idle)
            self.last_seen[idle] = NEVER
            for ring in self._rings():
                ring.clear(idle)
        return len(idle)


def _merchant_columns(
    store: MerchantStore, slot: np.ndarray, t: np.ndarray, out: np.ndarray
) -> None:
    config = store.config
    bucket = config.merchant_bucket_ms
    n = len(t)
    rows = np.arange(n)
    shifted = t - config.label_delay_ms
    end = shifted - shifted % bucket
    end_hour = end - end % HOUR_MS
    end_day = end - end % DAY_MS
    starts = {
        1: end_hour - 23 * HOUR_MS,
        **{d: end_day - (d - 1) * DAY_MS for d in MERCHANT_WINDOW_DAYS if d > 1},
    }

    # whole periods from the rings (earlier batches)
    def gather(ring: PeriodRings | None, first_ms: np.ndarray, count: int) -> dict[str, np.ndarray]:
        if ring is None or count <= 0:
            zeros = np.zeros((n, 0), dtype=np.int64)
            return {"tx": zeros, "fraud": zeros, "time": zeros}
        got = ring.gather(slot, first_ms // ring.period_ms, count)
        got["time"] = first_ms[:, None] + np.arange(count)[None, :] * ring.period_ms
        return got

    fine_count = HOUR_MS // bucket - 1 if store.fine is not None else 0
    fine = gather(store.fine, end_hour, fine_count)
    fine_valid = fine["time"] < end[:, None]
    hours = gather(store.hours, end_hour - 23 * HOUR_MS, 23)
    today_valid = hours["time"] >= end_day[:, None]
    days = gather(store.days, end_day - 29 * DAY_MS, 29)

    def total(part: dict[str, np.ndarray], name: str, mask: np.ndarray | None = None) -> np.ndarray:
        values = part[name] if mask is None else np.where(mask, part[name], 0)
        return values.sum(axis=1, dtype=np.int64)

    fine_tx, fine_fraud = total(fine, "tx", fine_valid), total(fine, "fraud", fine_valid)
    today_tx, today_fraud = total(hours, "tx", today_valid), total(hours, "fraud", today_valid)
    txs: dict[int, np.ndarray] = {}
    frauds: dict[int, np.ndarray] = {}
    for d in MERCHANT_WINDOW_DAYS:
        if d == 1:
            txs[d] = total(hours, "tx") + fine_tx
            frauds[d] = total(hours, "fraud") + fine_fraud
        else:
            whole = d - 1
            txs[d] = days["tx"][:, -whole:].sum(axis=1) + today_tx + fine_tx
            frauds[d] = days["fraud"][:, -whole:].sum(axis=1) + today_fraud + fine_fraud

    # this batch's transactions in each window (not in the rings yet)
    offset = config.label_delay_ms + LOOKBACK_MS + 2 * DAY_MS
    _, rank = np.unique(slot, return_inverse=True)
    t_min = int(t.min())
    span = int(t.max()) - t_min + offset + 2
    order = np.lexsort((t, rank))
    key = rank[order] * span + (t[order] - t_min + offset)
    base = rank * span + (offset - t_min)
    hi = np.searchsorted(key, base + end, "left")
    for d in MERCHANT_WINDOW_DAYS:
        lo = np.searchsorted(key, base + starts[d], "left")
        txs[d] = txs[d] + (hi - lo)

    # fraud labels not in the rings: visible once their label time is at or before t
    newest = np.full(n, NEVER, dtype=np.int64)
    oldest = np.full(n, _FAR, dtype=np.int64)
    pending = store.pending
    if len(pending["slot"]):
        order = np.argsort(pending["slot"], kind="stable")
        p_slot = pending["slot"][order]
        p_te, p_label = pending["te"][order], pending["label_ms"][order]
        lo = np.searchsorted(p_slot, slot, "left")
        count = np.searchsorted(p_slot, slot, "right") - lo
        row = np.repeat(rows, count)
        label = np.repeat(lo, count) + ragged_arange(count)
        te = p_te[label]
        seen = (p_label[label] <= t[row]) & (te < end[row])
        for d in MERCHANT_WINDOW_DAYS:
            inside = seen & (te >= starts[d][row])
            frauds[d] = frauds[d] + np.bincount(row[inside], minlength=n)
        inside = seen & (te >= starts[MERCHANT_WINDOW_DAYS[-1]][row])
        # a label counts at the resolution of the part of the window it falls in
        period = np.where(
            te >= end_hour[row],
            te - te % bucket,
            np.where(te >= end_day[row], te - te % HOUR_MS, te - te % DAY_MS),
        )
        np.maximum.at(newest, row[inside], period[inside])
        np.minimum.at(oldest, row[inside], period[inside])

    # newest and oldest known fraud in the longest window, from the rings
    for part, mask in (
        (fine, fine_valid),
        (hours, today_valid),
        (days, np.ones_like(days["time"], dtype=bool)),
    ):
        if part["time"].shape[1] == 0:
            continue
        marked = mask & (part["fraud"] > 0)
        newest = np.maximum(newest, np.where(marked, part["time"], NEVER).max(axis=1))
        oldest = np.minimum(oldest, np.where(marked, part["time"], _FAR).min(axis=1))

    for d in MERCHANT_WINDOW_DAYS:
        count = txs[d].astype(np.float64)
        out[:, FEATURE_INDEX[f"merchant_count_{d}d"]] = count
        out[:, FEATURE_INDEX[f"merchant_fraud_share_{d}d"]] = np.divide(
            frauds[d], count, out=np.zeros(n), where=count > 0
        )
    known = newest > NEVER
    out[:, FEATURE_INDEX["merchant_days_since_last_fraud"]] = np.where(
        known, (t - newest) / DAY_MS, UNKNOWN
    )
    out[:, FEATURE_INDEX["merchant_days_since_first_fraud"]] = np.where(
        known, (t - oldest) / DAY_MS, UNKNOWN
    )
