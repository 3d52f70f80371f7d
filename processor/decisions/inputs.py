"""The columns the decision step reads, built from the feature matrix and the scores.

One function for the stream (:class:`processor.batch_sink.BatchSink`) and for rule backtests
over the lake (:mod:`processor.decisions.backtest`), so a rule reads the same values in both.
"""

from __future__ import annotations

import numpy as np

from ml_model.features import FEATURE_INDEX, FEATURE_NAMES, UNKNOWN
from processor.decisions import columns as C


def decision_inputs(matrix: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Every feature under its own name, then the rule columns of
    :mod:`processor.decisions.columns` (which win where a name is shared): unknown history
    becomes NaN, and the 10-minute count includes the transaction itself."""
    column = {name: matrix[:, FEATURE_INDEX[name]].astype(np.float64) for name in FEATURE_NAMES}
    mean_30d = np.where(column["card_count_30d"] > 0, column["card_mean_30d"], np.nan)
    speed = column["speed_from_previous_kmh"]
    return column | {
        C.SCORE: np.asarray(scores, dtype=np.float64),
        C.AMOUNT: column["amount"],
        C.CARD_MEAN_AMOUNT_30D: mean_30d,
        C.SPEED_KMH_FROM_PREV: np.where(speed == UNKNOWN, np.nan, speed),
        C.CARD_COUNT_10M: column["card_count_10m"] + 1,
    }
