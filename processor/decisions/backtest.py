"""Rule backtests: what a rules file decides on labelled transactions, rule by rule.

Pure logic over columns. The input is what the stream's decision step reads (the columns of
:func:`processor.decisions.inputs.decision_inputs`, rebuilt from the lake's features and
scores), the labels (``NaN`` where none has arrived) and, for the review budget, each row's
event time and micro-batch. The same functions as the stream decide (:func:`decide`,
:func:`score_severity`, :func:`fired`), so a backtest cannot drift from production.

Two policies are measured: the **model alone** (the score policy, its block conditions and the
budget) and the **policy** (that plus every enabled rule, and the anomaly signal's reviews when
the rows have anomaly scores: :func:`anomaly_reviews`). Per rule: hits, hit rate, precision
and recall of its hits, and what it adds to the model alone: the alerts it adds (flagged by
the rule and not by the model alone), their precision, the recall they add and their share of
the review budget. A rule that adds alerts but no recall costs analysts' time for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from processor.decisions import columns as C
from processor.decisions.anomaly import anomaly_candidates, budget_rank, flagged
from processor.decisions.budget import replay_cuts, review_candidates
from processor.decisions.config import DecisionConfig
from processor.decisions.engine import SEVERITY, decide, fired, score_severity

REVIEW, BLOCK = SEVERITY[C.REVIEW], SEVERITY[C.BLOCK]


def ratio(numerator: int, denominator: int | float) -> float | None:
    """``numerator / denominator``, None when the denominator is 0 (nothing to measure)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Counts:
    """Some rows: how many, how many have a label, how many of those are fraud."""

    rows: int = 0
    labelled: int = 0
    frauds: int = 0

    @property
    def precision(self) -> float | None:
        return ratio(self.frauds, self.labelled)

    @classmethod
    def of(cls, mask: np.ndarray, labelled: np.ndarray, fraud: np.ndarray) -> Counts:
        return cls(int(mask.sum()), int((mask & labelled).sum()), int((mask & fraud).sum()))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision}


@dataclass(frozen=True)
class Totals:
    """The evaluated transactions: the denominators of every rate."""

    rows: int
    labelled: int
    frauds: int
    review_share: float | None  # the budget, when the rules file has one

    @property
    def fraud_share(self) -> float | None:
        return ratio(self.frauds, self.labelled)

    @property
    def budget_rows(self) -> float | None:
        """Reviews the budget allows over these rows."""
        return None if self.review_share is None else self.review_share * self.rows


@dataclass(frozen=True)
class PolicyResult:
    """One policy's decisions on the evaluated rows."""

    name: str
    reviews: Counts
    blocks: Counts
    totals: Totals
    held: Counts = Counts()  # reviews the budget does not ration (score at unrationed_score)

    @property
    def flagged(self) -> Counts:
        return Counts(
            self.reviews.rows + self.blocks.rows,
            self.reviews.labelled + self.blocks.labelled,
            self.reviews.frauds + self.blocks.frauds,
        )

    @property
    def recall(self) -> float | None:
        return ratio(self.flagged.frauds, self.totals.frauds)

    @property
    def flagged_share(self) -> float | None:
        return ratio(self.flagged.rows, self.totals.rows)

    @property
    def budget_use(self) -> float | None:
        """Rationed reviews as a share of what the budget allows (1.0 = exactly the budget);
        reviews from the unrationed score on (``held``) are outside it."""
        allowed = self.totals.budget_rows
        return None if allowed is None else ratio(self.reviews.rows - self.held.rows, allowed)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flagged": self.flagged.to_json(),
            "reviews": self.reviews.to_json(),
            "blocks": self.blocks.to_json(),
            "outside_budget": self.held.to_json(),
            "precision": self.flagged.precision,
            "recall": self.recall,
            "flagged_share": self.flagged_share,
            "review_share": ratio(self.reviews.rows, self.totals.rows),
            "block_precision": self.blocks.precision,
            "budget_use": self.budget_use,
        }


@dataclass(frozen=True)
class RuleResult:
    """One rule: its hits and what it adds to the model alone."""

    name: str
    action: str
    enabled: bool  # a disabled rule is measured as if it were on, alone with the model
    hits: Counts
    added: Counts  # flagged by this rule, not by the model alone
    upgraded: Counts  # blocked by this rule where the model alone reviews or approves
    totals: Totals

    @property
    def hit_rate(self) -> float | None:
        return ratio(self.hits.rows, self.totals.rows)

    @property
    def recall(self) -> float | None:
        return ratio(self.hits.frauds, self.totals.frauds)

    @property
    def added_recall(self) -> float | None:
        return ratio(self.added.frauds, self.totals.frauds)

    @property
    def budget_use(self) -> float | None:
        """Alerts it adds as a share of the review budget."""
        allowed = self.totals.budget_rows
        return None if allowed is None else ratio(self.added.rows, allowed)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "enabled": self.enabled,
            "hits": self.hits.to_json(),
            "hit_rate": self.hit_rate,
            "precision": self.hits.precision,
            "recall": self.recall,
            "added_alerts": self.added.to_json(),
            "added_recall": self.added_recall,
            "added_per_1000": ratio(1000 * self.added.rows, self.totals.rows),
            "budget_use": self.budget_use,
            "upgraded_to_block": self.upgraded.to_json(),
        }


