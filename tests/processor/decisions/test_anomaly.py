"""The anomaly signal's decisions: which approved rows are candidates, how its part of the
budget rations them, and how "anomalous" joins the reasons."""

import numpy as np
import pyarrow as pa
import pytest
import yaml

from processor.decisions.anomaly import (
    ANOMALOUS,
    anomaly_candidates,
    budget_rank,
    flagged,
    review_anomalous,
)
from processor.decisions.budget import HOUR_MS, HourlyScores
from processor.decisions.config import BudgetPolicy
from processor.decisions.engine import Decided

APPROVE, REVIEW, BLOCK = 0, 1, 2


def test_candidates_are_approved_rows_at_or_above_the_threshold() -> None:
    severity = np.array([APPROVE, APPROVE, REVIEW, BLOCK, APPROVE, APPROVE], np.int8)
    anomaly = np.array([0.70, 0.60, 0.90, 0.90, np.nan, 0.65])
    assert anomaly_candidates(severity, anomaly, 0.65).tolist() == [
        True,
        False,  # below the threshold
        False,  # already reviewed by something else
        False,
        False,  # no anomaly score: never
        True,  # at the threshold
    ]


def test_the_budget_cut_keeps_the_most_unusual_candidates() -> None:
    candidates = np.array([True, True, True, False])
    anomaly = np.array([0.7, 0.8, 0.9, 0.95])
    assert flagged(candidates, anomaly, None).tolist() == [True, True, True, False]
    cut = np.full(4, 0.75)
    assert flagged(candidates, anomaly, cut).tolist() == [False, True, True, False]


def test_anomalous_rows_are_reviewed_with_the_reason_appended() -> None:
    reasons = pa.array([["rule_a"], [], ["rule_b", "x"], [], []], pa.list_(pa.string()))
    decided = Decided(np.array([REVIEW, APPROVE, BLOCK, APPROVE, APPROVE], np.int8), reasons)
    rows = np.array([False, True, False, False, True])
    out = review_anomalous(decided, rows)
    assert out.severity.tolist() == [REVIEW, REVIEW, BLOCK, APPROVE, REVIEW]
    assert out.reasons.to_pylist() == [["rule_a"], [ANOMALOUS], ["rule_b", "x"], [], [ANOMALOUS]]
    # a slice of a larger list column (offsets not from 0) is rebuilt the same way
    sliced = Decided(decided.severity[2:], reasons.slice(2))
    again = review_anomalous(sliced, rows[2:])
    assert again.reasons.to_pylist() == [["rule_b", "x"], [], [ANOMALOUS]]
    assert review_anomalous(decided, np.zeros(5, bool)) is decided


def test_the_budget_is_shared_out_only_when_the_signal_is_on() -> None:
    policy = BudgetPolicy(review_share=0.02, anomaly_part=0.25)
    assert policy.split(False) == (policy, None)
    model, anomaly = policy.split(True)
    assert anomaly is not None
    assert model.review_share == pytest.approx(0.015)
    assert anomaly.review_share == pytest.approx(0.005)
    assert model.hours == anomaly.hours == policy.hours
    with pytest.raises(ValueError, match="anomaly_part"):
        BudgetPolicy(review_share=0.02, anomaly_part=1.0)


def test_the_rank_spreads_the_scores_above_the_threshold() -> None:
    values = np.array([0.3, 0.6, 0.61, 0.7, 0.99, 1.0, np.nan])
    for tail in ((), (0.6, 0.62, 0.65, 0.7)):
        rank = budget_rank(values, 0.6, tail)
        assert rank[0] == rank[1] < 1e-4 and rank[5] > 1 - 1e-4
        assert (np.diff(rank[:6]) > -1e-12).all() and np.isnan(rank[6])
    # the training tail's quantiles land evenly over 95 % of the range
    logit = np.log(rank / (1 - rank))
    assert logit[3] == pytest.approx(-10 + 20 * 0.95)


@pytest.mark.parametrize("rate", [0.003, 0.1, 0.5])
def test_the_anomaly_part_holds_however_many_rows_look_unusual(rate: float) -> None:
    rng = np.random.default_rng(3)
    training = rng.gamma(2.0, 0.02, 100_000) + 0.45  # crowded, with a long tail
    threshold = float(np.quantile(training, 1 - 0.003))
    tail = np.quantile(training[training >= threshold], np.linspace(0, 1, 65))
    n = 20_000  # one event hour; ``rate`` of the rows look unusual (drift makes many do)
    event_ms = np.full(n, 400_000 * HOUR_MS)
    anomaly = np.where(
        rng.random(n) < rate, rng.choice(training[training >= threshold], n), threshold - 0.01
    )
    candidates = anomaly >= threshold
    rank = budget_rank(anomaly, threshold, tuple(tail))
    _, part = BudgetPolicy(review_share=0.015, anomaly_part=0.1).split(True)
    cut = HourlyScores().step(event_ms, rank, candidates, part)
    kept = flagged(candidates, rank, cut)
    allowed = 0.0015 * n
    assert kept.sum() <= allowed
    assert kept.sum() >= min(0.3 * allowed, candidates.sum())  # and much of it used
    if kept.any():
        assert anomaly[kept].min() >= anomaly[candidates & ~kept].max()  # the most unusual


def test_a_backtest_replays_the_anomaly_part_as_the_stream_counted_it() -> None:
    from processor.decisions import parse_rules
    from processor.decisions.backtest import AnomalySignal, anomaly_reviews

    rng = np.random.default_rng(5)
    n = 4_000
    event_ms = 400_000 * HOUR_MS + np.sort(rng.integers(0, 2 * HOUR_MS, n))
    batch = np.arange(n) // 500
    anomaly = rng.uniform(0.4, 0.8, n)
    severity = np.where(rng.random(n) < 0.02, REVIEW, APPROVE).astype(np.int8)
    signal = AnomalySignal(anomaly, 0.7)
    budget = {"review_share": 0.02, "hours": 1, "anomaly_part": 0.25}
    score = {"review": 0.5, "block": 0.9}
    config = parse_rules(yaml.safe_dump({"version": 1, "score": score, "budget": budget}))
    reviewed = anomaly_reviews(severity, signal, config, event_ms, batch)
    # what the stream does, batch by batch, with the sink's state
    state, expected = HourlyScores(), np.zeros(n, bool)
    _, part = config.budget.split(True) if config.budget else (None, None)
    for b in np.unique(batch):
        rows = batch == b
        candidates = anomaly_candidates(severity[rows], anomaly[rows], 0.7)
        rank = budget_rank(anomaly[rows], 0.7)
        cut = state.step(event_ms[rows], rank, candidates, part)
        expected[rows] = flagged(candidates, rank, cut)
    assert reviewed.any() and np.array_equal(reviewed, expected)
    assert not (reviewed & (severity == REVIEW)).any()
    unbudgeted = parse_rules(yaml.safe_dump({"version": 1, "score": score}))
    everything = anomaly_reviews(severity, signal, unbudgeted, event_ms, batch)
    assert np.array_equal(everything, (severity == APPROVE) & (anomaly >= 0.7))
