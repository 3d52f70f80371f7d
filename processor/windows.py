"""Sliding event-time windows per card and per merchant, kept on the driver between batches.

The lake's ``aggregates`` view counts *decisions*, which exist only after scoring in
``foreachBatch``; a Spark streaming aggregation would need the decided rows as a second
streaming query and so a second read of Kinesis. Instead the batch sink feeds each batch's
decided transactions here: every transaction counts once for its card and once for its
merchant in each sliding window containing its event time (10-minute windows every 5 minutes:
two windows). A window is emitted, once, when the watermark passes its end; the watermark is
Spark's definition (the largest event time of the previous batches minus the delay), so a
window never reopens. The state is saved with the rest of the driver state after each batch
(:mod:`processor.sink_state`: the windows a batch opened, updated or closed, listed in
:attr:`WindowState.changed`), so a replayed batch starts from the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FRAUD_DECISIONS = frozenset({"review", "block"})

WindowKey = tuple[str, str, int]
"""(entity type, entity id, window start in epoch ms)."""
Totals = tuple[float, float, float, float]
"""(count, amount sum, amount max, fraud decisions) of one open window.

A tuple of floats, replaced on each update rather than changed in place: CPython's collector
stops tracking a tuple that holds only numbers, so the open windows (two per active card and
merchant, hundreds of thousands on a busy driver) cost its full collections nothing. As
mutable lists they were most of the driver's tracked objects, and each full collection paused
the batch sink for 150-300 ms at 1,000 transactions a second (docs/benchmarks.md)."""


@dataclass(frozen=True)
class WindowSpec:
    size_ms: int = 10 * 60_000
    slide_ms: int = 5 * 60_000
    delay_ms: int = 10 * 60_000  # the watermark delay

    def __post_init__(self) -> None:
        if self.size_ms <= 0 or self.slide_ms <= 0 or self.size_ms % self.slide_ms:
            raise ValueError("window size must be a positive multiple of the slide")
        if self.delay_ms < 0:
            raise ValueError("watermark delay must not be negative")

    def starts(self, event_ms: int) -> range:
        """Starts of every window containing ``event_ms`` (start <= t < start + size)."""
        last = event_ms - event_ms % self.slide_ms
        return range(last - self.size_ms + self.slide_ms, last + 1, self.slide_ms)


@dataclass(frozen=True)
class Decided:
    """The fields of one decided transaction the windows need."""

    card_id: str
    merchant_id: str
    event_ms: int
    amount: float
    decision: str


@dataclass
class WindowState:
    """Open windows and the watermark; advanced once per micro-batch by :meth:`advance`."""

    spec: WindowSpec = field(default_factory=WindowSpec)
    max_event_ms: int | None = None
    open: dict[WindowKey, Totals] = field(default_factory=dict)
    # Windows opened, updated or closed since the owner last cleared this (to save them).
    changed: set[WindowKey] = field(default_factory=set, repr=False, compare=False)
    # Window start -> its open windows, so closing visits only what closes; built on first use
    # (after a restore fills ``open``) and kept up to date by advance().
    _starts: dict[int, set[WindowKey]] | None = field(default=None, repr=False, compare=False)

    def _index(self) -> dict[int, set[WindowKey]]:
        if self._starts is None:
            self._starts = {}
            for key in self.open:
                self._starts.setdefault(key[2], set()).add(key)
        return self._starts

    @property
    def watermark_ms(self) -> int | None:
        return None if self.max_event_ms is None else self.max_event_ms - self.spec.delay_ms

    def advance(self, batch: Iterable[Decided]) -> tuple[list[dict[str, Any]], int]:
        """Add one batch; return the windows the new watermark closes and how many rows came
        too late for a window that had already closed (counted, not aggregated)."""
        watermark = self.watermark_ms
        late = 0
        newest = self.max_event_ms
        index = self._index()
        for tx in batch:
            newest = tx.event_ms if newest is None else max(newest, tx.event_ms)
            fraud = 1.0 if tx.decision in FRAUD_DECISIONS else 0.0
            for start in self.spec.starts(tx.event_ms):
                if watermark is not None and start + self.spec.size_ms <= watermark:
                    late += 1
                    continue
                for key in (("card", tx.card_id, start), ("merchant", tx.merchant_id, start)):
                    self.changed.add(key)
                    current = self.open.get(key)
                    if current is None:
                        self.open[key] = (1.0, tx.amount, tx.amount, fraud)
                        index.setdefault(start, set()).add(key)
                    else:
                        count, total, largest, frauds = current
                        self.open[key] = (
                            count + 1,
                            total + tx.amount,
                            max(largest, tx.amount),
                            frauds + fraud,
                        )
        self.max_event_ms = newest
        return self._close(), late

    def _close(self) -> list[dict[str, Any]]:
        watermark = self.watermark_ms
        if watermark is None:
            return []
        index = self._index()
        ended = [start for start in index if start + self.spec.size_ms <= watermark]
        closed = sorted(key for start in ended for key in index.pop(start))
        self.changed.update(closed)
        rows = []
        for key in closed:
            count, total, largest, fraud = self.open.pop(key)
            rows.append(
                {
                    "entity_type": key[0],
                    "entity_id": key[1],
                    "window_start_ms": key[2],
                    "window_end_ms": key[2] + self.spec.size_ms,
                    "tx_count": int(count),
                    "amount_sum": round(total, 6),
                    "amount_max": largest,
                    "fraud_decisions": int(fraud),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_event_ms": self.max_event_ms,
            "open": [[*key, *values] for key, values in self.open.items()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], spec: WindowSpec) -> WindowState:
        state = cls(spec=spec, max_event_ms=data.get("max_event_ms"))
        for kind, entity, start, *values in data.get("open", []):
            count, total, largest, frauds = (float(v) for v in values)
            state.open[(kind, entity, int(start))] = (count, total, largest, frauds)
        return state
