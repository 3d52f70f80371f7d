"""The model-monitoring gauges of one scrape, as the live view shows them: pure logic.

The processor reports per closed monitoring window (``processor.model_monitor``): PSI of the
score and top features, review/block rates beside the review budget, and the label-delayed
precision, recall and average precision of its decisions beside the model's validation
figures. ``-1`` means unknown there; here it becomes None. Until the processor's feature state
covers the history the baseline had (``warm``), PSI measures the cold start: the drift
warnings hold, as the alert rules do, and one warning says how far the warm-up has come.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

PSI = "fraudstream_model_psi"
ALERT_RATE = "fraudstream_model_alert_rate"
BUDGET = "fraudstream_model_review_budget"
PRECISION = "fraudstream_model_precision"
RECALL = "fraudstream_model_recall"
AVERAGE_PRECISION = "fraudstream_model_average_precision"
LABELLED = "fraudstream_model_labelled_decisions"
BASELINE = "fraudstream_model_baseline"
STATE_DAYS = "fraudstream_model_state_days"
WARM = "fraudstream_model_warm"

DRIFT_PSI = 0.25
"""PSI above which a column has drifted (as the alert rules say)."""
RECALL_RATIO = 0.8
"""Recall below this share of the validation recall is falling (as the alert rules say)."""

Gauges = Mapping[str, Mapping[str, float]]


def _known(value: float | None) -> float | None:
    return None if value is None or value < 0 or value != value else value


@dataclass(frozen=True)
class ModelHealth:
    """The last closed window's figures, JSON-ready; ``warnings`` in plain words."""

    score_psi: float | None
    feature_psi: dict[str, float] = field(default_factory=dict)
    review_rate: float | None = None
    block_rate: float | None = None
    review_budget: float | None = None
    precision: float | None = None
    recall: float | None = None
    average_precision: float | None = None
    labelled: int = 0
    validation: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    warm: bool = True
    state_days: float | None = None
    history_days: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def model_health(gauges: Gauges) -> ModelHealth | None:
    """The model's health from a scrape's gauges; None before the first window closed."""
    psi = dict(gauges.get(PSI) or {})
    if not psi:
        return None
    rates = gauges.get(ALERT_RATE) or {}
    validation = {k: v for k, v in (gauges.get(BASELINE) or {}).items() if _known(v) is not None}
    score_psi = _known(psi.pop("score", None))
    budget = _known((gauges.get(BUDGET) or {}).get(""))
    recall = _known((gauges.get(RECALL) or {}).get(""))
    history_days = validation.pop("history_days", None)
    state_days = _known((gauges.get(STATE_DAYS) or {}).get(""))
    warm = (gauges.get(WARM) or {}).get("", 1.0) >= 1  # absent: a processor without the gate
    warnings = []
    if not warm:
        covered = "no" if state_days is None else f"{state_days:.1f}"
        needed = "" if history_days is None else f" of the {history_days:.1f}"
        warnings.append(
            f"warming up: card state covers {covered}{needed} days of history the baseline had;"
            " drift alerts held"
        )
    if warm and score_psi is not None and score_psi > DRIFT_PSI:
        warnings.append(f"score drifted from training (PSI {score_psi:.2f})")
    for name, value in sorted(psi.items(), key=lambda kv: -kv[1]):
        if warm and value > DRIFT_PSI:
            warnings.append(f"{name} drifted from training (PSI {value:.2f})")
    review = _known(rates.get("review"))
    if review is not None and budget and review > 1.5 * budget:
        warnings.append(f"reviews at {review:.1%}, over 1.5 x the {budget:.1%} budget")
    promised = validation.get("recall")
    if recall is not None and promised and recall < RECALL_RATIO * promised:
        warnings.append(f"recall {recall:.0%} against {promised:.0%} on validation")
    return ModelHealth(
        score_psi=score_psi,
        feature_psi={k: v for k, v in psi.items() if _known(v) is not None},
        review_rate=review,
        block_rate=_known(rates.get("block")),
        review_budget=budget,
        precision=_known((gauges.get(PRECISION) or {}).get("")),
        recall=recall,
        average_precision=_known((gauges.get(AVERAGE_PRECISION) or {}).get("")),
        labelled=round((gauges.get(LABELLED) or {}).get("", 0.0)),
        validation=validation,
        warnings=warnings,
        warm=warm,
        state_days=state_days,
        history_days=history_days,
    )
