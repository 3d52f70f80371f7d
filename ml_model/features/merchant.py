"""Per-merchant (terminal) risk with delayed labels.

Fraud labels arrive late, like chargebacks. A merchant's state counts its transactions and the
frauds among them per time bucket of the *transaction's* event time; it is fed transactions as
they happen and fraud labels as they arrive (each label names the transaction's merchant and
event time). Queried at a transaction's time ``t``, it answers over windows that end
``label_delay`` before ``t`` (aligned down to a bucket edge), which is the handbook's "window
shifted back by the delay": only transactions old enough for their labels to be known count.

Feed order defines the answer: the batch builder replays transactions (at their event time)
and labels (at their label time) merged in time order, labels first on ties, exactly as the
stream sees them arrive. All counts are integers, so the answer does not depend on how the
state was stored in between.

Duplicate labels are counted twice: the labels feed must be de-duplicated upstream (the
processor de-duplicates by transaction id).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, NamedTuple

from ml_model.features.schema import DAY_MS, MERCHANT_WINDOW_DAYS, UNKNOWN, FeatureConfig

#: Extra retention beyond the longest window, so a moderately late event still finds its buckets.
RETENTION_MARGIN_MS = DAY_MS


class MerchantSnapshot(NamedTuple):
    """A merchant's delayed-label risk as of one moment.

    Counts and fraud shares per window (1/7/30 days), then the days from the moment back to the
    start of the newest and of the oldest bucket holding a known fraud within the 30-day window
    (-1 when there is none): a compromised terminal shows as a recent run of frauds that
    started a known time ago.
    """

    count_1d: float = 0.0
    count_7d: float = 0.0
    count_30d: float = 0.0
    fraud_share_1d: float = 0.0
    fraud_share_7d: float = 0.0
    fraud_share_30d: float = 0.0
    days_since_last_fraud: float = -1.0
    days_since_first_fraud: float = -1.0


EMPTY_SNAPSHOT = MerchantSnapshot()


class MerchantState:
    """Sparse per-bucket counts for one merchant. Create empty with ``MerchantState()``."""

    __slots__ = ("buckets", "frauds", "newest", "txs")

    def __init__(self) -> None:
        self.buckets: list[int] = []  # bucket numbers (event_ms // bucket_ms), ascending
        self.txs: list[int] = []  # transactions per bucket
        self.frauds: list[int] = []  # fraud labels received per bucket
        self.newest: int | None = None  # newest transaction time seen (epoch ms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MerchantState) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def _slot(self, bucket: int) -> int:
        """Index of ``bucket``, inserting an empty one if needed."""
        i = bisect_left(self.buckets, bucket)
        if i == len(self.buckets) or self.buckets[i] != bucket:
            self.buckets.insert(i, bucket)
            self.txs.insert(i, 0)
            self.frauds.insert(i, 0)
        return i

    def _floor(self, config: FeatureConfig) -> int | None:
        """Oldest bucket worth keeping given the newest transaction seen."""
        if self.newest is None:
            return None
        keep_ms = config.label_delay_ms + MERCHANT_WINDOW_DAYS[-1] * DAY_MS + RETENTION_MARGIN_MS
        return (self.newest - keep_ms) // config.merchant_bucket_ms

    def add_transaction(self, event_ms: int, config: FeatureConfig) -> None:
        """Count a transaction (after its features were computed) and evict old buckets."""
        i = self._slot(event_ms // config.merchant_bucket_ms)
        self.txs[i] += 1
        if self.newest is None or event_ms > self.newest:
            self.newest = event_ms
            floor = self._floor(config)
            drop = bisect_left(self.buckets, floor) if floor is not None else 0
            if drop:
                del self.buckets[:drop], self.txs[:drop], self.frauds[:drop]

    def add_label(self, event_ms: int, is_fraud: bool, config: FeatureConfig) -> None:
        """Record a label for one of this merchant's transactions (only frauds change counts)."""
        if not is_fraud:
            return
        bucket = event_ms // config.merchant_bucket_ms
        floor = self._floor(config)
        if floor is not None and bucket < floor:
            return
        self.frauds[self._slot(bucket)] += 1

    def snapshot(self, at_ms: int, config: FeatureConfig) -> MerchantSnapshot:
        """Risk as of ``at_ms``: windows of 1/7/30 days ending at the bucket edge at or before
        ``at_ms - label_delay``."""
        if not self.buckets:
            return EMPTY_SNAPSHOT
        size = config.merchant_bucket_ms
        end = (at_ms - config.label_delay_ms) // size
        j = bisect_left(self.buckets, end)
        counts = []
        shares = []
        i = j
        frauds = 0
        for days in MERCHANT_WINDOW_DAYS:
            i = bisect_left(self.buckets, end - days * DAY_MS // size, 0, j)
            txs = sum(self.txs[i:j])
            frauds = sum(self.frauds[i:j])
            counts.append(float(txs))
            shares.append(frauds / txs if txs else 0.0)
        last = first = UNKNOWN
        if frauds:  # the longest window had a known fraud: find its newest and oldest bucket
            marked = [k for k in range(i, j) if self.frauds[k]]
            last = (at_ms - self.buckets[marked[-1]] * size) / DAY_MS
            first = (at_ms - self.buckets[marked[0]] * size) / DAY_MS
        c1, c7, c30 = counts
        s1, s7, s30 = shares
        return MerchantSnapshot(c1, c7, c30, s1, s7, s30, last, first)

    # --- serialised form ------------------------------------------------------------------
    ROW_FIELDS = ("buckets", "txs", "frauds", "newest")

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "txs": list(self.txs),
            "frauds": list(self.frauds),
            "newest": self.newest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MerchantState:
        state = cls()
        state.buckets = [int(v) for v in data["buckets"]]
        state.txs = [int(v) for v in data["txs"]]
        state.frauds = [int(v) for v in data["frauds"]]
        state.newest = None if data.get("newest") is None else int(data["newest"])
        if not len(state.buckets) == len(state.txs) == len(state.frauds):
            raise ValueError("corrupt merchant state: column lengths differ")
        return state

    def to_row(self) -> tuple[Any, ...]:
        data = self.to_dict()
        return tuple(data[name] for name in self.ROW_FIELDS)

    @classmethod
    def from_row(cls, row: Any) -> MerchantState:
        values = (
            row.asDict() if hasattr(row, "asDict") else dict(zip(cls.ROW_FIELDS, row, strict=True))
        )
        return cls.from_dict(values)


def merchant_state_spark_schema() -> Any:
    """Spark ``StructType`` of :meth:`MerchantState.to_row` (imports pyspark lazily)."""
    from pyspark.sql import types as T

    longs = T.ArrayType(T.LongType(), containsNull=False)
    return T.StructType(
        [
            T.StructField("buckets", longs, nullable=False),
            T.StructField("txs", longs, nullable=False),
            T.StructField("frauds", longs, nullable=False),
            T.StructField("newest", T.LongType(), nullable=True),
        ]
    )
