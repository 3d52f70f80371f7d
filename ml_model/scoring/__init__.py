"""Scoring client: the endpoint first, the same artifact in-process when the endpoint fails.

The processor calls ``ScoringClient.from_settings(settings).score(batch)`` once per micro-batch
and turns scores into decisions with ``decide(scores, bundle.thresholds)``.
"""

from ml_model.scoring.breaker import CircuitBreaker
from ml_model.scoring.client import ScoredBatch, ScoringClient
from ml_model.scoring.reasons import feature_words, top_features
from ml_model.training.thresholds import Thresholds, decide

__all__ = [
    "CircuitBreaker",
    "ScoredBatch",
    "ScoringClient",
    "Thresholds",
    "decide",
    "feature_words",
    "top_features",
]
