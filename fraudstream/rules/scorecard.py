"""A rules file measured on labelled transactions: what ``fraudstream rules test`` prints and
what the demo report and the dashboard plot.

:func:`measure` rebuilds the decision step's columns from the rows' features exactly as the
stream does (:func:`processor.decisions.inputs.decision_inputs`), replays the review budget
batch by batch, and hands everything to :func:`processor.decisions.backtest.evaluate`. The
:class:`Scorecard` adds what a reader needs to judge the numbers: the thresholds applied, the
block precision the model promised on its validation data and whether the labels bear it out,
and the model's own precision-recall curve, on which a good policy's point sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.rules.rows import LabelledRows
from ml_model.training.thresholds import wilson_upper
from processor.decisions import DecisionConfig, decide, with_model_thresholds
from processor.decisions.backtest import (
    AnomalySignal,
    Backtest,
    anomaly_reviews,
    budget_thresholds,
    evaluate,
    labels_of,
)
from processor.decisions.inputs import decision_inputs

CURVE_POINTS = 200
PROMISE_CONFIDENCE = 0.95  # the confidence the block threshold was chosen with on validation


@dataclass(frozen=True)
class ModelThresholds:
    """What a model's manifest says about deciding on its score."""

    version: str
    review: float
    block: float
    block_precision: float | None  # the precision its block threshold reached on validation
    anomaly_threshold: float | None = None  # its anomaly detector's, when it has one
    anomaly_tail: tuple[float, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> ModelThresholds | None:
        found = manifest.get("thresholds")
        if not found:
            return None
        promise = found.get("block_precision")
        anomaly = manifest.get("anomaly") or {}
        return cls(
            version=str(manifest.get("version", "unknown")),
            review=float(found["review"]),
            block=float(found["block"]),
            block_precision=None if promise is None else float(promise),
            anomaly_threshold=float(anomaly["threshold"]) if "threshold" in anomaly else None,
            anomaly_tail=tuple(float(v) for v in anomaly.get("tail", ())),
        )


def model_thresholds(model_dir: str | Path) -> ModelThresholds | None:
    """The thresholds in the manifest of the model in ``model_dir`` (None if it has none)."""
    from ml_model.artifact import read_manifest

    return ModelThresholds.from_manifest(read_manifest(model_dir))


def precision_recall(
    scores: np.ndarray, fraud: np.ndarray, points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """The score's precision-recall curve (one point per distinct threshold, highest first),
    thinned to about ``points`` points evenly spaced in recall."""
    scores = np.asarray(scores, dtype=np.float64)
    fraud = np.asarray(fraud, dtype=bool)
    if not fraud.any():
        return np.empty(0), np.empty(0)
    order = np.argsort(-scores, kind="stable")
    true_positive = np.cumsum(fraud[order])
    last_of_tie = np.r_[np.diff(scores[order]) != 0, True]
    precision = (true_positive / np.arange(1, len(order) + 1))[last_of_tie]
    recall = (true_positive / fraud.sum())[last_of_tie]
    if len(recall) > points:
        keep = np.unique(np.searchsorted(recall, np.linspace(0, 1, points), side="left"))
        keep = keep[keep < len(recall)]
        precision, recall = precision[keep], recall[keep]
    return precision, recall


@dataclass(frozen=True)
class Scorecard:
    """A backtest with its context (see module doc)."""

    backtest: Backtest
    rules_file: str
    review: float
    block: float
    thresholds_from: str  # the model version whose thresholds applied, or "rules file"
    block_promise: float | None
    source: str
    span_ms: tuple[int, int] | None
    model_versions: tuple[str, ...]
    curve_precision: np.ndarray
    curve_recall: np.ndarray

    @property
    def block_precision_upper(self) -> float | None:
        """The highest block precision the labelled blocks allow with
        :data:`PROMISE_CONFIDENCE` (one-sided Wilson bound; None: no labelled block)."""
        blocks = self.backtest.policy.blocks
        if blocks.precision is None:
            return None
        bound = wilson_upper(
            np.array([blocks.precision]), np.array([blocks.labelled]), PROMISE_CONFIDENCE
        )
        return float(bound[0])

    @property
    def block_promise_verdict(self) -> str | None:
        """``holds`` (the labelled blocks are at least as precise as promised), ``unproven``
        (less precise, but by no more than their number explains), ``broken`` (the promise is
        above :attr:`block_precision_upper`), or None (no promise or no labelled block).

        The promise was chosen with 95 % confidence on validation, so it is judged with the
        same: 230 fraud among 257 blocks (89.5 %, at most 92.2 %) cannot show that a 90 % promise
        fails; 17,900 among 20,000 (89.5 %, at most 89.9 %) can.
        """
        measured, upper = self.backtest.policy.blocks.precision, self.block_precision_upper
        if self.block_promise is None or measured is None or upper is None:
            return None
        if measured >= self.block_promise:
            return "holds"
        return "unproven" if upper >= self.block_promise else "broken"

    @property
    def block_promise_holds(self) -> bool | None:
        """False only when the labels show the promise broken (see
        :attr:`block_promise_verdict`)."""
        verdict = self.block_promise_verdict
        return None if verdict is None else verdict != "broken"

    def curve_precision_at(self, recall: float) -> float | None:
        """The model's best precision at this recall or more (the frontier under the point)."""
        reached = self.curve_precision[self.curve_recall >= recall]
        return float(reached.max()) if len(reached) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rules_file": self.rules_file,
            "source": self.source,
            "first_event_ms": None if self.span_ms is None else self.span_ms[0],
            "last_event_ms": None if self.span_ms is None else self.span_ms[1],
            "scored_by": list(self.model_versions),
            "thresholds": {
                "review": self.review,
                "block": self.block,
                "from": self.thresholds_from,
            },
            "block_promise": self.block_promise,
            "block_promise_holds": self.block_promise_holds,
            "block_promise_verdict": self.block_promise_verdict,
            "block_precision_upper": self.block_precision_upper,
            **self.backtest.to_json(),
            "model_curve": {
                "precision": [round(float(v), 5) for v in self.curve_precision],
                "recall": [round(float(v), 5) for v in self.curve_recall],
            },
        }


def anomaly_signal(rows: LabelledRows, model: ModelThresholds | None) -> AnomalySignal | None:
    """The anomaly signal the stream applied to ``rows``: when they carry anomaly scores (the
    signal was on) and the model has a detector threshold."""
    if model is None or model.anomaly_threshold is None or rows.anomaly is None:
        return None
    if np.isnan(rows.anomaly).all():
        return None
    return AnomalySignal(rows.anomaly, model.anomaly_threshold, model.anomaly_tail)


def measure(
    rows: LabelledRows,
    config: DecisionConfig,
    *,
    rules_file: str,
    model: ModelThresholds | None,
) -> Scorecard:
    """Measure ``config`` on ``rows`` with the model's thresholds when the rules take them
    from the model (``score.from_model``) and a model is given, and the anomaly signal's
    reviews when the rows have anomaly scores and the model a detector."""
    applied = config
    source = "rules file"
    if model is not None and config.score.from_model:
        applied = with_model_thresholds(config, model.review, model.block)
        source = f"model {model.version}"
    inputs = decision_inputs(rows.matrix, rows.score)
    signal = anomaly_signal(rows, model)
    review_at = budget_thresholds(
        inputs, applied, rows.event_ms, rows.batch, anomaly=signal is not None
    )
    anomalous = None
    if signal is not None:  # the stream's anomaly signal, after the rest of the policy
        before = decide(inputs, applied, review_at=review_at).severity
        anomalous = anomaly_reviews(before, signal, applied, rows.event_ms, rows.batch)
    result = evaluate(inputs, rows.is_fraud, applied, review_at=review_at, anomalous=anomalous)
    labelled, fraud = labels_of(rows.is_fraud)
    scored = labelled & ~np.isnan(rows.score)
    precision, recall = precision_recall(rows.score[scored], fraud[scored])
    return Scorecard(
        backtest=result,
        rules_file=rules_file,
        review=applied.score.review,
        block=applied.score.block,
        thresholds_from=source,
        block_promise=None if model is None else model.block_precision,
        source=rows.source,
        span_ms=rows.span_ms,
        model_versions=rows.model_versions,
        curve_precision=precision,
        curve_recall=recall,
    )
