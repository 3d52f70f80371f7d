"""Sliding event-time windows per card and per merchant, for the lake's ``aggregates`` table.

The table counts *decisions*, which exist only after scoring in ``foreachBatch``, so the
windows are kept by the batch sink rather than by a second streaming query (which would need a
second read of Kinesis). Every decided transaction counts once for its card and once for its
merchant in each sliding window holding its event time (10-minute windows every 5 minutes:
two). A window is emitted, once, when the watermark passes its end; the watermark is Spark's
definition (the largest event time of the previous batches minus the delay), so a window
never reopens.

Columnar: a batch's transactions are kept as Arrow rows in the slide bucket of their event
time (one row per transaction, not per window); when windows close, their buckets are
concatenated and grouped by card and by merchant with Arrow's hash aggregation. A bucket is
dropped once the last window reading it has closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTC_US = pa.timestamp("us", tz="UTC")
ROW_SCHEMA = pa.schema(
    [
        pa.field("card_id", pa.string()),
        pa.field("merchant_id", pa.string()),
        pa.field("amount", pa.float64()),
        pa.field("fraud", pa.int64()),  # 1 for a review or block decision
    ]
)
AGGREGATE_SCHEMA = pa.schema(
    [
        pa.field("entity_type", pa.string()),
        pa.field("entity_id", pa.string()),
        pa.field("window_start", UTC_US),
        pa.field("window_end", UTC_US),
        pa.field("tx_count", pa.int64()),
        pa.field("amount_sum", pa.float64()),
        pa.field("amount_max", pa.float64()),
        pa.field("fraud_decisions", pa.int64()),
    ]
)


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

    @property
    def per_window(self) -> int:
        """Slide buckets in one window (and windows holding one event)."""
        return self.size_ms // self.slide_ms


@dataclass
class Windows:
    """Open windows as slide buckets of transactions, and the watermark."""

    spec: WindowSpec = field(default_factory=WindowSpec)
    max_event_ms: int | None = None
    buckets: dict[int, list[pa.Table]] = field(default_factory=dict)
    next_start: int | None = None  # the first window start not yet emitted

    @property
    def watermark_ms(self) -> int | None:
        return None if self.max_event_ms is None else self.max_event_ms - self.spec.delay_ms

    def advance(
        self,
        card_id: pa.Array,
        merchant_id: pa.Array,
        event_ms: np.ndarray,
        amount: np.ndarray,
        fraud: np.ndarray,
    ) -> tuple[pa.Table, int]:
        """Add a batch's decided transactions; return the windows that closed (rows of
        :data:`AGGREGATE_SCHEMA`) and how many (transaction, window) pairs came too late."""
        spec = self.spec
        late = 0
        event_ms = np.asarray(event_ms, dtype=np.int64)
        if len(event_ms):
            bucket = event_ms // spec.slide_ms
            first_start = (bucket - spec.per_window + 1) * spec.slide_ms
            watermark = self.watermark_ms
            if watermark is not None:
                # windows of an event already emitted: start + size <= watermark
                closed = np.clip(
                    (watermark - spec.size_ms - first_start) // spec.slide_ms + 1,
                    0,
                    spec.per_window,
                )
                late = int(closed.sum())
                keep = closed < spec.per_window
            else:
                keep = np.ones(len(event_ms), dtype=bool)
            rows = pa.table(
                {
                    "card_id": card_id,
                    "merchant_id": merchant_id,
                    "amount": pa.array(amount, pa.float64()),
                    "fraud": pa.array(np.asarray(fraud, dtype=np.int64)),
                },
                schema=ROW_SCHEMA,
            ).filter(pa.array(keep))
            kept = bucket[keep]
            if len(kept):
                order = np.argsort(kept, kind="stable")
                values, starts = np.unique(kept[order], return_index=True)
                ends = np.r_[starts[1:], len(kept)]
                ordered = rows.take(pa.array(order))
                for value, a, b in zip(
                    values.tolist(), starts.tolist(), ends.tolist(), strict=True
                ):
                    self.buckets.setdefault(value, []).append(ordered.slice(a, b - a))
                earliest = (int(values[0]) - spec.per_window + 1) * spec.slide_ms
                if self.next_start is None or earliest < self.next_start:
                    self.next_start = earliest
            newest = int(event_ms.max())
            self.max_event_ms = (
                newest if self.max_event_ms is None else max(self.max_event_ms, newest)
            )
        return self._close(), late

    def _close(self) -> pa.Table:
        spec = self.spec
        watermark = self.watermark_ms
        if watermark is None or self.next_start is None or not self.buckets:
            return AGGREGATE_SCHEMA.empty_table()
        last_start = watermark - spec.size_ms  # windows starting at or before it have ended
        if last_start < self.next_start:
            return AGGREGATE_SCHEMA.empty_table()
        # the windows holding some bucket, one pass per window (not per row)
        starts = sorted(
            {(b - k) * spec.slide_ms for b in self.buckets for k in range(spec.per_window)}
        )
        outputs = []
        for start in starts:
            if start < self.next_start:
                continue
            if start > last_start:
                break
            first = start // spec.slide_ms
            parts = [
                t for b in range(first, first + spec.per_window) for t in self.buckets.get(b, [])
            ]
            outputs.append(_aggregate(pa.concat_tables(parts), start, spec.size_ms))
        self.next_start = (last_start // spec.slide_ms + 1) * spec.slide_ms
        for b in [b for b in self.buckets if b * spec.slide_ms < self.next_start]:
            del self.buckets[b]  # no open window reads it any more
        if not outputs:
            return AGGREGATE_SCHEMA.empty_table()
        closed = pa.concat_tables(outputs)
        return closed.sort_by(
            [
                ("window_start", "ascending"),
                ("entity_type", "ascending"),
                ("entity_id", "ascending"),
            ]
        )

    # -- saved form ---------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        parts = [
            t.append_column("bucket", pa.array(np.full(t.num_rows, b, dtype=np.int64)))
            for b in sorted(self.buckets)
            for t in self.buckets[b]
        ]
        if not parts:
            return ROW_SCHEMA.append(pa.field("bucket", pa.int64())).empty_table()
        return pa.concat_tables(parts)

    @classmethod
    def from_arrow(
        cls, table: pa.Table, spec: WindowSpec, max_event_ms: int | None, next_start: int | None
    ) -> Windows:
        windows = cls(spec=spec, max_event_ms=max_event_ms, next_start=next_start)
        if table.num_rows:
            bucket = table.column("bucket").to_numpy()
            values, starts = np.unique(bucket, return_index=True)
            ends = np.r_[starts[1:], len(bucket)]
            rows = table.drop_columns(["bucket"])
            for value, a, b in zip(values.tolist(), starts.tolist(), ends.tolist(), strict=True):
                windows.buckets[value] = [rows.slice(a, b - a)]
        return windows


def _aggregate(rows: pa.Table, start_ms: int, size_ms: int) -> pa.Table:
    """One window's totals per card and per merchant."""
    parts = []
    for kind, key in (("card", "card_id"), ("merchant", "merchant_id")):
        grouped = rows.group_by(key, use_threads=False).aggregate(
            [("amount", "count"), ("amount", "sum"), ("amount", "max"), ("fraud", "sum")]
        )
        n = grouped.num_rows
        parts.append(
            pa.table(
                {
                    "entity_type": pa.array([kind] * n, pa.string()),
                    "entity_id": grouped.column(key),
                    "window_start": pa.array(np.full(n, start_ms * 1000), pa.int64()).cast(UTC_US),
                    "window_end": pa.array(
                        np.full(n, (start_ms + size_ms) * 1000), pa.int64()
                    ).cast(UTC_US),
                    "tx_count": grouped.column("amount_count").cast(pa.int64()),
                    "amount_sum": pc.round(grouped.column("amount_sum"), 6),
                    "amount_max": grouped.column("amount_max"),
                    "fraud_decisions": grouped.column("fraud_sum").cast(pa.int64()),
                },
                schema=AGGREGATE_SCHEMA,
            )
        )
    return pa.concat_tables(parts)
