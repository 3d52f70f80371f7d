"""Review and block thresholds, chosen on the validation set by a written-down rule.

Rule (also in ``docs/model.md`` and every manifest):

* **block**: the lowest score at which at least ``block_precision`` (default 90 %) of the
  validation transactions scoring at or above it are fraud *with ``confidence``* (default 95 %:
  the Wilson lower bound of their precision reaches it), among thresholds that flag at least
  ``min_block_alerts`` transactions. Automatic blocks must be nearly always right, and a
  threshold picked exactly where the validation precision touches 90 % keeps that promise on
  new data only half the time (measured: 89.1 % on a week of another generator population).
  If no threshold reaches that precision, nothing is blocked automatically (block = just
  above 1).
* **review**: the analysts' budget: the score such that ``alert_rate`` (default 0.5 %) of the
  validation transactions fall between it and the block threshold (the review queue), so
  analysts see a predictable volume of the cases just below automatic blocking.

Decisions: ``score >= block`` -> block, else ``score >= review`` -> review, else approve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from ml_model.training.metrics import precision_recall_curve

NEVER = math.nextafter(1.0, 2.0)
RULE = (
    "block = lowest validation score whose alerts are >= {block_precision:.0%} fraud"
    "{confidence} (at least {min_block_alerts} alerts; none -> never block); review = score "
    "putting {alert_rate:.2%} of validation transactions between review and block"
)


@dataclass(frozen=True)
class Thresholds:
    review: float
    block: float
    rule: str
    alert_rate: float
    block_precision: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        return cls(
            review=float(data["review"]),
            block=float(data["block"]),
            rule=str(data.get("rule", "")),
            alert_rate=float(data.get("alert_rate", math.nan)),
            block_precision=float(data.get("block_precision", math.nan)),
        )


def wilson_lower(precision: np.ndarray, alerts: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Wilson lower bound of a precision measured on ``alerts`` transactions."""
    return _wilson(precision, alerts, confidence, -1.0)


def wilson_upper(precision: np.ndarray, alerts: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Wilson upper bound: below it lies the true precision with ``confidence``, so a
    promise above it is broken beyond what the sample's size can explain."""
    return _wilson(precision, alerts, confidence, 1.0)


def _wilson(
    precision: np.ndarray, alerts: np.ndarray, confidence: float, side: float
) -> np.ndarray:
    z = NormalDist().inv_cdf(confidence)
    n = np.maximum(np.asarray(alerts, dtype=np.float64), 1.0)
    p = np.asarray(precision, dtype=np.float64)
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    bound: np.ndarray = (centre + side * spread) / (1 + z * z / n)
    return bound


def choose_thresholds(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    alert_rate: float = 0.005,
    block_precision: float = 0.9,
    min_block_alerts: int = 10,
    confidence: float | None = 0.95,
) -> Thresholds:
    """Thresholds by the rule in the module doc; ``confidence=None`` takes the validation
    precision as it is (no margin)."""
    if not 0 < alert_rate < 1 or not 0 < block_precision <= 1:
        raise ValueError("alert_rate must be in (0, 1) and block_precision in (0, 1]")
    if confidence is not None and not 0.5 <= confidence < 1:
        raise ValueError("confidence must be in [0.5, 1)")
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        raise ValueError("no validation scores to choose thresholds from")
    precision, _, cut = precision_recall_curve(labels, s)
    alerts = _alerts(s, cut)
    measured = precision if confidence is None else wilson_lower(precision, alerts, confidence)
    good = np.flatnonzero((measured >= block_precision) & (alerts >= min_block_alerts))
    block = float(cut[good[-1]]) if len(good) else NEVER
    k = max(1, math.ceil(alert_rate * len(s)))
    below = np.sort(s[s < block])[::-1]
    review = float(below[min(k, len(below)) - 1]) if len(below) else block
    rule = RULE.format(
        block_precision=block_precision,
        confidence="" if confidence is None else f" with {confidence:.0%} confidence",
        min_block_alerts=min_block_alerts,
        alert_rate=alert_rate,
    )
    return Thresholds(review, block, rule, alert_rate, block_precision)


def _alerts(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """How many scores are >= each cut (cuts descending)."""
    ascending = np.sort(scores)
    return len(scores) - np.searchsorted(ascending, cuts, side="left")


def decide(scores: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """``approve`` / ``review`` / ``block`` per score."""
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(len(s), "approve", dtype=object)
    out[s >= thresholds.review] = "review"
    out[s >= thresholds.block] = "block"
    return out
