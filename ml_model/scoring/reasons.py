"""Reason codes: the features that pushed a transaction's score up the most.

XGBoost's ``pred_contribs`` splits each prediction's log-odds into one contribution per feature
plus a bias (each tree's path attribution, :meth:`ModelBundle.contributions`); the largest
positive contributions are the reasons. They are returned
as feature numbers, a matrix for the whole batch; the manifest's plain-word descriptions name
them (:func:`feature_words`).
"""

from __future__ import annotations

import numpy as np

from ml_model.artifact import ModelBundle


def top_features(model: ModelBundle, matrix: np.ndarray, *, top: int = 3) -> np.ndarray:
    """``[rows, top]`` feature numbers with the largest positive contributions, best first;
    ``-1`` where fewer than ``top`` features contributed positively."""
    if len(matrix) == 0 or top <= 0:
        return np.full((len(matrix), max(top, 0)), -1, dtype=np.int32)
    contributions = model.contributions(matrix)[:, :-1]  # last column is the bias
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    positive = np.take_along_axis(contributions, order, axis=1) > 0
    return np.where(positive, order, -1).astype(np.int32)


def feature_words(model: ModelBundle) -> list[str]:
    """Plain words for each of the model's features (its manifest's descriptions)."""
    words = model.manifest.get("feature_descriptions", {})
    return [words.get(name, name.replace("_", " ")) for name in model.feature_names]
