"""The training baseline a model's manifest records, for drift monitoring in the stream.

At training time the validation rows (the most recent, out-of-sample slice) give the score's
distribution and the distributions of the model's most important features (by total gain),
each as quantile bins: interior edges plus the share of the baseline rows in each bin (the last
bin counts NaN). Features with mass points (``-1`` for unknown, zero counts) yield fewer
distinct edges; the shares are counted with the final edges, so they stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_model.monitoring.psi import bin_counts

SCORE = "score"
"""The name the score's bins and PSI go by, beside the feature names."""
DEFAULT_BINS = 10
DEFAULT_TOP = 8
CALENDAR = frozenset({"hour_of_day", "is_night", "is_weekend"})
"""Features whose distribution in a window depends on when the window is, not on drift: a
window shorter than a day sees a few hours, so their PSI against a baseline of whole days is
always large. They are never monitored."""


@dataclass(frozen=True)
class Bins:
    """Interior edges and the baseline's share per bin (``len(edges) + 2``: the NaN bin last)."""

    edges: np.ndarray
    expected: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, bins: int = DEFAULT_BINS) -> Bins:
        data = np.asarray(values, dtype=np.float64)
        finite = data[~np.isnan(data)]
        if finite.size == 0:
            edges = np.empty(0)
        else:
            quantiles = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
            # Edges strictly above the minimum: a bin below the smallest value would be empty.
            edges = np.unique(quantiles[quantiles > finite.min()])
        counts = bin_counts(data, edges)
        return cls(edges, counts / max(len(data), 1))

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": self.edges.tolist(), "expected": self.expected.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bins:
        edges = np.asarray(data["edges"], dtype=np.float64)
        expected = np.asarray(data["expected"], dtype=np.float64)
        if expected.shape != (len(edges) + 2,) or np.any(np.diff(edges) <= 0):
            raise ValueError("bins need increasing edges and len(edges) + 2 shares")
        return cls(edges, expected)


@dataclass(frozen=True)
class Baseline:
    """Score and top-feature bins, plus the validation rates the live ones compare with."""

    score: Bins
    features: dict[str, Bins]
    rows: int
    alert_rate: float | None = None
    recall: float | None = None
    precision: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "score": self.score.to_dict(),
            "features": {name: bins.to_dict() for name, bins in self.features.items()},
            "alert_rate": self.alert_rate,
            "recall": self.recall,
            "precision": self.precision,
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
) -> Baseline:
    """The baseline of ``scores`` and of the ``features`` columns of ``matrix``."""
    if len(scores) != len(matrix):
        raise ValueError("one score per matrix row")
    columns = {name: names.index(name) for name in features}
    return Baseline(
        score=Bins.of(scores, bins),
        features={name: Bins.of(matrix[:, i], bins) for name, i in columns.items()},
        rows=len(scores),
        alert_rate=alert_rate,
        recall=recall,
        precision=precision,
    )
