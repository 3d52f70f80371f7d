"""Metrics against hand-worked examples, and the threshold rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml_model.training.metrics import auc_roc, average_precision, card_precision_at_k
from ml_model.training.thresholds import (
    NEVER,
    Thresholds,
    choose_thresholds,
    decide,
    wilson_lower,
)


def test_auc_counts_ties_as_half() -> None:
    assert auc_roc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auc_roc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert math.isnan(auc_roc(np.array([0, 0]), np.array([0.1, 0.2])))


def test_average_precision_is_stepwise() -> None:
    # ranks: 0.8 (fraud) -> P=1 at R=.5; 0.4 (genuine); 0.35 (fraud) -> P=2/3 at R=1
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    assert average_precision(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # tied scores form one threshold
    assert average_precision(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5


def test_card_precision_drops_cards_detected_earlier() -> None:
    days = np.array([0, 0, 0, 1, 1, 1])
    cards = np.array(["a", "a", "b", "a", "b", "c"])
    labels = np.array([0, 1, 0, 1, 0, 1])
    scores = np.array([0.1, 0.9, 0.8, 0.95, 0.7, 0.2])
    # day 0: cards a (max .9, fraud) and b (.8, genuine); top-1 = a -> 1.0; a detected
    # day 1: a dropped; b (.7, genuine) beats c (.2, fraud) -> 0.0
    mean, per_day = card_precision_at_k(days, cards, labels, scores, k=1)
    assert per_day == [1.0, 0.0]
    assert mean == 0.5
    # k larger than the cards of a day: the denominator stays k (handbook definition)
    assert card_precision_at_k(days, cards, labels, scores, k=4)[1] == [0.25, 0.25]


def test_thresholds_follow_the_rule() -> None:
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(50, bool), np.zeros(9950, bool)]
    scores = np.r_[rng.uniform(0.6, 1.0, 50), rng.uniform(0.0, 0.7, 9950)]
    chosen = choose_thresholds(
        labels, scores, alert_rate=0.01, block_precision=0.9, confidence=None
    )
    blocked = scores >= chosen.block
    assert labels[blocked].mean() >= 0.9 and blocked.sum() >= 10
    # the next lower threshold would break the precision target
    lower = np.sort(scores[scores < chosen.block])[-1]
    assert labels[scores >= lower].mean() < 0.9 or (scores >= lower).sum() < 10
    assert chosen.review <= chosen.block
    queue = (scores >= chosen.review) & (scores < chosen.block)
    assert queue.mean() == pytest.approx(0.01, abs=0.002)
    assert list(decide(np.array([0.0, chosen.review, chosen.block]), chosen)) == [
        "approve",
        "review",
        "block",
    ]
    assert Thresholds.from_dict(chosen.to_dict()) == chosen


def test_the_block_threshold_keeps_a_margin_for_new_data() -> None:
    """With 95 % confidence the threshold is where the precision's lower bound reaches 90 %:
    higher than where the measured precision first does, never lower."""
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(300, bool), np.zeros(30_000, bool)]
    scores = np.r_[rng.beta(6, 2, 300), rng.beta(1, 40, 30_000)]
    exact = choose_thresholds(labels, scores, confidence=None)
    sure = choose_thresholds(labels, scores)
    assert sure.block > exact.block
    blocked = scores >= sure.block
    n, precision = blocked.sum(), labels[blocked].mean()
    assert wilson_lower(np.array([precision]), np.array([n]), 0.95)[0] >= 0.9
    assert precision > 0.9 and "with 95% confidence" in sure.rule
    assert "confidence" not in exact.rule
    # the bound of a perfect record still grows with its size
    assert wilson_lower(np.array([1.0, 1.0]), np.array([10, 100]), 0.95).tolist()[0] < 0.9
    with pytest.raises(ValueError, match="confidence"):
        choose_thresholds(labels, scores, confidence=1.0)


def test_unreachable_precision_never_blocks() -> None:
    labels = np.array([0, 1] * 50, dtype=bool)
    chosen = choose_thresholds(labels, np.full(100, 0.5), block_precision=0.99)
    assert chosen.block == NEVER > 1.0
    assert decide(np.array([1.0]), chosen)[0] != "block"
