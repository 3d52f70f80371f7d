"""Scoring client: the endpoint first, the same artifact in-process when the endpoint fails."""

from ml_model.scoring.breaker import CircuitBreaker
from ml_model.scoring.client import ScoredBatch, ScoringClient
from ml_model.scoring.reasons import reason_codes

__all__ = ["CircuitBreaker", "ScoredBatch", "ScoringClient", "reason_codes"]
