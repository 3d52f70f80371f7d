"""An IsolationForest over the model's features: how unusual a transaction is, labels unseen.

The supervised model ranks fraud it has been shown; a pattern absent from its training labels
scores like genuine traffic unless it happens to share their signs. An isolation forest needs
no labels: it scores how few random splits isolate a row from the training population, so a
transaction unlike what cards and merchants usually do stands out whatever its label. It is a
*separate, reason-coded signal*: a share of the alert budget goes to the most anomalous rows
the model did not flag (:func:`combined_alerts` offline; the stream's review budget in
:mod:`processor.decisions.anomaly`), each with the reason "anomalous", so the analysts' queue
holds.

scikit-learn fits the forest; :mod:`ml_model.anomaly.compiled` then rewrites its trees as an
XGBoost model whose prediction is the rows' mean path length. That is what ships in the model
artifact and scores in the stream and in the study alike: a data format (no pickle) and
XGBoost's compiled predictor (a few µs a row; ``benchmarks/batch_sink.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_model.anomaly.compiled import compile_forest, path_scores

TAIL_POINTS = 65


def _rows(matrix: np.ndarray) -> np.ndarray:
    """float32 rows with NaN as the features' own "unknown" value (-1)."""
    return np.ascontiguousarray(np.nan_to_num(np.asarray(matrix, dtype=np.float32), nan=-1.0))


@dataclass(frozen=True)
class AnomalyDetector:
    """A compiled forest (an XGBoost booster) and the score at which a row counts as
    anomalous: the ``share`` quantile of its training rows' scores. ``tail``: quantiles of the
    training scores from the threshold up (evenly spaced in probability), which lets a budget
    rank the rows above the threshold evenly (:mod:`processor.decisions.anomaly`)."""

    booster: Any  # xgboost.Booster: mean path length / c(samples) per row
    threshold: float
    share: float = 0.003
    trees: int = 0
    max_samples: int = 0
    tail: tuple[float, ...] = ()

    @classmethod
    def fit(
        cls,
        matrix: np.ndarray,
        *,
        share: float = 0.003,
        trees: int = 100,
        max_samples: int = 256,
        seed: int = 7,
    ) -> AnomalyDetector:
        """Fit on training rows (labels unused); ``share`` of them score at or above the
        threshold."""
        from sklearn.ensemble import IsolationForest

        if not 0 < share < 1:
            raise ValueError("share must be between 0 and 1")
        rows = _rows(matrix)
        if len(rows) < 2:
            raise ValueError("an anomaly detector needs at least two training rows")
        forest = IsolationForest(
            n_estimators=trees,
            max_samples=min(max_samples, len(rows)),
            random_state=seed,
            n_jobs=1,
        ).fit(rows)
        booster = compile_forest(forest, rows.shape[1])
        scores = path_scores(booster, rows)
        threshold = float(np.quantile(scores, 1 - share))
        tail = np.quantile(scores[scores >= threshold], np.linspace(0, 1, TAIL_POINTS))
        return cls(
            booster,
            threshold,
            share,
            trees,
            int(forest.max_samples_),
            tuple(float(v) for v in np.maximum.accumulate(tail)),
        )

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Anomaly per row in (0, 1): higher is more unusual (the forest's negated
        ``score_samples``)."""
        if len(matrix) == 0:
            return np.zeros(0)
        return path_scores(self.booster, _rows(matrix))

    def anomalous(self, matrix: np.ndarray) -> np.ndarray:
        return self.score(matrix) >= self.threshold

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the threshold the stream and the study share."""
        return {
            "threshold": self.threshold,
            "share": self.share,
            "trees": self.trees,
            "max_samples": self.max_samples,
            "tail": list(self.tail),
        }


def top_share(values: np.ndarray, count: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Mask of the ``count`` highest ``values`` (among ``allowed`` rows), ties by position."""
    mask = np.zeros(len(values), dtype=bool)
    candidates = np.flatnonzero(allowed) if allowed is not None else np.arange(len(values))
    if count <= 0 or candidates.size == 0:
        return mask
    order = candidates[np.argsort(-values[candidates], kind="stable")]
    mask[order[:count]] = True
    return mask


def combined_alerts(
    model_scores: np.ndarray, anomaly_scores: np.ndarray, budget: int, anomaly_budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """(alerted by the model, alerted by the anomaly signal) within one alert budget: the model
    takes its ``budget - anomaly_budget`` highest scores, the anomaly signal the
    ``anomaly_budget`` most anomalous rows the model left."""
    if not 0 <= anomaly_budget <= budget:
        raise ValueError("the anomaly budget is a part of the alert budget")
    by_model = top_share(np.asarray(model_scores), budget - anomaly_budget)
    by_anomaly = top_share(np.asarray(anomaly_scores), anomaly_budget, ~by_model)
    return by_model, by_anomaly
