"""Reason codes: the features that pushed a transaction's score up the most.

XGBoost's ``pred_contribs`` splits each prediction's log-odds into one contribution per feature
plus a bias (TreeSHAP); the largest positive contributions are the reasons, named in plain
words from the manifest's feature descriptions.
"""

from __future__ import annotations

import numpy as np

from ml_model.artifact import ModelBundle


def reason_codes(
    model: ModelBundle, matrix: np.ndarray, *, top: int = 3
) -> tuple[list[list[str]], list[list[str]]]:
    """(codes, plain words) per row: up to ``top`` features with a positive contribution."""
    if len(matrix) == 0:
        return [], []
    contributions = model.contributions(matrix)[:, :-1]  # last column is the bias
    names = model.feature_names
    words = model.manifest.get("feature_descriptions", {})
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    codes: list[list[str]] = []
    texts: list[list[str]] = []
    for row, picks in enumerate(order.tolist()):
        chosen = [names[k] for k in picks if contributions[row, k] > 0]
        codes.append(chosen)
        texts.append([words.get(name, name.replace("_", " ")) for name in chosen])
    return codes, texts
