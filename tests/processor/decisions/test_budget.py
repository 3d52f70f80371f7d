import numpy as np
import pandas as pd
import pytest

from processor.decisions import parse_rules
from processor.decisions.budget import (
    BINS,
    HOUR_MS,
    HourlyScores,
    bin_floor,
    replay_cuts,
    review_candidates,
    score_bins,
    threshold,
)
from processor.decisions.config import BudgetPolicy

T0 = 1_800_000_000_000 // HOUR_MS * HOUR_MS
POLICY = BudgetPolicy(review_share=0.01, hours=3)


def traffic(hours: int, per_hour: int, candidate_share: float, seed: int = 0) -> pd.DataFrame:
    """Rows spread over ``hours`` event hours; ``candidate_share`` of them are review
    candidates with scores between 0.02 and 0.5 (the rest score low)."""
    rng = np.random.default_rng(seed)
    n = hours * per_hour
    candidate = rng.random(n) < candidate_share
    score = np.where(candidate, rng.uniform(0.02, 0.5, n), rng.uniform(0.0, 0.01, n))
    event_ms = T0 + np.repeat(np.arange(hours), per_hour) * HOUR_MS + rng.integers(0, HOUR_MS, n)
    return pd.DataFrame({"event_ms": event_ms, "score": score, "candidate": candidate})


def reviewed(frame: pd.DataFrame, cuts: np.ndarray) -> np.ndarray:
    return frame["candidate"].to_numpy() & (frame["score"].to_numpy() >= cuts)


def test_bins_are_monotonic_and_their_floors_bound_the_scores() -> None:
    scores = np.sort([0.0, 1e-9, 0.001, 0.02, 0.5, bin_floor(123), 0.97, 1.0])
    bins = score_bins(scores)
    assert (np.diff(bins) >= 0).all() and bins[0] == 0 and bins[-1] == BINS - 1
    for score, index in zip(scores[1:-1], bins[1:-1], strict=True):
        assert bin_floor(int(index)) <= score < bin_floor(int(index) + 1)
    assert bin_floor(0) == 0.0 and bin_floor(BINS) > 1.0


def test_threshold_keeps_the_top_of_the_histogram_within_the_share() -> None:
    counts = np.zeros(BINS, np.int64)
    counts[[100, 200, 300]] = [50, 30, 20]  # scores in three bins
    # the threshold sits just above the highest bin left out (no score lies in between)
    assert threshold(counts, total=10_000, share=0.002) == bin_floor(201)  # 20 of 20 allowed
    assert threshold(counts, total=10_000, share=0.0049) == bin_floor(201)  # 49: not 50
    assert threshold(counts, total=10_000, share=0.005) == bin_floor(101)  # 50 of 50
    assert threshold(counts, total=10_000, share=0.5) == 0.0  # everything fits
    assert threshold(counts, total=1_000, share=0.001) == bin_floor(301)  # not even the top


@pytest.mark.parametrize("candidate_share", [0.005, 0.03, 0.08])
def test_the_budget_holds_whatever_the_share_of_candidates(candidate_share: float) -> None:
    """Three, eight times more candidates than the budget: reviews stay within it, and the
    ones kept are the highest scores of their hours."""
    frame = traffic(hours=12, per_hour=2_000, candidate_share=candidate_share)
    cuts = HourlyScores().step(
        frame["event_ms"].to_numpy(), frame["score"].to_numpy(), frame["candidate"], POLICY
    )
    assert cuts is not None
    kept = reviewed(frame, cuts)
    assert kept.sum() <= POLICY.review_share * len(frame)
    if candidate_share > 2 * POLICY.review_share:
        assert kept.sum() >= 0.8 * POLICY.review_share * len(frame)  # the budget is used
        hour = frame["event_ms"].to_numpy() // HOUR_MS
        for h in np.unique(hour):
            rows = (hour == h) & frame["candidate"].to_numpy()
            scores = frame["score"].to_numpy()
            assert scores[rows & kept].min() >= scores[rows & ~kept].max()
    else:
        assert kept.sum() == frame["candidate"].sum()  # under budget: nothing held back


def test_batches_within_the_hours_leave_the_same_counts_as_one_batch() -> None:
    frame = traffic(hours=5, per_hour=1_000, candidate_share=0.05)
    whole = HourlyScores()
    whole.step(frame["event_ms"].to_numpy(), frame["score"].to_numpy(), frame["candidate"])
    parts = HourlyScores()
    shuffled = frame.sample(frac=1, random_state=1)
    for rows in np.array_split(np.arange(len(shuffled)), 7):
        chunk = shuffled.iloc[rows]
        parts.step(chunk["event_ms"].to_numpy(), chunk["score"].to_numpy(), chunk["candidate"])
    assert whole.to_arrow().equals(parts.to_arrow())
    restored = HourlyScores.from_arrow(parts.to_arrow())
    restored.step(np.array([T0]), np.array([0.3]), np.array([True]))  # writable after restore
    assert restored.totals.sum() == len(frame) + 1


def test_old_hours_are_dropped_and_rows_older_than_kept_are_not_counted() -> None:
    state = HourlyScores(keep_hours=4)
    hours = T0 + np.arange(10) * HOUR_MS
    state.step(hours, np.full(10, 0.1), np.ones(10, bool))
    assert state.hours.tolist() == [(T0 // HOUR_MS) + k for k in range(6, 10)]
    state.step(np.array([T0]), np.array([0.1]), np.array([True]))  # far too old
    assert state.totals.sum() == 4


def test_replayed_batches_give_the_thresholds_the_stream_gave() -> None:
    frame = traffic(hours=6, per_hour=500, candidate_share=0.04, seed=3)
    batch = np.arange(len(frame)) // 700
    live = HourlyScores()
    expected = np.concatenate(
        [
            live.step(
                frame["event_ms"].to_numpy()[batch == b],
                frame["score"].to_numpy()[batch == b],
                frame["candidate"].to_numpy()[batch == b],
                POLICY,
            )
            for b in np.unique(batch)
        ]
    )
    shuffled = np.random.default_rng(0).permutation(len(frame))
    got = replay_cuts(
        frame["event_ms"].to_numpy()[shuffled],
        frame["score"].to_numpy()[shuffled],
        frame["candidate"].to_numpy()[shuffled],
        batch[shuffled],
        POLICY,
    )
    assert np.array_equal(got[np.argsort(shuffled)], expected)
    nothing = np.zeros(0)
    assert replay_cuts(nothing, nothing, nothing.astype(bool), nothing, POLICY).size == 0


def test_candidates_are_score_reviews_below_the_block_score() -> None:
    config = parse_rules(
        """
version: 1
score:
  review: 0.1
  block: 0.8
  block_requires: [{column: card_count_30d, op: ">=", value: 3}]
"""
    )
    batch = {
        "score": np.array([0.05, 0.2, 0.9, 0.9, np.nan]),
        "card_count_30d": np.array([5.0, 5.0, 5.0, 0.0, 5.0]),
    }
    assert review_candidates(batch, config).tolist() == [False, True, False, False, False]
