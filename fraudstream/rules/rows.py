"""Labelled transactions as the decision step sees them: features, score, label, time, batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_model.features import FEATURE_COUNT


@dataclass(frozen=True)
class LabelledRows:
    """One row per transaction, as columns.

    ``matrix``: features in ``FEATURE_NAMES`` order; ``is_fraud``: 1.0 / 0.0, NaN where no
    label has arrived; ``batch``: the micro-batch that decided the row (the order in which the
    review budget saw it); ``model_versions``: the distinct models that scored them;
    ``anomaly``: the anomaly detector's scores (NaN where the signal was off), when known."""

    matrix: np.ndarray
    score: np.ndarray
    is_fraud: np.ndarray
    event_ms: np.ndarray
    batch: np.ndarray
    model_versions: tuple[str, ...]
    source: str
    anomaly: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.score)
        if self.matrix.shape != (n, FEATURE_COUNT):
            raise ValueError(f"matrix is {self.matrix.shape}, expected ({n}, {FEATURE_COUNT})")
        for name in ("is_fraud", "event_ms", "batch", "anomaly"):
            if getattr(self, name) is not None and len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.score)

    @property
    def span_ms(self) -> tuple[int, int] | None:
        """First and last event time, or None when there are no rows."""
        if not len(self):
            return None
        return int(self.event_ms.min()), int(self.event_ms.max())