@dataclass(frozen=True)
class Backtest:
    """A rules file measured on labelled transactions."""

    totals: Totals
    model: PolicyResult
    policy: PolicyResult
    rules: list[RuleResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "transactions": totals.rows,
            "labelled": totals.labelled,
            "frauds": totals.frauds,
            "fraud_share": totals.fraud_share,
            "review_budget": totals.review_share,
            "model_alone": self.model.to_json(),
            "policy": self.policy.to_json(),
            "rules": [rule.to_json() for rule in self.rules],
        }


def labels_of(is_fraud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, fraud) masks from labels given as floats (NaN: no label yet) or bools."""
    values = np.asarray(is_fraud, dtype=np.float64)
    labelled = ~np.isnan(values)
    return labelled, labelled & (np.nan_to_num(values) > 0.5)


@dataclass(frozen=True)
class AnomalySignal:
    """What replaying the stream's anomaly signal needs: each row's anomaly score (the lake's
    ``anomaly_score``) and the model's detector threshold and training tail (its manifest)."""

    scores: np.ndarray
    threshold: float
    tail: tuple[float, ...] = ()


def budget_thresholds(
    inputs: Mapping[str, np.ndarray],
    config: DecisionConfig,
    event_ms: np.ndarray,
    batch: np.ndarray,
    *,
    anomaly: bool = False,
) -> np.ndarray | None:
    """The review budget's per-row thresholds as the stream gave them: rows replayed batch by
    batch (``batch``: the micro-batch of each row) through the budget's state, the score's
    part of it when the anomaly signal was on; None without a budget."""
    if config.budget is None:
        return None
    score = np.asarray(inputs[config.column(C.SCORE)], dtype=np.float64)
    candidate = review_candidates(inputs, config)
    policy, _ = config.budget.split(anomaly)
    return replay_cuts(event_ms, score, candidate, batch, policy)


def anomaly_reviews(
    severity: np.ndarray,
    signal: AnomalySignal,
    config: DecisionConfig,
    event_ms: np.ndarray,
    batch: np.ndarray,
) -> np.ndarray:
    """Rows the stream's anomaly signal reviewed, given the policy's decisions before it:
    candidates replayed batch by batch through the budget's anomaly part."""
    candidates = anomaly_candidates(severity, signal.scores, signal.threshold)
    if config.budget is None:
        return candidates
    _, part = config.budget.split(True)
    assert part is not None
    rank = budget_rank(signal.scores, signal.threshold, signal.tail)
    return flagged(candidates, rank, replay_cuts(event_ms, rank, candidates, batch, part))


def evaluate(
    inputs: Mapping[str, np.ndarray],
    is_fraud: np.ndarray,
    config: DecisionConfig,
    *,
    review_at: np.ndarray | None = None,
    anomalous: np.ndarray | None = None,
) -> Backtest:
    """Measure the model alone, the whole policy (the enabled rules) and each rule of the file,
    disabled ones too (each alone with the model, so a rule can be judged before it is
    switched on; one whose columns ``inputs`` lacks is left out). ``review_at``: the budget's
    per-row thresholds (:func:`budget_thresholds`); ``anomalous``: the rows the anomaly
    signal reviews (:func:`anomaly_reviews`), part of the policy."""
    labelled, fraud = labels_of(is_fraud)
    totals = Totals(
        rows=len(labelled),
        labelled=int(labelled.sum()),
        frauds=int(fraud.sum()),
        review_share=None if config.budget is None else config.budget.review_share,
    )
    alone = score_severity(inputs, config, review_at)
    whole = decide(inputs, config, review_at=review_at).severity
    if anomalous is not None:
        whole = np.where(anomalous & (whole < REVIEW), REVIEW, whole)
    with np.errstate(invalid="ignore"):
        at_block = np.asarray(inputs[config.column(C.SCORE)], dtype=np.float64) >= (
            config.unrationed_score()
        )

    def result(name: str, severity: np.ndarray) -> PolicyResult:
        return PolicyResult(
            name,
            Counts.of(severity == REVIEW, labelled, fraud),
            Counts.of(severity == BLOCK, labelled, fraud),
            totals,
            Counts.of((severity == REVIEW) & at_block, labelled, fraud),
        )

    present = set(inputs)
    measured = [
        rule
        for rule in config.rules
        if all(config.column(c) in present for cmp in rule.all for c in cmp.columns())
    ]
    hits = fired(inputs, config, measured)
    rules = []
    for k, rule in enumerate(measured):
        mask = hits[:, k]
        upgraded = mask & (alone < BLOCK) if rule.action == C.BLOCK else np.zeros_like(mask)
        rules.append(
            RuleResult(
                rule.name,
                rule.action,
                rule.enabled,
                Counts.of(mask, labelled, fraud),
                Counts.of(mask & (alone < REVIEW), labelled, fraud),
                Counts.of(upgraded, labelled, fraud),
                totals,
            )
        )
    return Backtest(totals, result("model alone", alone), result("policy", whole), rules)
