"""The anomaly signal's decisions: approved rows that look unlike the training traffic.

A fraud pattern no label has shown yet scores low with the model, so the model approves it. The
anomaly detector shipped with the model (:mod:`ml_model.anomaly`) scores how unusual each row
is; a row every other signal approves, with an anomaly score at or above the detector's
threshold (fixed at training: the score a set share of the training rows reach), is a
*candidate*. Candidates are reviewed with the reason ``anomalous``, the most unusual first,
within their part of the review budget (:meth:`~processor.decisions.config.BudgetPolicy.split`,
counted per event hour like the score's part, :mod:`processor.decisions.budget`), so the
analysts' queue does not grow. Pure logic over columns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from processor.decisions import columns as C
from processor.decisions.engine import SEVERITY, Decided

ANOMALOUS = "anomalous"


def anomaly_candidates(severity: np.ndarray, anomaly: np.ndarray, threshold: float) -> np.ndarray:
    """Rows approved by the score, the budget and the rules whose anomaly score is at or above
    ``threshold`` (NaN: never)."""
    with np.errstate(invalid="ignore"):
        unusual = np.asarray(anomaly, dtype=np.float64) >= threshold
    return (np.asarray(severity) == SEVERITY[C.APPROVE]) & unusual


def flagged(candidates: np.ndarray, anomaly: np.ndarray, cut: np.ndarray | None) -> np.ndarray:
    """Candidates kept by the anomaly budget: anomaly score at or above the row's budget
    threshold ``cut`` (None: no budget, every candidate)."""
    if cut is None:
        return np.asarray(candidates, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(candidates, dtype=bool) & (np.asarray(anomaly, dtype=np.float64) >= cut)


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
