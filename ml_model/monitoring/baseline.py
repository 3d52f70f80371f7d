"""The training baseline a model's manifest records, for drift monitoring in the stream.

At training time the validation rows (the most recent, out-of-sample slice) give the score's
distribution and the distributions of the model's most important features (by total gain),
each as quantile bins: interior edges plus the share of the baseline rows in each bin (the last
bin counts NaN). Features with mass points (``-1`` for unknown, zero counts) yield fewer
distinct edges; the shares are counted with the final edges, so they stay exact.

The shares are also kept per hour of day (UTC), because the score and several features follow
the daily rhythm: a monitoring window shorter than a day (5,000 transactions are a few seconds
of production traffic) sees a few hours, and against whole days its PSI measured the hour, not
drift (up to 1.7 on unchanged night traffic). A window is compared with the mixture of the
hours it holds (:meth:`Bins.expected_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_model.monitoring.psi import bin_counts, bin_index

SCORE = "score"
"""The name the score's bins and PSI go by, beside the feature names."""
DEFAULT_BINS = 10
DEFAULT_TOP = 8
HOURS = 24
HOUR_MS = 3_600_000
HOUR_PRIOR_ROWS = 10.0
"""Pseudo-rows of the all-day shares added to each hour's, so an hour with few baseline rows
(night) does not get empty bins from sampling alone."""
CALENDAR = frozenset({"hour_of_day", "is_night", "is_weekend"})
"""Features whose distribution in a window depends on when the window is, not on drift: a
window shorter than a day sees a few hours, so their PSI against a baseline of whole days is
always large. They are never monitored."""


@dataclass(frozen=True)
class Bins:
    """Interior edges and the baseline's share per bin (``len(edges) + 2``: the NaN bin last)."""

    edges: np.ndarray
    expected: np.ndarray
    by_hour: np.ndarray | None = None
    """The shares per hour of day (``HOURS`` rows), or None: the same all day."""

    @classmethod
    def of(
        cls, values: np.ndarray, bins: int = DEFAULT_BINS, hours: np.ndarray | None = None
    ) -> Bins:
        """Quantile bins of ``values``; with ``hours`` (each value's hour of day, 0-23) the
        shares per hour too."""
        data = np.asarray(values, dtype=np.float64)
        finite = data[~np.isnan(data)]
        if finite.size == 0:
            edges = np.empty(0)
        else:
            quantiles = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
            # Edges strictly above the minimum: a bin below the smallest value would be empty.
            edges = np.unique(quantiles[quantiles > finite.min()])
        counts = bin_counts(data, edges)
        expected = counts / max(len(data), 1)
        if hours is None:
            return cls(edges, expected)
        hour = np.asarray(hours, dtype=np.int64)
        if hour.shape != data.shape or (hour.size and (hour.min() < 0 or hour.max() >= HOURS)):
            raise ValueError("one hour of day (0-23) per value")
        index = bin_index(data, edges)
        per_hour = np.zeros((HOURS, len(edges) + 2))
        np.add.at(per_hour, (hour, index), 1.0)
        totals = per_hour.sum(axis=1, keepdims=True)
        by_hour = (per_hour + HOUR_PRIOR_ROWS * expected) / (totals + HOUR_PRIOR_ROWS)
        return cls(edges, expected, by_hour)

    def expected_for(self, hour_counts: np.ndarray | None) -> np.ndarray:
        """The shares a window holding ``hour_counts`` transactions per hour of day should
        show: the mixture of those hours' shares (all-day shares without hours)."""
        if self.by_hour is None or hour_counts is None:
            return self.expected
        weights = np.asarray(hour_counts, dtype=np.float64)
        total = weights.sum()
        return self.expected if total <= 0 else weights @ self.by_hour / total

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"edges": self.edges.tolist(), "expected": self.expected.tolist()}
        if self.by_hour is not None:
            data["by_hour"] = np.round(self.by_hour, 6).tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bins:
        edges = np.asarray(data["edges"], dtype=np.float64)
        expected = np.asarray(data["expected"], dtype=np.float64)
        if expected.shape != (len(edges) + 2,) or np.any(np.diff(edges) <= 0):
            raise ValueError("bins need increasing edges and len(edges) + 2 shares")
        by_hour = None
        if data.get("by_hour") is not None:
            by_hour = np.asarray(data["by_hour"], dtype=np.float64)
            if by_hour.shape != (HOURS, len(expected)):
                raise ValueError(f"by_hour needs {HOURS} rows of len(edges) + 2 shares")
        return cls(edges, expected, by_hour)


@dataclass(frozen=True)
class Baseline:
    """Score and top-feature bins, plus the validation rates the live ones compare with."""

    score: Bins
    features: dict[str, Bins]
    rows: int
    alert_rate: float | None = None
    recall: float | None = None
    precision: float | None = None
    history_days: float | None = None
    """Days of history before the first baseline row (the features' warm-up in training). A
    stream whose state is younger sees colder cards than the baseline did, so its PSI says
    "cold start", not "drift"; None (older manifests): not known, never held."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "score": self.score.to_dict(),
            "features": {name: bins.to_dict() for name, bins in self.features.items()},
            "alert_rate": self.alert_rate,
            "recall": self.recall,
            "precision": self.precision,
            "history_days": self.history_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        return cls(
            score=Bins.from_dict(data["score"]),
            features={n: Bins.from_dict(b) for n, b in data.get("features", {}).items()},
            rows=int(data.get("rows", 0)),
            alert_rate=data.get("alert_rate"),
            recall=data.get("recall"),
            precision=data.get("precision"),
            history_days=data.get("history_days"),
        )

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> Baseline | None:
        """The manifest's baseline; None for a model trained before baselines existed."""
        data = manifest.get("monitoring")
        return cls.from_dict(data) if data else None


def top_features(gain: dict[str, float], names: list[str], top: int = DEFAULT_TOP) -> list[str]:
    """The ``top`` features by total gain (XGBoost ``get_score(importance_type="total_gain")``,
    which names features by name or as ``f<i>``), in the model's column order on ties;
    :data:`CALENDAR` features left out."""
    by_name = {(names[int(k[1:])] if k not in names else k): v for k, v in gain.items()}
    ranked = sorted(names, key=lambda n: (-by_name.get(n, 0.0), names.index(n)))
    return [n for n in ranked if by_name.get(n, 0.0) > 0 and n not in CALENDAR][:top]


def build_baseline(
    scores: np.ndarray,
    matrix: np.ndarray,
    names: list[str],
    features: list[str],
    *,
    bins: int = DEFAULT_BINS,
    alert_rate: float | None = None,
    recall: float | None = None,
    precision: float | None = None,
    history_days: float | None = None,
    event_ms: np.ndarray | None = None,
) -> Baseline:
    """The baseline of ``scores`` and of the ``features`` columns of ``matrix``; with the
    rows' ``event_ms``, per hour of day too."""
    if len(scores) != len(matrix):
        raise ValueError("one score per matrix row")
    hours = None if event_ms is None else (np.asarray(event_ms) // HOUR_MS) % HOURS
    columns = {name: names.index(name) for name in features}
    return Baseline(
        score=Bins.of(scores, bins, hours),
        features={name: Bins.of(matrix[:, i], bins, hours) for name, i in columns.items()},
        rows=len(scores),
        alert_rate=alert_rate,
        recall=recall,
        precision=precision,
        history_days=history_days,
    )
