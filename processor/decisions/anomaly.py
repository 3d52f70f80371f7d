"""The anomaly signal's decisions: approved rows that look unlike the training traffic.

A fraud pattern no label has shown yet scores low with the model, so the model approves it. The
anomaly detector shipped with the model (:mod:`ml_model.anomaly`) scores how unusual each row
is; a row every other signal approves, with an anomaly score at or above the detector's
threshold (fixed at training: the score a set share of the training rows reach), is a
*candidate*. Candidates are reviewed with the reason ``anomalous``, the most unusual first,
within their part of the review budget (:meth:`~processor.decisions.config.BudgetPolicy.split`,
counted per event hour like the score's part, :mod:`processor.decisions.budget`), so the
analysts' queue does not grow. Pure logic over columns.

The budget's histogram bins are even in log-odds, fine near 0 and 1 and ~0.01 wide around 0.7,
where anomaly scores crowd: one bin could hold more rows than the budget, which then keeps none
of them. So the budget counts each candidate's :func:`budget_rank`, its score placed among the
training rows above the threshold (quantiles shipped with the detector) and spread over the
bins' whole log-odds range: a bin holds ~1/400 of the candidates, so the budget rations
finely until more than ~400 times its part of the traffic (60 % at the default 0.15 %) is
above the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from processor.decisions import columns as C
from processor.decisions.budget import LOGIT_HIGH, LOGIT_LOW
from processor.decisions.engine import SEVERITY, Decided

ANOMALOUS = "anomalous"


def anomaly_candidates(severity: np.ndarray, anomaly: np.ndarray, threshold: float) -> np.ndarray:
    """Rows approved by the score, the budget and the rules whose anomaly score is at or above
    ``threshold`` (NaN: never)."""
    with np.errstate(invalid="ignore"):
        unusual = np.asarray(anomaly, dtype=np.float64) >= threshold
    return (np.asarray(severity) == SEVERITY[C.APPROVE]) & unusual


def budget_rank(anomaly: np.ndarray, threshold: float, tail: Sequence[float] = ()) -> np.ndarray:
    """What the anomaly budget counts and cuts: in (0, 1), rising with the anomaly score.
    ``tail``: the training scores' quantiles from ``threshold`` up; the training rows above
    the threshold then spread evenly over 95 % of the bins' log-odds range, scores above
    them over the rest (without ``tail``: ``[threshold, 1]`` evenly). NaN stays NaN."""
    points = np.asarray([threshold, *tail[1:]], np.float64)
    places = np.linspace(0.0, 0.95, len(points)) if len(points) > 1 else np.zeros(1)
    points = np.r_[points, max(1.0, float(points[-1]) + 1e-9)]  # scores past the tail, to 1
    places = np.r_[places, 1.0]
    values = np.asarray(anomaly, np.float64)
    above = np.interp(values, points, places)
    above[np.isnan(values)] = np.nan
    return np.asarray(1.0 / (1.0 + np.exp(-(LOGIT_LOW + (LOGIT_HIGH - LOGIT_LOW) * above))))


def flagged(candidates: np.ndarray, rank: np.ndarray, cut: np.ndarray | None) -> np.ndarray:
    """Candidates kept by the anomaly budget: :func:`budget_rank` at or above the row's budget
    threshold ``cut`` (None: no budget, every candidate)."""
    if cut is None:
        return np.asarray(candidates, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(candidates, dtype=bool) & (np.asarray(rank, dtype=np.float64) >= cut)


def review_anomalous(decided: Decided, rows: np.ndarray) -> Decided:
    """``decided`` with ``rows`` (approved ones) raised to review and ``anomalous`` appended to
    their reasons, the list column rebuilt in one pass."""
    rows = np.asarray(rows, dtype=bool)
    if not rows.any():
        return decided
    severity = np.where(rows, SEVERITY[C.REVIEW], decided.severity).astype(np.int8)
    reasons = decided.reasons
    old = np.asarray(reasons.offsets.to_numpy(), dtype=np.int64)
    lengths = np.diff(old)
    added = rows.astype(np.int64)
    offsets = np.r_[0, np.cumsum(lengths + added)]
    values = reasons.flatten()
    index = np.full(int(offsets[-1]), len(values), dtype=np.int64)  # default: the new reason
    shift = np.repeat(np.cumsum(added) - added, lengths)  # new reasons before each old value
    index[np.arange(len(values)) + shift] = np.arange(len(values))
    pool = pa.concat_arrays([values, pa.array([ANOMALOUS], values.type)])
    rebuilt = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pool.take(pa.array(index, pa.int64()))
    )
    return Decided(severity, rebuilt)
