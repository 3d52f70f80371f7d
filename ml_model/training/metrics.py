"""Ranking metrics: AUC ROC, average precision and the handbook's card precision@k.

Definitions follow the handbook (and scikit-learn for AUC and AP) so our numbers compare with
its published table:

* AUC ROC: probability that a random fraud outranks a random genuine transaction (ties 1/2).
* Average precision: sum over distinct score thresholds, high to low, of the recall gained
  times the precision there (step-wise, no interpolation).
* Card precision@k: each day, drop cards already detected on earlier days, keep each card's
  highest score (a card is fraudulent that day if any of its transactions is), take the k
  highest-scoring cards and measure the share that are fraudulent; the fraudulent ones among
  them count as detected from then on. Average over days.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def auc_roc(labels: np.ndarray, scores: np.ndarray) -> float:
    y = np.asarray(labels, dtype=bool)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def precision_recall_curve(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, threshold) at every distinct score, from the highest down."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    true_pos = np.cumsum(y)[last]
    alerts = last + 1
    total = true_pos[-1] if len(true_pos) else 0
    precision = true_pos / alerts
    recall = true_pos / total if total else np.zeros_like(precision, dtype=np.float64)
    return precision, recall, s[last]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    if not np.asarray(labels, dtype=bool).any():
        return math.nan
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def card_precision_at_k(
    days: np.ndarray, cards: np.ndarray, labels: np.ndarray, scores: np.ndarray, k: int = 100
) -> tuple[float, list[float]]:
    """Mean daily card precision@k and the per-day values (see module docstring)."""
    frame = pd.DataFrame(
        {
            "day": np.asarray(days),
            "card": np.asarray(cards),
            "fraud": np.asarray(labels, dtype=bool),
            "score": np.asarray(scores, dtype=np.float64),
        }
    )
    detected: set[object] = set()
    per_day: list[float] = []
    for _, day in frame.groupby("day", sort=True):
        day = day[~day["card"].isin(detected)]
        per_card = day.groupby("card", sort=True).agg(
            score=("score", "max"), fraud=("fraud", "max")
        )
        top = per_card.sort_values("score", ascending=False, kind="mergesort").head(k)
        found = top.index[top["fraud"].to_numpy(dtype=bool)]
        per_day.append(len(found) / k)
        detected.update(found.tolist())
    return (float(np.mean(per_day)) if per_day else math.nan), per_day
