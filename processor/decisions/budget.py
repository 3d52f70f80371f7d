"""The review budget: a review threshold that holds the queue's size whatever the fraud rate.

The model's review threshold is chosen on validation data so that a set share of transactions
(the analysts' budget) is reviewed. Live traffic differs: more fraud, or cards with little
history, put far more transactions above that fixed score (measured in issue 17: 2.6 times the
budget). So the threshold is also taken from the recent traffic itself: for each event hour,
the lowest score such that the review candidates at or above it (the rows the score alone
would review) are at most ``review_share`` of the transactions of that hour and the
``hours - 1`` before it. A row is reviewed by its score only at or above both thresholds; the
highest-scoring candidates are always the ones kept, and scores from ``always_review_from``
(more likely fraud than not, by default) or at the block threshold are never rationed.

:class:`HourlyScores` is the state behind it: per event hour, the number of transactions and a
histogram of the candidates' scores (on the logit scale, where fraud scores spread out). It
only counts, so the thresholds do not depend on how the rows were cut into micro-batches within
an hour, and restoring it is replaying the same rows (the sink logs each row's score and
whether it was a candidate). Work is per distinct event hour of a batch, never per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from processor.decisions import columns as C
from processor.decisions.config import BudgetPolicy, DecisionConfig
from processor.decisions.engine import SEVERITY, Columns, score_severity

HOUR_MS = 3_600_000
BINS = 400
LOGIT_LOW, LOGIT_HIGH = -10.0, 10.0
_STEP = (LOGIT_HIGH - LOGIT_LOW) / BINS
KEEP_HOURS = 48
"""Event hours of history kept; rows older than the newest hour minus this are not counted."""


_EDGES = 1.0 / (1.0 + np.exp(-(LOGIT_LOW + np.arange(1, BINS) * _STEP)))
"""Lowest score of bins 1 .. BINS-1 (bin 0 starts at 0), evenly spaced in log-odds."""


def score_bins(scores: np.ndarray) -> np.ndarray:
    """The histogram bin of each score: bin ``k`` holds ``bin_floor(k) <= score <
    bin_floor(k + 1)`` (NaN falls in the last bin; callers never count a NaN score)."""
    return np.searchsorted(_EDGES, np.asarray(scores, dtype=np.float64), side="right")


def bin_floor(index: int) -> float:
    """The lowest score of bin ``index`` (0 for the first bin; just above 1 past the last)."""
    if index <= 0:
        return 0.0
    if index >= BINS:
        return float(np.nextafter(1.0, 2.0))
    return float(_EDGES[index - 1])


def threshold(candidates: np.ndarray, total: int, share: float) -> float:
    """The lowest bin floor at which the candidates at or above it are at most ``share`` of
    ``total`` (``candidates``: the histogram of their scores)."""
    allowed = np.floor(share * total)
    kept = int(np.searchsorted(np.cumsum(candidates[::-1]), allowed, side="right"))
    return bin_floor(BINS - kept)


def review_candidates(batch: Columns, config: DecisionConfig) -> np.ndarray:
    """Rows the budget rations: those the score alone would review, below the score from
    which it always acts (:meth:`DecisionConfig.unrationed_score`: a row at the block score
    that may not be blocked, or one more likely fraud than not, is always reviewed)."""
    score = np.asarray(batch[config.column(C.SCORE)], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        doubtful = score < config.unrationed_score()
    return (score_severity(batch, config) == SEVERITY[C.REVIEW]) & doubtful


@dataclass
class HourlyScores:
    """Per event hour: transactions seen and the review candidates' score histogram."""

    keep_hours: int = KEEP_HOURS
    hours: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    totals: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.empty((0, BINS), np.int64))

    def _slot(self, hour: int) -> int | None:
        """Index of ``hour``'s row, made if needed; None when the hour is too old to keep."""
        found = np.flatnonzero(self.hours == hour)
        if len(found):
            return int(found[0])
        newest = int(self.hours.max()) if len(self.hours) else hour
        if hour <= newest - self.keep_hours:
            return None
        self.hours = np.r_[self.hours, hour]
        self.totals = np.r_[self.totals, 0]
        self.counts = np.vstack([self.counts, np.zeros((1, BINS), np.int64)])
        keep = self.hours > max(newest, hour) - self.keep_hours
        self.hours, self.totals = self.hours[keep], self.totals[keep]
        self.counts = self.counts[keep]
        return int(np.flatnonzero(self.hours == hour)[0])

    def step(
        self,
        event_ms: np.ndarray,
        scores: np.ndarray,
        candidate: np.ndarray,
        policy: BudgetPolicy | None = None,
    ) -> np.ndarray | None:
        """Count a batch's rows, hour by hour in time order, and, with a ``policy``, return
        each row's budget threshold (from its hour and the ``policy.hours - 1`` before it,
        this batch's rows of those hours included)."""
        hour = np.asarray(event_ms, dtype=np.int64) // HOUR_MS
        distinct, row_hour = np.unique(hour, return_inverse=True)
        bins = score_bins(scores)
        wanted = np.asarray(candidate, dtype=bool) & ~np.isnan(np.asarray(scores, float))
        cuts = np.zeros(len(distinct), dtype=np.float64)
        for k, value in enumerate(distinct.tolist()):
            rows = row_hour == k
            slot = self._slot(value)
            if slot is not None:
                self.totals[slot] += int(rows.sum())
                self.counts[slot] += np.bincount(bins[rows & wanted], minlength=BINS)
            if policy is not None:
                window = (self.hours > value - policy.hours) & (self.hours <= value)
                total = int(self.totals[window].sum())
                cuts[k] = threshold(self.counts[window].sum(axis=0), total, policy.review_share)
        return None if policy is None else cuts[row_hour]

    # -- saved form ---------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        flat = pa.array(self.counts.ravel(), pa.int64())
        return pa.table(
            {
                "hour": pa.array(self.hours, pa.int64()),
                "transactions": pa.array(self.totals, pa.int64()),
                "candidates": pa.FixedSizeListArray.from_arrays(flat, BINS),
            }
        )

    @classmethod
    def from_arrow(cls, table: pa.Table, keep_hours: int = KEEP_HOURS) -> HourlyScores:
        flat = table.column("candidates").combine_chunks().flatten()
        return cls(  # copies: Arrow's buffers are read-only, the counts are updated in place
            keep_hours,
            np.array(table.column("hour").to_numpy(), dtype=np.int64),
            np.array(table.column("transactions").to_numpy(), dtype=np.int64),
            np.array(flat.to_numpy(), dtype=np.int64).reshape(table.num_rows, BINS),
        )


def replay_cuts(
    event_ms: np.ndarray,
    scores: np.ndarray,
    candidate: np.ndarray,
    batch: np.ndarray,
    policy: BudgetPolicy,
) -> np.ndarray:
    """The budget thresholds the stream would have given rows that arrived in micro-batches
    ``batch`` (any sortable key per row, e.g. the time the batch was processed), batches taken
    in order from an empty state: how a backtest applies the budget to the lake's rows."""
    order = np.argsort(np.asarray(batch), kind="stable")
    keys = np.asarray(batch)[order]
    if not len(keys):
        return np.zeros(0, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    state = HourlyScores()
    out = np.zeros(len(order), dtype=np.float64)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[start:end]
        cuts = state.step(event_ms[rows], scores[rows], candidate[rows], policy)
        assert cuts is not None
        out[rows] = cuts
    return out
