"""The model's health followed over a run: when monitoring got warm, when a drift alarm would
fire and when recall fell, as the alert rules would see them.

The demo feeds it the live figures once a second and prints what changed, so a drift injected
mid-run is seen as an operator would see it; the drift benchmark uses the same rule arithmetic.
Times are seconds on the caller's clock (the demo: from the start of production).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fraudstream.live.model_health import DRIFT_PSI, RECALL_RATIO

SCORE_DRIFT_FOR_S = 60.0
"""``FraudstreamScoreDrift``'s ``for:`` (infrastructure/monitoring/alert-rules.yaml)."""


def first_at_or_after(
    series: Sequence[tuple[float, float]], start: float, test: Callable[[float], bool]
) -> float | None:
    """Time of the first sample at or after ``start`` whose value passes ``test``."""
    return next((t for t, v in series if t >= start and test(v)), None)


def firing_time(
    series: Sequence[tuple[float, float]], start: float, threshold: float, hold_s: float
) -> float | None:
    """When a Prometheus rule ``value > threshold`` with ``for: hold_s`` would fire, evaluated
    at the samples: the first sample at which the value has been above the threshold at every
    sample since one at least ``hold_s`` earlier (and at or after ``start``)."""
    since: float | None = None
    for t, value in series:
        if t < start:
            continue
        if value > threshold:
            since = t if since is None else since
            if t - since >= hold_s:
                return t
        else:
            since = None
    return None


@dataclass
class ModelWatch:
    """Model health samples (``ModelHealth.to_json()``) in time order, and what they mean."""

    psi: list[tuple[float, float]] = field(default_factory=list)  # -1 while cold, as gated
    recall: list[tuple[float, float]] = field(default_factory=list)
    warm_from: float | None = None
    validation_recall: float | None = None
    history_days: float | None = None
    _drifting: bool = False
    _recall_low: bool = False

    def observe(self, t: float, health: Mapping[str, Any] | None) -> list[str]:
        """Record the figures at ``t``; return what changed, in words (empty when nothing)."""
        if not health or health.get("score_psi") is None:
            return []
        news: list[str] = []
        warm = bool(health.get("warm", True))
        psi = float(health["score_psi"])
        self.history_days = health.get("history_days", self.history_days)
        validation = (health.get("validation") or {}).get("recall")
        self.validation_recall = validation if validation else self.validation_recall
        if warm and self.warm_from is None:
            self.warm_from = t
            state = health.get("state_days")
            covered = "" if state is None else f" ({state:.1f} days of card history)"
            news.append(f"monitoring warm{covered}: drift alarms armed, score PSI {psi:.3f}")
        self.psi.append((t, psi if warm else -1.0))
        recall = health.get("recall")
        if recall is not None:
            self.recall.append((t, float(recall)))
        drifting = warm and psi > DRIFT_PSI
        if drifting != self._drifting:
            self._drifting = drifting
            news.append(
                f"score drifted from training (PSI {psi:.3f} > {DRIFT_PSI:g})"
                if drifting
                else f"score back within the baseline (PSI {psi:.3f})"
            )
        low = (
            recall is not None
            and bool(self.validation_recall)
            and recall < RECALL_RATIO * (self.validation_recall or 0.0)
        )
        if low != self._recall_low and recall is not None:
            self._recall_low = low
            news.append(
                f"recall {recall:.0%} on the labels so far, against {self.validation_recall:.0%}"
                f" on validation{'' if low else ' (recovered)'}"
            )
        return news

    def report(self, drift_start: float | None) -> dict[str, Any]:
        """What the run showed; with ``drift_start`` (the drift's first second), in seconds
        from it: when the score PSI crossed the threshold, when the rule would fire and when
        recall fell below its share of the validation recall."""
        warm = [v for _, v in self.psi if v >= 0]
        found: dict[str, Any] = {
            "monitoring warm after (s)": _round(self.warm_from),
            "baseline history (days)": _round(self.history_days),
            "score PSI while warm": _span(warm),
        }
        fired = firing_time(self.psi, 0.0, DRIFT_PSI, SCORE_DRIFT_FOR_S)
        if drift_start is None:
            found["score-PSI alarm fired"] = _round(fired)
            return found
        before = [v for t, v in self.psi if t < drift_start and v >= 0]
        found["score PSI while warm, before the drift"] = _span(before)
        found["score-PSI alarm before the drift"] = fired is not None and fired < drift_start
        crossing = first_at_or_after(self.psi, drift_start, lambda v: v > DRIFT_PSI)
        rule = firing_time(self.psi, drift_start, DRIFT_PSI, SCORE_DRIFT_FOR_S)
        found["score PSI above 0.25 after the drift's start (s)"] = _since(crossing, drift_start)
        found["score-PSI alarm (1 min above) after the drift's start (s)"] = _since(
            rule, drift_start
        )
        if self.validation_recall:
            share = RECALL_RATIO * self.validation_recall
            low = first_at_or_after(self.recall, drift_start, lambda v: v < share)
            found["recall below 80 % of validation after the drift's start (s)"] = _since(
                low, drift_start
            )
            found["recall before / after the drift"] = (
                f"{_span([v for t, v in self.recall if t < drift_start])} / "
                f"{_span([v for t, v in self.recall if t >= drift_start])}"
                f" (validation {self.validation_recall:.3f})"
            )
        return found


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _since(t: float | None, start: float) -> float | None:
    return None if t is None else round(t - start, 1)


def _span(values: Sequence[float]) -> str | None:
    return f"{min(values):.3f}-{max(values):.3f}" if values else None
