"""The shadow challenger: a second model scores every transaction, deciding nothing.

A model is promoted on evidence from the traffic it would face, not from its own validation
week. With ``FRAUDSTREAM_CHALLENGER_MODEL_DIR`` set, the batch sink scores each batch's feature
matrix (the one the champion scored) with the challenger in-process and writes, per
transaction, both scores and versions and the champion's decision to the lake's
``shadow_scores`` table; ``fraudstream model compare`` measures the two on the labels that
arrive. In-process because the challenger's answer is never waited on by a decision: its cost
is one ``inplace_predict`` per batch and one more table commit (``benchmarks.shadow_cost``),
and a second endpoint would add a network call and a second failure path for nothing it
decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ml_model.artifact import ModelBundle, load_model

if TYPE_CHECKING:
    from fraudstream.settings import Settings


class ShadowScorer:
    """Scores batches with the challenger; refuses one trained on other features."""

    def __init__(self, challenger: ModelBundle, champion: ModelBundle) -> None:
        if challenger.feature_names != champion.feature_names:
            raise ValueError(
                f"challenger {challenger.version} was trained on other features than the "
                f"champion {champion.version}: it cannot score the same rows"
            )
        self.challenger = challenger
        self.champion_version = champion.version

    @classmethod
    def from_settings(cls, settings: Settings, champion: ModelBundle) -> ShadowScorer | None:
        """The challenger in ``settings.challenger_model_dir``; None when it is unset."""
        if settings.challenger_model_dir is None:
            return None
        return cls(load_model(settings.challenger_model_dir), champion)

    def rows(self, transactions: pa.Table, matrix: np.ndarray) -> pa.Table:
        """The ``shadow_scores`` rows of a batch's decided ``transactions`` (the lake rows the
        sink built: ids, card, event time, score, model version, decision) and their features."""
        n = transactions.num_rows
        scores = self.challenger.predict(matrix) if n else np.zeros(0)
        return pa.table(
            {
                "transaction_id": transactions["transaction_id"],
                "card_id": transactions["card_id"],
                "event_time": transactions["event_time"],
                "champion_version": transactions["model_version"],
                "champion_score": transactions["score"],
                "decision": transactions["decision"],
                "challenger_version": pa.array([self.challenger.version] * n, pa.string()),
                "challenger_score": pa.array(scores, pa.float64()),
            }
        )
